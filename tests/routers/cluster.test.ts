import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterRouter, sphericalKmeans } from "../../lib/routers/cluster";
import { normalizeRows } from "../../lib/routers/knn";
import type { RoutingTask } from "../../lib/routers/types";
import { createRng } from "../../lib/util/random";

/** Points around `k` well separated unit centres (exactly one non-zero block each), with their true cluster. */
function planted(n: number, k: number, dim: number, seed: number): { X: Float32Array; truth: Int32Array } {
  const rng = createRng(seed);
  const X = new Float32Array(n * dim);
  const truth = new Int32Array(n);
  const block = Math.floor(dim / k);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    truth[i] = c;
    for (let d = 0; d < dim; d++)
      X[i * dim + d] = (d >= c * block && d < (c + 1) * block ? 1 : 0) + 0.05 * rng.normal();
  }
  return { X: normalizeRows({ data: X, rows: n, dim }), truth };
}

describe("cluster router", () => {
  it("seeded spherical k-means++ recovers planted clusters, and the same seed gives the same centroids", () => {
    const { X, truth } = planted(200, 5, 40, 1);
    const a = sphericalKmeans(X, 200, 40, 5, 20, 7);
    // one found cluster per planted cluster (a bijection)
    const map = new Map<number, number>();
    truth.forEach((t, i) => {
      const got = a.assign[i]!;
      if (!map.has(t)) map.set(t, got);
      assert.equal(map.get(t), got, `point ${i} of planted cluster ${t}`);
    });
    assert.equal(new Set(map.values()).size, 5);
    assert.deepEqual(sphericalKmeans(X, 200, 40, 5, 20, 7), a);
  });

  it("scores each query with its cluster's smoothed mean quality per model; predict trades quality for cost by λ", async () => {
    const { X, truth } = planted(120, 3, 30, 2);
    const M = 2;
    const quality = new Float64Array(120 * M);
    const cost = new Float64Array(120 * M);
    // model 0 (cheap) is right in cluster 0 only; model 1 (dear) everywhere but once in cluster 2
    truth.forEach((c, i) => {
      quality[i * M] = c === 0 ? 1 : 0;
      quality[i * M + 1] = c === 2 && i === 2 ? 0 : 1;
      cost[i * M] = 1e-6;
      cost[i * M + 1] = 1e-3;
    });
    const task: RoutingTask = {
      kind: "multi",
      models: ["cheap", "dear"],
      labels: Int32Array.from(truth, (c) => (c === 0 ? 0 : 1)),
      quality,
      cost,
    };
    const q = { X: { data: X, rows: 120, dim: 30 } };
    const r = new ClusterRouter({ k: 3, smoothing: 0 });
    await r.fit(q, task);
    const s = r.score(q);
    const size2 = truth.filter((c) => c === 2).length;
    truth.forEach((c, i) => {
      assert.equal(s.perModel[i * M], c === 0 ? 1 : 0);
      assert.ok(Math.abs(s.perModel[i * M + 1]! - (c === 2 ? Math.fround((size2 - 1) / size2) : 1)) < 1e-7);
    });
    // λ unset: best quality, ties to the cheaper model (cluster 0: both 1 -> cheap)
    assert.deepEqual(
      r.predict(q),
      Array.from(truth, (c) => (c === 0 ? "cheap" : "dear")),
    );
    // λ = 0: cost only
    const cheapOnly = new ClusterRouter({ k: 3, smoothing: 0, lambda: 0 });
    await cheapOnly.fit(q, task);
    assert.ok(cheapOnly.predict(q).every((m) => m === "cheap"));
    // smoothing pulls small-cluster means towards the model's overall mean
    const smooth = new ClusterRouter({ k: 3, smoothing: 10 });
    await smooth.fit(q, task);
    const i0 = truth.indexOf(0);
    assert.ok(smooth.score(q).perModel[i0 * M]! < 1 && smooth.score(q).perModel[i0 * M]! > 1 / 3);
  });
});
