import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bundledPaths } from "../../lib/data/bundled";
import { loadSimpleQa } from "../../lib/data/simpleqa";
import { splitSimpleQa } from "../../lib/data/simpleqa-split";
import { normalizeQuery } from "../../lib/data/split";

describe("splitSimpleQa", () => {
  const rows = loadSimpleQa(bundledPaths().simpleqa).rows;

  it("partitions the 4,326 questions with no normalised question on both sides, per seed", () => {
    const a = splitSimpleQa(rows, { seed: 7, testFraction: 0.2 });
    assert.equal(a.train.length + a.test.length, rows.length);
    const trainKeys = new Set(a.train.map((r) => normalizeQuery(r.problem)));
    assert.equal(a.test.filter((r) => trainKeys.has(normalizeQuery(r.problem))).length, 0);
    assert.ok(
      Math.abs(a.test.length / rows.length - 0.2) < 0.01,
      `test share ${a.test.length / rows.length}`,
    );
    const b = splitSimpleQa(rows, { seed: 7, testFraction: 0.2 });
    assert.deepEqual(
      b.test.map((r) => r.id),
      a.test.map((r) => r.id),
    );
    const c = splitSimpleQa(rows, { seed: 8, testFraction: 0.2 });
    assert.notDeepEqual(
      c.test.map((r) => r.id),
      a.test.map((r) => r.id),
    );
  });

  it("covers every topic on both sides when stratified", () => {
    const s = splitSimpleQa(rows, { seed: 1, testFraction: 0.2 });
    const topics = new Set(rows.map((r) => r.topic));
    assert.deepEqual(new Set(s.test.map((r) => r.topic)), topics);
    assert.deepEqual(new Set(s.train.map((r) => r.topic)), topics);
  });
});
