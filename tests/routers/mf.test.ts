import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { buildPairs, MfRouter } from "../../lib/routers/mf";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import { torchForwardMany, torchMfSteps } from "../peers/torch-peer";
import type { RouterState, RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { createRng } from "../../lib/util/random";
import { accuracy, clusters, randomProbes, subset } from "./nn-helpers";

const MODELS = ["openai/gpt-4o", "openai/gpt-4o-mini", "mistral/mixtral-8x7b"];

/** Quality: on cluster c model c answers well (1), the others mostly badly; 10% label noise. */
function qualityTask(labels: Int32Array, seed: number): RoutingTask {
  const rng = createRng(seed);
  const M = MODELS.length;
  const quality = new Float64Array(labels.length * M);
  labels.forEach((c, r) => {
    for (let m = 0; m < M; m++) quality[r * M + m] = m === c ? 1 : rng.next() < 0.1 ? 1 : 0;
  });
  return { kind: "multi", models: MODELS, labels, quality };
}

describe("MF router", () => {
  it("builds (winner, loser) pairs from quality, skipping ties and missing values", () => {
    const quality = Float64Array.from([1, 0, 0.5, 0.3, 0.3, NaN]);
    const task: RoutingTask = { kind: "multi", models: MODELS, labels: Int32Array.from([0, 0]), quality };
    const p = buildPairs(task, 2, "skip");
    assert.deepEqual(Array.from(p.q), [0, 0, 0]);
    assert.deepEqual(Array.from(p.win), [0, 0, 2]);
    assert.deepEqual(Array.from(p.lose), [1, 2, 1]);
    const half = buildPairs(task, 2, "half");
    assert.deepEqual(Array.from(half.target), [1, 1, 1, 0.5]);
    const bin = buildPairs(
      { kind: "binary", models: ["w", "s"], labels: Int32Array.from([1, 0]) },
      2,
      "skip",
    );
    assert.deepEqual(
      [Array.from(bin.win), Array.from(bin.lose)],
      [
        [1, 0],
        [0, 1],
      ],
    );
    const multi = buildPairs({ kind: "multi", models: MODELS, labels: Int32Array.from([2]) }, 1, "skip");
    assert.deepEqual(
      [Array.from(multi.win), Array.from(multi.lose)],
      [
        [2, 2],
        [0, 1],
      ],
    );
  });

  it("learns which model wins on which queries and reports per-epoch metrics", async () => {
    const { X, labels } = clusters(700, 32, 3, 21);
    const task = qualityTask(labels.slice(0, 500), 1);
    const r = new MfRouter({ latentDim: 16, learningRate: 0.01, epochs: 8, seed: 2 });
    const epochs: number[] = [];
    await r.fit({ X: subset(X, 0, 500) }, task, { onEpoch: (m) => epochs.push(m.epoch) });
    assert.deepEqual(epochs, [1, 2, 3, 4, 5, 6, 7, 8]);
    const h = r.history;
    assert.ok(h[7]!.loss < h[0]!.loss, "training loss decreases");
    assert.ok(h[7]!.val_accuracy! > 0.8, `val pair accuracy ${h[7]!.val_accuracy}`);
    const acc = accuracy(await r.predict({ X: subset(X, 500, 700) }), labels.slice(500, 700), MODELS);
    assert.ok(acc > 0.85, `held-out accuracy ${acc}`);
  });

  it("scores equal PyTorch with the same weights (multi, binary, a zero row of P; 384-d, latent 128)", async () => {
    const { X, labels } = clusters(150, 384, 3, 4);
    const multi = new MfRouter({ epochs: 1, seed: 5 });
    await multi.fit({ X }, qualityTask(labels, 3));
    const binLabels = Int32Array.from(labels, (l) => (l === 0 ? 1 : 0));
    const bin = new MfRouter({ epochs: 2, seed: 6, learningRate: 0.01 });
    await bin.fit({ X }, { kind: "binary", models: ["weak/m", "strong/m"], labels: binLabels });
    // A zero row exercises the max(‖P_m‖, 1e-12) clamp.
    const s = multi.state();
    const P = s.tensors["P.weight"]!;
    const zeroed: RouterState = {
      ...s,
      tensors: {
        ...s.tensors,
        "P.weight": { shape: P.shape, data: P.data.map((v, i) => (i < 128 ? 0 : v)) },
      },
    };
    const zero = MfRouter.fromState(zeroed);
    const probes = randomProbes(50, 384, 8);
    const routers = [multi, bin, zero];
    const torch = torchForwardMany(routers.map((r) => ({ state: r.state(), probes })));
    routers.forEach((r, k) => {
      const ours = r.deltas(probes);
      let worst = 0;
      torch[k]!.values.forEach((row, i) =>
        row.forEach((v, m) => (worst = Math.max(worst, Math.abs(ours[i * row.length + m]! - v)))),
      );
      assert.ok(worst < 1e-5, `router ${k}: max |diff| ${worst}`);
      const idx = r.companion().idx_to_model as Record<string, string>;
      assert.deepEqual(
        r.predict({ X: probes }),
        torch[k]!.argmax.map((i) => idx[String(i)]),
      );
    });
    const sc = await bin.score({ X: probes });
    torch[1]!.values.forEach((row, i) => {
      const p = 1 / (1 + Math.exp(-(row[1]! - row[0]!)));
      assert.ok(Math.abs(sc.strongProbability![i]! - p) < 1e-5);
      assert.equal(bin.predict({ X: probes })[i], sc.strongProbability![i]! > 0.5 ? "strong/m" : "weak/m");
    });
  });

  for (const engine of ["ort", "js", "tfjs"] as const)
    it(`training maths equal PyTorch (${engine} engine): 3 full-batch Adam steps with weight decay from the same weights`, async () => {
      const { X, labels } = clusters(30, 16, 3, 31);
      const task = qualityTask(labels, 7);
      const rng = createRng(77);
      const rand = (n: number, scale: number): Float32Array =>
        Float32Array.from({ length: n }, () => rng.normal() * scale);
      const init = {
        "P.weight": rand(3 * 8, 1),
        "text_proj.weight": rand(8 * 16, 0.25),
        "classifier.weight": rand(8, 0.3),
      };
      const hp = { learningRate: 0.01, weightDecay: 0.05 };
      const r = new MfRouter({
        ...hp,
        engine,
        latentDim: 8,
        noise: 0,
        batchSize: 10_000,
        epochs: 3,
        validationFraction: 0,
      });
      await r.fit({ X }, task, { initialTensors: init });
      const initState: RouterState = {
        kind: "mf",
        hyperparameters: {},
        meta: { num_models: 3, latent_dim: 8, text_dim: 16 },
        tensors: {
          "P.weight": { shape: [3, 8], data: init["P.weight"] },
          "text_proj.weight": { shape: [8, 16], data: init["text_proj.weight"] },
          "classifier.weight": { shape: [1, 8], data: init["classifier.weight"] },
        },
      };
      const torch = torchMfSteps(initState, X, buildPairs(task, X.rows, "skip"), { steps: 3, ...hp });
      const ours = r.state().tensors;
      for (const key of Object.keys(init) as (keyof typeof init)[]) {
        const t = torch[key]!;
        let worst = 0;
        let moved = 0;
        t.forEach((v, i) => {
          worst = Math.max(worst, Math.abs(ours[key]!.data[i]! - v));
          moved = Math.max(moved, Math.abs(init[key][i]! - v));
        });
        assert.ok(moved > 1e-3, `${key} moved in training (${moved})`);
        assert.ok(worst < 1e-5, `${key}: max |diff| vs torch ${worst}`);
      }
    });

  it("the ort and js engines train the same model (mini-batches, noise, validation split)", async () => {
    const { X, labels } = clusters(300, 48, 3, 21);
    const task = qualityTask(labels, 9);
    const fit = async (engine: "ort" | "js"): Promise<MfRouter> => {
      const r = new MfRouter({
        engine,
        latentDim: 16,
        epochs: 3,
        batchSize: 32,
        learningRate: 0.01,
        seed: 4,
      });
      await r.fit({ X }, task);
      return r;
    };
    const [a, b] = [await fit("ort"), await fit("js")];
    for (const [key, t] of Object.entries(a.state().tensors)) {
      let worst = 0;
      t.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b.state().tensors[key]!.data[i]!))));
      assert.ok(worst < 1e-4, `${key}: max |ort - js| ${worst}`);
    }
    assert.deepEqual(
      a.history.map((h) => h.loss.toFixed(5)),
      b.history.map((h) => h.loss.toFixed(5)),
    );
    assert.equal(a.state().meta.backend, "ort");
  });

  it("same config and seed give the same model bytes twice; state round-trips", async () => {
    const { X, labels } = clusters(200, 32, 3, 12);
    const task = qualityTask(labels, 5);
    const dir = mkdtempSync(path.join(os.tmpdir(), "mf-det-"));
    try {
      const save = async (
        seed: number,
        name: string,
      ): Promise<{ bin: Buffer; json: string; r: MfRouter }> => {
        const r = new MfRouter({ latentDim: 8, epochs: 2, seed });
        await r.fit({ X }, task);
        const files = saveRouterState(r.state(), path.join(dir, name));
        return { bin: readFileSync(files.bin), json: files.json, r };
      };
      const a = await save(9, "a");
      const b = await save(9, "b");
      const c = await save(10, "c");
      assert.ok(a.bin.equals(b.bin), "same seed, same bytes");
      assert.ok(!a.bin.equals(c.bin), "another seed, other bytes");
      const back = MfRouter.fromState(loadRouterState(a.json));
      assert.deepEqual(await back.predict({ X }), await a.r.predict({ X }));
      assert.deepEqual(back.companion(), a.r.companion());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("bad input fails before training", () => {
    const { X, labels } = clusters(40, 8, 3, 1);
    const cases: [string, () => Promise<void>, RegExp][] = [
      [
        "empty set",
        () =>
          new MfRouter().fit(
            { X: { data: new Float32Array(0), rows: 0, dim: 8 } },
            qualityTask(new Int32Array(0), 1),
          ),
        /empty/,
      ],
      [
        "NaN in embeddings",
        () => {
          const d = X.data.slice();
          d[9] = NaN;
          return new MfRouter().fit({ X: { ...X, data: d } }, qualityTask(labels, 1));
        },
        /non-finite value NaN at row 1, column 1/,
      ],
      [
        "dimension mismatch",
        () => new MfRouter({ inputDim: 384 }).fit({ X }, qualityTask(labels, 1)),
        /expected 384/,
      ],
      [
        "single class",
        () => new MfRouter().fit({ X }, { kind: "multi", models: MODELS, labels: new Int32Array(40) }),
        /single class \('openai\/gpt-4o'\)/,
      ],
      [
        "no pairs (all ties)",
        () =>
          new MfRouter().fit(
            { X },
            {
              kind: "multi",
              models: MODELS,
              labels,
              quality: new Float64Array(40 * 3).fill(0.5),
            },
          ),
        /no \(winner, loser\) pairs/,
      ],
      [
        "quality of the wrong size",
        () =>
          new MfRouter().fit({ X }, { kind: "multi", models: MODELS, labels, quality: new Float64Array(7) }),
        /quality has 7 values/,
      ],
    ];
    for (const [name, run, re] of cases) {
      it(name, async () => {
        await assert.rejects(run, (e: unknown) => e instanceof RouterlabError && re.test(e.message));
      });
    }
  });
});
