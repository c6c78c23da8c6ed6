import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupKnnRouter } from "../../lib/routers/group-knn";
import type { Queries, RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { createRng } from "../../lib/util/random";
import { clustered } from "./helpers";

const MODELS = ["a", "b", "c"];
const GROUPS = ["math", "code", "trivia"];

function sample(n: number, seed: number): { q: Queries; task: RoutingTask } {
  const { X, labels } = clustered(n, 16, 5, 3, seed, 0.6);
  const rng = createRng(seed + 1);
  const groups = Array.from({ length: n }, () => GROUPS[rng.int(GROUPS.length)]!);
  const quality = Float64Array.from({ length: n * 3 }, () => rng.next());
  return { q: { X, groups }, task: { kind: "multi", models: MODELS, labels, quality } };
}

/** The definition, brute force in float64: smoothed group mean + w x mean residual of the k most cosine-similar rows. */
function reference(
  train: ReturnType<typeof sample>,
  test: Queries,
  k: number,
  w: number,
  s: number,
): number[] {
  const M = 3;
  const X = train.q.X;
  const quality = train.task.quality!;
  const n = X.rows;
  const mean = (rows: number[], m: number) => rows.reduce((a, i) => a + quality[i * M + m]!, 0) / rows.length;
  const all = Array.from({ length: n }, (_, i) => i);
  const prior = (g: string | undefined, m: number): number => {
    const rows = all.filter((i) => train.q.groups![i] === g);
    const overall = mean(all, m);
    return rows.length === 0 ? overall : (rows.length * mean(rows, m) + s * overall) / (rows.length + s);
  };
  const unit = (Y: Float32Array, i: number, dim: number): number[] => {
    const v = Array.from(Y.subarray(i * dim, (i + 1) * dim));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const out: number[] = [];
  for (let t = 0; t < test.X.rows; t++) {
    const u = unit(test.X.data, t, X.dim);
    const sims = all.map((i) => ({ i, s: unit(X.data, i, X.dim).reduce((a, x, d) => a + x * u[d]!, 0) }));
    const nb = sims.sort((a, b) => b.s - a.s || a.i - b.i).slice(0, k);
    for (let m = 0; m < M; m++) {
      const r = nb.reduce((a, { i }) => a + quality[i * M + m]! - prior(train.q.groups![i], m), 0) / k;
      out.push(prior(test.groups?.[t], m) + w * r);
    }
  }
  return out;
}

test("group-knn scores are the group prior plus the weighted neighbour residual (brute-force reference)", async () => {
  const train = sample(120, 3);
  const test = sample(20, 4);
  for (const [k, w, s] of [
    [7, 0.5, 1],
    [1, 0, 0],
    [30, 1, 3],
  ] as const) {
    const r = new GroupKnnRouter({ k, residualWeight: w, smoothing: s });
    await r.fit(train.q, train.task);
    const got = (await r.score(test.q)).perModel;
    const want = reference(train, test.q, k, w, s);
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `k ${k} w ${w}: ${v} vs ${want[i]}`));
  }
});

test("group-knn: an unseen or missing group gets the overall mean as its prior; binary tasks are refused", async () => {
  const train = sample(60, 5);
  const r = new GroupKnnRouter({ k: 5, residualWeight: 0 });
  await r.fit(train.q, train.task);
  const X = { data: train.q.X.data.slice(0, 32), rows: 2, dim: 16 };
  const unseen = (await r.score({ X, groups: ["poetry", "poetry"] })).perModel;
  const none = (await r.score({ X })).perModel;
  for (let m = 0; m < 3; m++) {
    let mean = 0;
    for (let i = 0; i < 60; i++) mean += train.task.quality![i * 3 + m]! / 60;
    assert.ok(Math.abs(unseen[m]! - mean) < 1e-6 && Math.abs(none[3 + m]! - mean) < 1e-6);
  }
  const binary: RoutingTask = { kind: "binary", models: ["a", "b"], labels: train.task.labels };
  await assert.rejects(new GroupKnnRouter().fit(train.q, binary), RouterlabError);
});
