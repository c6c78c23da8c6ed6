import assert from "node:assert/strict";
import { test } from "node:test";
import type { RoutingData } from "../../lib/data/routing";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { crossValidateMulti } from "../../lib/pipeline/multi-cv";
import { createRng } from "../../lib/util/random";

/**
 * Three models, cheap to expensive: the cheap one answers well exactly when the query's first coordinate is
 * positive, the middle one never, the expensive one always. A router that reads the embedding can send half the
 * queries to the cheap model; one that cannot (the per-model mean over nearly all neighbours) cannot.
 */
function signalData(n: number) {
  const D = 8;
  const rng = createRng(5);
  const X = new Float32Array(n * D);
  const quality = new Float64Array(n * 3);
  const cost = new Float64Array(n * 3);
  for (let q = 0; q < n; q++) {
    for (let d = 0; d < D; d++) X[q * D + d] = rng.normal();
    quality.set([X[q * D]! > 0 ? 1 : 0, 0, 1], q * 3);
    cost.set([1e-6, 1e-5, 1e-4], q * 3);
  }
  const data: RoutingData = {
    name: "signal",
    queryIds: Array.from({ length: n }, (_, q) => `q${q}`),
    queries: Array.from({ length: n }, (_, q) => `query ${q}`),
    models: ["cheap", "middle", "strong"],
    quality,
    cost,
    groups: Array.from({ length: n }, (_, q) => (q % 2 ? "odd" : "even")),
  };
  return { data, X: { data: X, rows: n, dim: D } };
}

test("crossValidateMulti picks the candidate that reads the embedding, per fold, deterministically", async () => {
  const { data, X } = signalData(240);
  const run = () =>
    crossValidateMulti({
      data,
      X,
      candidates: [
        { name: "blind", kind: "knn", hyperparameters: { k: 150, weights: "uniform" } },
        { name: "informed", kind: "knn", hyperparameters: { k: 7, weights: "uniform" } },
      ],
      folds: 3,
      lambdas: 20,
      embeddingSpec: { ...GATEWAY_EMBEDDING, dim: 8, weightsSha256: "synthetic" },
      seed: 3,
    });
  const r = await run();
  assert.equal(r.best.name, "informed");
  assert.equal(r.zeroFoldAiq.length, 3);
  for (const c of r.candidates) {
    assert.equal(c.foldAiq.length, 3);
    assert.ok(c.foldAiq.every(Number.isFinite), `${c.name}: finite AIQ on every fold`);
    const mean = c.foldAiq.reduce((a, b) => a + b, 0) / 3;
    assert.ok(Math.abs(c.meanAiq - mean) < 1e-12);
  }
  const [blind, informed] = r.candidates;
  for (let f = 0; f < 3; f++) {
    assert.ok(informed!.foldAiq[f]! > r.zeroFoldAiq[f]! + 0.05, `fold ${f}: informed beats the Zero router`);
    assert.ok(informed!.foldAiq[f]! > blind!.foldAiq[f]!, `fold ${f}: informed beats blind`);
  }
  assert.deepEqual(await run(), r, "same seed, same figures");
});
