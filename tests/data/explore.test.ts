import assert from "node:assert/strict";
import { test } from "node:test";
import {
  countBy,
  explorationFigures,
  modelStats,
  queryLengthStats,
  winTieLoss,
} from "../../lib/data/explore";
import { perModelSummary } from "../../lib/data/frame";
import type { RoutingData } from "../../lib/data/routing";

const d: RoutingData = {
  name: "toy",
  queryIds: ["a", "b", "c", "d"],
  queries: ["x", "yy", "zzz", "wwww"],
  models: ["m1", "m2", "m3"],
  // rows: a, b, c, d; columns m1, m2, m3
  quality: Float64Array.from([1, 0, 1, 0, 0, NaN, 1, 1, 0, 0.5, 1, 1]),
  cost: Float64Array.from([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, NaN]),
  groups: ["g1", "g1", "g2", "g1"],
};

test("modelStats and the polars perModelSummary agree, skipping NaN", () => {
  const s = modelStats(d);
  assert.deepEqual(
    s.map((x) => [x.model, x.meanQuality, x.observed]),
    [
      ["m1", 0.625, 4],
      ["m2", 0.5, 4],
      ["m3", 2 / 3, 3],
    ],
  );
  assert.equal(s[2]!.meanCost, 3);
  const p = perModelSummary(d);
  for (let j = 0; j < 3; j++) {
    assert.ok(Math.abs(p[j]!.meanQuality - s[j]!.meanQuality) < 1e-12);
    assert.equal(p[j]!.n, s[j]!.observed);
  }
});

test("winTieLoss counts only queries both models answered", () => {
  const w = winTieLoss(d);
  const m1m2 = w.find((x) => x.a === "m1" && x.b === "m2")!;
  assert.deepEqual([m1m2.win, m1m2.tie, m1m2.loss], [1, 2, 1]);
  const m2m1 = w.find((x) => x.a === "m2" && x.b === "m1")!;
  assert.deepEqual([m2m1.win, m2m1.tie, m2m1.loss], [1, 2, 1]);
  const m1m3 = w.find((x) => x.a === "m1" && x.b === "m3")!;
  assert.equal(m1m3.win + m1m3.tie + m1m3.loss, 3);
  assert.equal(w.length, 6);
});

test("length stats, counts and the figure list", () => {
  assert.deepEqual(queryLengthStats(d.queries), { n: 4, mean: 2.5, p50: 3, p90: 4, max: 4 });
  assert.deepEqual(countBy(d.groups!), [
    { key: "g1", count: 3 },
    { key: "g2", count: 1 },
  ]);
  const figs = explorationFigures([d], [{ topic: "Art", answerType: "Date" }]);
  // accuracy, cost, win/tie/loss heatmap, lengths, groups, topics, answer types
  assert.equal(figs.length, 7);
  assert.equal(figs[2]!.data[0]!.type, "heatmap");
});
