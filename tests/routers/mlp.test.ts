import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { MlpRouter } from "../../lib/routers/mlp";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import { torchForwardMany, torchMlpSteps } from "../peers/torch-peer";
import { createRng } from "../../lib/util/random";
import type { RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { accuracy, clusters, randomProbes, subset } from "./nn-helpers";

const ENGINES = ["ort", "js", "tfjs"] as const;

const MODELS = ["openai/gpt-4o", "openai/gpt-4o-mini", "mistral/mixtral-8x7b"];

function multiTask(labels: Int32Array): RoutingTask {
  return { kind: "multi", models: MODELS, labels };
}

function maxAbsDiff(a: ArrayLike<number>, b: readonly (readonly number[])[]): number {
  let worst = 0;
  const cols = b[0]!.length;
  b.forEach((row, r) => row.forEach((v, c) => (worst = Math.max(worst, Math.abs(a[r * cols + c]! - v)))));
  return worst;
}

/** The two engines trained the same model: every tensor and every epoch's loss within 1e-5. */
function assertSameTraining(ort: MlpRouter, js: MlpRouter): void {
  for (const [key, t] of Object.entries(ort.state().tensors)) {
    const other = js.state().tensors[key]!.data;
    let worst = 0;
    t.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[i]!))));
    assert.ok(worst < 1e-5, `${key}: ort vs js max |diff| ${worst}`);
  }
  assert.equal(ort.history.length, js.history.length);
  ort.history.forEach((h, i) => assert.ok(Math.abs(h.loss - js.history[i]!.loss) < 1e-5));
}

describe("MLP router", () => {
  it("learns separable clusters and reports per-epoch metrics", async () => {
    const { X, labels } = clusters(700, 24, 3, 1);
    const train = subset(X, 0, 500);
    const test = subset(X, 500, 700);
    const r = new MlpRouter({ hiddenLayerSizes: [32, 16], epochs: 15, batchSize: 32, seed: 3 });
    const seen: number[] = [];
    await r.fit({ X: train }, multiTask(labels.slice(0, 500)), { onEpoch: (m) => seen.push(m.epoch) });
    assert.ok(seen.length >= 2, "onEpoch called per epoch");
    assert.deepEqual(
      seen,
      r.history.map((h) => h.epoch),
    );
    const h = r.history;
    assert.ok(h[h.length - 1]!.loss < h[0]!.loss, "training loss decreases");
    assert.ok(h.every((e) => e.val_loss !== null && e.val_accuracy !== null));
    const acc = accuracy(await r.predict({ X: test }), labels.slice(500, 700), MODELS);
    assert.ok(acc > 0.9, `held-out accuracy ${acc}`);
    const s = await r.score({ X: test });
    assert.equal(s.perModel.length, 200 * 3);
    const rowSum = s.perModel[0]! + s.perModel[1]! + s.perModel[2]!;
    assert.ok(Math.abs(rowSum - 1) < 1e-9);
  });

  it("forward passes equal PyTorch with the same weights (every activation, 384-d; binary with threshold)", async () => {
    const { X, labels } = clusters(120, 384, 3, 7);
    const probes = randomProbes(40, 384, 99);
    const routers: MlpRouter[] = [];
    for (const activation of ["relu", "tanh", "logistic", "identity"] as const) {
      const r = new MlpRouter({ hiddenLayerSizes: [128, 64], activation, epochs: 2, seed: 11 });
      await r.fit({ X }, multiTask(labels));
      routers.push(r);
    }
    const single = new MlpRouter({ hiddenLayerSizes: [], epochs: 2, seed: 11 });
    await single.fit({ X }, multiTask(labels));
    routers.push(single);
    const bin = new MlpRouter({ hiddenLayerSizes: [16], epochs: 5, threshold: 0.7, seed: 1 });
    const binLabels = Int32Array.from(labels, (l) => (l === 0 ? 1 : 0));
    await bin.fit({ X }, { kind: "binary", models: ["weak/m", "strong/m"], labels: binLabels });
    routers.push(bin);
    const torch = torchForwardMany(routers.map((r) => ({ state: r.state(), probes })));
    routers.forEach((r, k) => {
      const diff = maxAbsDiff(r.logits(probes), torch[k]!.values);
      assert.ok(diff < 1e-5, `router ${k}: max |diff| ${diff}`);
      const idx = r.companion().idx_to_model as Record<string, string>;
      assert.deepEqual(
        r.predict({ X: probes }),
        torch[k]!.argmax.map((i) => idx[String(i)]),
      );
    });
    // Binary: strong at index 0, and the baked threshold makes the argmax equal "P(strong) >= 0.7".
    assert.deepEqual(bin.companion().idx_to_model, { "0": "strong/m", "1": "weak/m" });
    const s = await bin.score({ X: probes });
    const pred = await bin.predict({ X: probes });
    const z = bin.logits(probes);
    for (let i = 0; i < probes.rows; i++) {
      const p = s.strongProbability![i]!;
      if (Math.abs(p - 0.7) > 1e-6)
        assert.equal(pred[i], p >= 0.7 ? "strong/m" : "weak/m", `row ${i}: p=${p}`);
      assert.ok(Math.abs(s.perModel[i * 2 + 1]! - p) < 1e-12);
      // the logits hold the shift: σ(z_s − z_w) = σ(logit(p) − ln(0.7/0.3))
      const shifted = 1 / (1 + Math.exp(-(z[2 * i]! - z[2 * i + 1]!)));
      const expected = 1 / (1 + Math.exp(-(Math.log(p / (1 - p)) - Math.log(0.7 / 0.3))));
      assert.ok(Math.abs(shifted - expected) < 1e-9);
    }
  });

  // 12 -> 6 runs every product in TypeScript; 384 -> 128 puts the first layer's products on onnxruntime (ort).
  for (const engine of ENGINES)
    for (const [dim, hidden, activation] of [
      [12, 6, "tanh"],
      [384, 128, "relu"],
    ] as const)
      it(`training maths equal PyTorch (${engine} engine, ${dim} -> ${hidden} ${activation}): 3 full-batch Adam steps of class-weighted CE from the same weights`, async () => {
        const { X, labels } = clusters(80, dim, 3, 41);
        const rng = createRng(5);
        const rand = (n: number, scale: number): Float32Array =>
          Float32Array.from({ length: n }, () => rng.normal() * scale);
        const init: Record<string, Float32Array> = {
          "layers.0.weight": rand(hidden * dim, 0.3 / Math.sqrt(dim / 12)),
          "layers.0.bias": rand(hidden, 0.1),
          "layers.1.weight": rand(3 * hidden, 0.4),
          "layers.1.bias": rand(3, 0.1),
        };
        const classWeight = { "openai/gpt-4o": 2, "mistral/mixtral-8x7b": 0.5 };
        const r = new MlpRouter({
          hiddenLayerSizes: [hidden],
          activation,
          learningRate: 0.01,
          batchSize: 1000,
          epochs: 3,
          engine,
          validationFraction: 0,
          classWeight,
        });
        await r.fit({ X }, multiTask(labels), { initialTensors: init });
        const initState = {
          ...r.state(),
          tensors: Object.fromEntries(
            Object.entries(r.state().tensors).map(([k, t]) => [k, { shape: t.shape, data: init[k]! }]),
          ),
        };
        const torch = torchMlpSteps(initState, X, labels, {
          steps: 3,
          learningRate: 0.01,
          classWeight: [2, 1, 0.5],
        });
        for (const [key, t] of Object.entries(r.state().tensors)) {
          let worst = 0;
          let moved = 0;
          torch[key]!.forEach((v, i) => {
            worst = Math.max(worst, Math.abs(t.data[i]! - v));
            moved = Math.max(moved, Math.abs(init[key]![i]! - v));
          });
          assert.ok(moved > 1e-3, `${key} moved (${moved})`);
          assert.ok(worst < 1e-5, `${key}: max |diff| vs torch ${worst}`);
        }
      });

  for (const engine of ENGINES)
    it(`same config and seed give the same model bytes twice (${engine} engine)`, async () => {
      // 384 -> 128: the ort engine's first-layer products run on onnxruntime
      const { X, labels } = clusters(300, 384, 3, 2);
      const dir = mkdtempSync(path.join(os.tmpdir(), "mlp-det-"));
      const save = async (seed: number, name: string): Promise<Buffer> => {
        const r = new MlpRouter({
          hiddenLayerSizes: [128],
          epochs: 3,
          seed,
          classWeight: "balanced",
          engine,
        });
        await r.fit({ X }, multiTask(labels));
        return readFileSync(saveRouterState(r.state(), path.join(dir, name)).bin);
      };
      try {
        const a = await save(42, "a");
        const b = await save(42, "b");
        const c = await save(43, "c");
        assert.ok(a.length > 0 && a.equals(b), "same seed, same bytes");
        assert.ok(!a.equals(c), "another seed, other bytes");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

  it("the ort and js engines train the same model (mini-batches, a partial last batch, validation split)", async () => {
    // 384 -> 128 puts the first layer's products on onnxruntime in the ort engine.
    const { X, labels } = clusters(330, 384, 3, 12);
    const fit = async (engine: "ort" | "js"): Promise<MlpRouter> => {
      const r = new MlpRouter({ hiddenLayerSizes: [128, 64], epochs: 4, batchSize: 64, seed: 4, engine });
      await r.fit({ X }, multiTask(labels));
      return r;
    };
    const ort = await fit("ort");
    const js = await fit("js");
    assert.equal(ort.state().meta.backend, "ort");
    assert.equal(js.state().meta.backend, "js");
    assert.equal(ort.history.length, 4);
    assertSameTraining(ort, js);
  });

  for (const activation of ["tanh", "logistic", "identity"] as const)
    it(`the ort step graph and the js engine train the same model (${activation}, two hidden layers)`, async () => {
      const { X, labels } = clusters(150, 24, 3, 21);
      const fit = async (engine: "ort" | "js"): Promise<MlpRouter> => {
        const r = new MlpRouter({
          hiddenLayerSizes: [16, 8],
          activation,
          epochs: 3,
          batchSize: 32,
          seed: 9,
          classWeight: "balanced",
          engine,
        });
        await r.fit({ X }, multiTask(labels));
        return r;
      };
      const ort = await fit("ort");
      const js = await fit("js");
      assertSameTraining(ort, js);
      assert.ok(ort.history[2]!.loss < ort.history[0]!.loss, "the loss went down");
    });

  it("the ort step graph and the js engine train the same per-model quality head (NaN-masked quality)", async () => {
    const { X, labels } = clusters(150, 24, 3, 23);
    // observed quality per model: 1 for the cluster's own model, 0.3 elsewhere, every seventh entry missing
    const quality = Float64Array.from({ length: 150 * 3 }, (_, i) =>
      i % 7 === 0 ? NaN : Math.floor(i / 3) % 3 === i % 3 ? 1 : 0.3,
    );
    const fit = async (engine: "ort" | "js"): Promise<MlpRouter> => {
      const r = new MlpRouter({ hiddenLayerSizes: [16], epochs: 3, batchSize: 32, seed: 5, engine });
      await r.fit({ X }, { ...multiTask(labels), quality });
      return r;
    };
    const ort = await fit("ort");
    const js = await fit("js");
    assert.equal(ort.state().meta.head, "quality");
    assertSameTraining(ort, js);
    assert.ok(ort.history[2]!.loss < ort.history[0]!.loss, "the loss went down");
  });

  it("early stopping restores the best epoch when val loss stops improving", async () => {
    const { X } = clusters(300, 64, 3, 8);
    const noise = Int32Array.from({ length: 300 }, (_, i) => (i * 7919) % 3);
    const r = new MlpRouter({
      hiddenLayerSizes: [128],
      epochs: 60,
      patience: 2,
      validationFraction: 0.3,
      learningRate: 0.01,
      seed: 1,
    });
    await r.fit({ X }, multiTask(noise));
    const h = r.history;
    assert.ok(h.length < 60, `stopped after ${h.length} epochs`);
    const best = Math.min(...h.map((e) => e.val_loss!));
    assert.equal(h.length - 1 - h.findIndex((e) => e.val_loss === best), 2);
  });

  it("state round-trips through the model file with identical predictions", async () => {
    const { X, labels } = clusters(200, 16, 3, 9);
    const r = new MlpRouter({ hiddenLayerSizes: [8, 8], activation: "tanh", epochs: 3 });
    await r.fit({ X }, multiTask(labels));
    const dir = mkdtempSync(path.join(os.tmpdir(), "mlp-rt-"));
    try {
      const files = saveRouterState(r.state(), path.join(dir, "m"));
      const back = MlpRouter.fromState(loadRouterState(files.json));
      assert.deepEqual(await back.predict({ X }), await r.predict({ X }));
      assert.deepEqual(Array.from(back.logits(X)), Array.from(r.logits(X)));
      assert.deepEqual(back.companion(), r.companion());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("bad input fails before training", () => {
    const { X, labels } = clusters(50, 8, 3, 1);
    const cases: [string, () => Promise<void>, RegExp][] = [
      [
        "empty set",
        () =>
          new MlpRouter().fit(
            { X: { data: new Float32Array(0), rows: 0, dim: 8 } },
            multiTask(new Int32Array(0)),
          ),
        /empty/,
      ],
      [
        "NaN in embeddings",
        () => {
          const d = X.data.slice();
          d[17] = NaN;
          return new MlpRouter().fit({ X: { ...X, data: d } }, multiTask(labels));
        },
        /non-finite value NaN at row 2, column 1/,
      ],
      [
        "dimension mismatch",
        () => new MlpRouter({ inputDim: 384 }).fit({ X }, multiTask(labels)),
        /dimension mismatch: got 8, expected 384/,
      ],
      [
        "single class",
        () => new MlpRouter().fit({ X }, multiTask(new Int32Array(50).fill(1))),
        /single class \('openai\/gpt-4o-mini'\)/,
      ],
      [
        "label out of range",
        () => new MlpRouter().fit({ X }, multiTask(new Int32Array(50).fill(5))),
        /out of range/,
      ],
      [
        "label count",
        () => new MlpRouter().fit({ X }, multiTask(labels.slice(0, 10))),
        /50 embedding rows but 10 labels/,
      ],
      [
        "unknown model name in class weights",
        () => new MlpRouter({ classWeight: { "openai/gpt-5": 2 } }).fit({ X }, multiTask(labels)),
        /unknown model 'openai\/gpt-5'/,
      ],
    ];
    for (const [name, run, re] of cases) {
      it(name, async () => {
        await assert.rejects(run, (e: unknown) => e instanceof RouterlabError && re.test(e.message));
      });
    }
    it("predict on a different dimension", async () => {
      const r = new MlpRouter({ hiddenLayerSizes: [4], epochs: 1 });
      await r.fit({ X }, multiTask(labels));
      await assert.rejects(
        async () => await r.predict({ X: randomProbes(2, 9, 1) }),
        /dimension mismatch: got 9, the router was fitted on 8/,
      );
    });
  });
});
