import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { exportRouterState } from "../../lib/export/export-router";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import type { KnnRouter } from "../../lib/routers/knn";
import { numpyPairwiseSum } from "../../lib/routers/knn";
import { DotsKernel } from "../../lib/routers/native/dots-wasm";
import { saveRouterState } from "../../lib/routers/model-file";
import { createRouter, loadRouter } from "../../lib/routers/registry";
import { runSklearnPeer } from "../peers/sklearn-peer";
import type { RoutingTask } from "../../lib/routers/types";
import { venvPython } from "../../lib/util/paths";
import { clustered } from "./helpers";

const dir = mkdtempSync(path.join(tmpdir(), "routerlab-knn-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function multiTask(labels: Int32Array, m: number): RoutingTask {
  return { kind: "multi", models: Array.from({ length: m }, (_, i) => `model-${i}`), labels };
}

function sub(X: EmbeddingMatrix, from: number, to: number): EmbeddingMatrix {
  return { data: X.data.slice(from * X.dim, to * X.dim), rows: to - from, dim: X.dim };
}

async function knn(hp: Record<string, unknown>, X: EmbeddingMatrix, task: RoutingTask): Promise<KnnRouter> {
  const r = createRouter("knn", hp) as KnnRouter;
  await r.fit({ X }, task);
  return r;
}

function indices(pred: string[]): number[] {
  return pred.map((p) => Number(p.slice("model-".length)));
}

/** Our KNN and scikit-learn's, fitted on the same rows: the onnx and js prediction paths both give sklearn's. */
async function assertSklearnParity(
  k: number,
  weights: "uniform" | "distance",
  train: EmbeddingMatrix,
  task: RoutingTask,
  test: EmbeddingMatrix,
  what?: string,
): Promise<void> {
  const r = await knn({ k, weights }, train, task);
  const sk = runSklearnPeer({
    estimator: "knn",
    params: { n_neighbors: k, weights },
    train,
    labels: task.labels,
    test,
  });
  const ours = indices(await r.predict({ X: test }));
  assert.deepEqual(ours, Array.from(sk.pred), what);
  assert.deepEqual(Array.from(r.vote(r.kneighborsJs(test)).pred), ours, what);
}

describe("knn: parity with scikit-learn KNeighborsClassifier(algorithm='brute', metric='cosine')", () => {
  const { X, labels } = clustered(900, 32, 12, 3, 42, 0.9);
  const train = sub(X, 0, 700);
  const test = sub(X, 700, 900);
  const task = multiTask(labels.slice(0, 700), 3);
  for (const weights of ["uniform", "distance"] as const) {
    for (const k of [1, 10]) {
      it(`clustered data, k=${k}, weights=${weights}: js and onnx paths equal sklearn`, async () => {
        await assertSklearnParity(k, weights, train, task, test);
      });
    }
  }

  it("ties: duplicated points, equal distances and equal vote sums go to the smallest class", async () => {
    // Training points: 4 directions, each duplicated with labels that split the votes evenly.
    const dirs = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [-1, 0, 0],
    ];
    const rows: number[][] = [];
    const lab: number[] = [];
    dirs.forEach((d, i) => {
      rows.push(d, d);
      lab.push(i % 2 === 0 ? 2 : 1, i % 2 === 0 ? 1 : 2);
    });
    const train: EmbeddingMatrix = { data: Float32Array.from(rows.flat()), rows: rows.length, dim: 3 };
    const queries = [
      [1, 0, 0], // zero distance to two points of classes 2 and 1
      [1, 1, 0], // equidistant to the 4 points of directions 0 and 1
      [1, 1, 1], // equidistant to 6 points
      [0, 0, -1], // equidistant to all 8 (distance 1, one tie group)
    ];
    const test: EmbeddingMatrix = { data: Float32Array.from(queries.flat()), rows: queries.length, dim: 3 };
    const task = multiTask(Int32Array.from(lab), 3);
    for (const weights of ["uniform", "distance"] as const) {
      for (const k of [2, 4, 8])
        await assertSklearnParity(k, weights, train, task, test, `k=${k} weights=${weights}`);
    }
  });
});

describe("knn: behaviour", () => {
  const { X, labels } = clustered(300, 16, 6, 2, 5);
  const task: RoutingTask = { kind: "binary", models: ["weak", "strong"], labels };

  it("binary: P(strong) is the strong vote share; save/load keeps decisions and bytes are deterministic", async () => {
    const r = await knn({ k: 7 }, X, task);
    const s = await r.score({ X });
    const pred = await r.predict({ X });
    pred.forEach((p, i) => assert.equal(p === "strong", s.strongProbability![i]! > 0.5));
    const a = saveRouterState(r.state(), path.join(dir, "a"));
    const r2 = await knn({ k: 7 }, X, task);
    const b = saveRouterState(r2.state(), path.join(dir, "b"));
    assert.deepEqual(readFileSync(a.bin), readFileSync(b.bin));
    const back = loadRouter(a.json);
    assert.deepEqual(await back.predict({ X }), pred);
  });

  for (const dim of [24, 64])
    it(`ivf index (dim ${dim}: ${dim % 16 === 0 ? "WebAssembly SIMD" : "scalar"} kernel): high agreement with exact search, and it survives save/load`, async () => {
      const big = clustered(3000, dim, 40, 2, 9, 0.6);
      const t: RoutingTask = { kind: "binary", models: ["weak", "strong"], labels: big.labels };
      const exact = await knn({ k: 10 }, big.X, t);
      const approx = await knn({ k: 10, index: { type: "ivf", nlist: 30, nprobe: 6, seed: 1 } }, big.X, t);
      const q = sub(big.X, 0, 300);
      const e = await exact.predict({ X: q });
      const a = await approx.predict({ X: q });
      const agree = e.filter((x, i) => x === a[i]).length / e.length;
      assert.ok(agree >= 0.97, `agreement ${agree}`);
      const p = saveRouterState(approx.state(), path.join(dir, `ivf${dim}`));
      assert.deepEqual(await loadRouter(p.json).predict({ X: q }), a);
      // probing every list is exact
      assert.deepEqual(approx.vote(approx.kneighborsAnn(q, 30)).pred, exact.vote(exact.kneighborsJs(q)).pred);
    });

  it("k larger than the training set is capped at its rows, logged once, and saved and exported as the k in use", async () => {
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (
      logged.push(String(chunk)),
      true
    )) as typeof write;
    let capped: KnnRouter;
    try {
      capped = await knn({ k: 400 }, X, task);
      await knn({ k: 400 }, sub(X, 0, 200), { ...task, labels: task.labels.slice(0, 200) });
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(
      logged.filter((l) => l.startsWith("knn:")),
      ["knn: k = 400 exceeds the 300 training rows; using k = 300 (logged once)\n"],
    );
    const all = await knn({ k: 300 }, X, task);
    const q = sub(X, 0, 50);
    assert.deepEqual(await capped.score({ X: q }), await all.score({ X: q }));
    assert.equal(capped.kneighborsJs(q).k, 300);
    const state = capped.state();
    assert.equal(state.hyperparameters.k, 300);
    const p = saveRouterState(state, path.join(dir, "capped"));
    assert.deepEqual(await loadRouter(p.json).predict({ X: q }), await all.predict({ X: q }));
  });

  it("a capped k exports as the k in use: the gateway's loader of the pickle decides like routerlab", async () => {
    const g = clustered(60, GATEWAY_EMBEDDING.dim, 4, 2, 8);
    const models = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-20241022"] as const;
    const capped = await knn({ k: 100 }, g.X, { kind: "binary", models, labels: g.labels });
    const probes = clustered(30, GATEWAY_EMBEDDING.dim, 4, 2, 9).X;
    const out = path.join(dir, "capped-export");
    process.env.ROUTERLAB_EXPORT_PYTHON = venvPython();
    try {
      const res = await exportRouterState(capped.state(), {
        outDir: out,
        evalX: probes,
        gatewayModels: {
          model_list: models.map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
        },
        embeddingSpec: { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) },
      });
      assert.deepEqual(
        gatewayDecisions(res.kind, path.join(out, res.served), probes),
        await capped.predict({ X: probes }),
      );
    } finally {
      delete process.env.ROUTERLAB_EXPORT_PYTHON;
    }
  });

  it("bad input: dimension mismatch, NaN, single class", async () => {
    const r = await knn({ k: 3 }, X, task);
    await assert.rejects(
      async () => await r.predict({ X: { data: new Float32Array(8), rows: 1, dim: 8 } }),
      /dimension mismatch: got 8, the router was fitted on 16/,
    );
    const bad = X.data.slice();
    bad[5] = NaN;
    await assert.rejects(knn({ k: 3 }, { ...X, data: bad }, task), /non-finite value NaN at row 0, column 5/);
    await assert.rejects(
      knn({ k: 3 }, X, { ...task, labels: new Int32Array(300) }),
      /single class \('weak'\)/,
    );
    assert.throws(() => createRouter("knn", { k: 0 }), /field 'k'/);
  });

  it("numpy pairwise sum matches the 8-accumulator order", () => {
    const a = Float64Array.from({ length: 20 }, (_, i) => 1 / (i + 1));
    let r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[j]!);
    for (let i = 8; i < 16; i += 8) r = r.map((x, j) => x + a[i + j]!);
    let expected = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (let i = 16; i < 20; i++) expected += a[i]!;
    assert.equal(numpyPairwiseSum(a, 0, 20), expected);
  });

  it("the WebAssembly SIMD dot kernel equals a float64 loop (dims 16, 384; from a row offset; zero rows)", () => {
    for (const dim of [16, 384]) {
      const n = 37;
      const k = DotsKernel.create(dim + n * dim + n);
      assert.ok(k, "WebAssembly SIMD is available on Node 20");
      const q = k.alloc(dim);
      const base = k.alloc(n * dim);
      const out = k.alloc(n);
      q.forEach((_, i) => (q[i] = Math.sin(i + 1)));
      base.forEach((_, i) => (base[i] = Math.cos(i * 0.37)));
      k.dots(q, base, 5, n - 5, dim, out);
      for (let r = 5; r < n; r++) {
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[d]! * base[r * dim + d]!;
        assert.ok(Math.abs(out[r - 5]! - s) <= 1e-5 * (1 + Math.abs(s)), `row ${r}: ${out[r - 5]} vs ${s}`);
      }
      out.fill(7);
      k.dots(q, base, 0, 0, dim, out);
      assert.equal(out[0], 7, "n = 0 writes nothing");
    }
  });
});
