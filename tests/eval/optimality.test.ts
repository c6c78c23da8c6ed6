import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { oracleGap, oracleGapOf, routerArenaOptimality } from "../../lib/eval/optimality";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

/** n queries × M models: 0/1 correctness, costs on a coarse grid (ties between models happen), one choice each. */
const caseArb = fc.integer({ min: 1, max: 5 }).chain((M) =>
  fc
    .array(
      fc.record({
        y: fc.array(fc.constantFrom(0, 1), { minLength: M, maxLength: M }),
        c: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: M, maxLength: M }),
        m: fc.integer({ min: 0, max: M - 1 }),
      }),
      { minLength: 1, maxLength: 40 },
    )
    .map((rows) => ({ M, rows })),
);

test("RouterArena optimality and the oracle gap, by their definitions (query by query, brute force)", () => {
  fc.assert(
    fc.property(caseArb, ({ M, rows }) => {
      const chosen = rows.map((r) => r.m);
      const quality = rows.flatMap((r) => r.y);
      const cost = rows.flatMap((r) => r.c.map((v) => v / 1000));
      const got = routerArenaOptimality(chosen, quality, cost, M);
      // the optimal models of a query: correct ones whose cost no correct model undercuts
      const scored = rows.filter((r) => r.y.includes(1));
      const optimal = (r: (typeof rows)[number]) =>
        r.y.map((y, k) => y === 1 && r.c.every((ck, j) => r.y[j] === 0 || ck >= r.c[k]!));
      assert.equal(got.nWithOptimal, scored.length);
      if (scored.length === 0) {
        assert.equal(got.optimalSelection, null);
        assert.equal(got.optimalCost, null);
      } else {
        const hits = scored.filter((r) => optimal(r)[r.m]).length;
        assert.ok(Math.abs(got.optimalSelection! - hits / scored.length) < 1e-12);
        const ratio =
          scored.reduce((a, r) => a + Math.min(...r.c.filter((_, k) => r.y[k] === 1)) / r.c[r.m]!, 0) /
          scored.length;
        assert.ok(Math.abs(got.optimalCost! - ratio) < 1e-12);
        // choosing an optimal model everywhere scores 1 on both
        const ideal = rows.map((r) => Math.max(0, optimal(r).indexOf(true)));
        const best = routerArenaOptimality(ideal, quality, cost, M);
        assert.equal(best.optimalSelection, 1);
        assert.ok(Math.abs(best.optimalCost! - 1) < 1e-12);
      }
      const acc = rows.filter((r) => r.y[r.m] === 1).length / rows.length;
      const bestSingle = Math.max(
        ...Array.from({ length: M }, (_, k) => rows.filter((r) => r.y[k] === 1).length),
      );
      if (bestSingle === 0) assert.equal(got.optimalAccuracy, null);
      else assert.ok(Math.abs(got.optimalAccuracy! - acc / (bestSingle / rows.length)) < 1e-12);
      // the oracle answers a query correctly when any model does; the gap is never negative
      const g = oracleGap(chosen, quality, M);
      assert.ok(Math.abs(g.quality - acc) < 1e-12);
      assert.ok(Math.abs(g.oracle - scored.length / rows.length) < 1e-12);
      assert.ok(g.gap >= -1e-12 && Math.abs(g.gap - (g.oracle - g.quality)) < 1e-15);
      if (g.oracle === 0) assert.equal(g.relativeGap, null);
      else assert.ok(Math.abs(g.relativeGap! - g.gap / g.oracle) < 1e-15);
    }),
    { numRuns: 300, seed: 11 },
  );
});

test("optimality and oracle gap equal a numpy reference of the same definitions (1e-12)", () => {
  const rng = createRng(7);
  const cases = Array.from({ length: 30 }, (_, i) => {
    const M = 1 + rng.int(9);
    const n = 1 + rng.int(300);
    // even cases: 0/1 correctness; odd: graded quality with a threshold
    const quality = Array.from({ length: n }, () =>
      Array.from({ length: M }, () => (i % 2 === 0 ? (rng.next() < 0.6 ? 1 : 0) : rng.int(5) / 4)),
    );
    const cost = Array.from({ length: n }, () => Array.from({ length: M }, () => (1 + rng.int(6)) * 1e-4));
    return {
      chosen: Array.from({ length: n }, () => rng.int(M)),
      quality,
      cost,
      correct_at: i % 2 === 0 ? 1 : 0.75,
    };
  });
  const r = spawnSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "optimality_reference.py")],
    {
      input: JSON.stringify({ cases }),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  type Ref = Record<string, number | null>;
  const ref = (JSON.parse(r.stdout) as { results: Ref[] }).results;
  const near = (a: number | null, b: number | null | undefined, what: string) => {
    if (b === null || b === undefined) assert.equal(a, null, what);
    else assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  };
  cases.forEach((c, i) => {
    const M = c.quality[0]!.length;
    const o = routerArenaOptimality(c.chosen, c.quality.flat(), c.cost.flat(), M, {
      correctAt: c.correct_at,
    });
    const g = oracleGap(c.chosen, c.quality.flat(), M);
    near(o.optimalSelection, ref[i]!.optimal_selection, `case ${i} optimal selection`);
    near(o.optimalCost, ref[i]!.optimal_cost, `case ${i} optimal cost`);
    near(o.optimalAccuracy, ref[i]!.optimal_accuracy, `case ${i} optimal accuracy`);
    assert.equal(o.nWithOptimal, ref[i]!.n_with_optimal);
    near(g.oracle, ref[i]!.oracle, `case ${i} oracle`);
    near(g.gap, ref[i]!.gap, `case ${i} gap`);
    near(g.relativeGap, ref[i]!.relative_gap, `case ${i} relative gap`);
  });
});

test("optimality: a worked example, and bad inputs are RouterlabErrors", () => {
  // 3 queries, weak (model 0, $1) and strong (model 1, $10): weak right on q0; only strong right on q1; none on q2.
  // Choices: strong, weak, weak. q0: not optimal, cost ratio 1/10; q1: not optimal (cheaper but wrong), ratio 10/1.
  const o = routerArenaOptimality([1, 0, 0], [1, 1, 0, 1, 0, 0], [1, 10, 1, 10, 1, 10], 2);
  assert.equal(o.nWithOptimal, 2);
  assert.equal(o.optimalSelection, 0);
  assert.ok(Math.abs(o.optimalCost! - (0.1 + 10) / 2) < 1e-12, "a cheaper wrong choice scores above 1");
  assert.ok(Math.abs(o.optimalAccuracy! - 1 / 2) < 1e-12, "1 correct of 3 against the strong model's 2");
  const g = oracleGap([1, 0, 0], [1, 1, 0, 1, 0, 0], 2);
  assert.ok(Math.abs(g.gap - 1 / 3) < 1e-12 && Math.abs(g.relativeGap! - 0.5) < 1e-12);
  assert.deepEqual(oracleGapOf(0.5, 0.75), { quality: 0.5, oracle: 0.75, gap: 0.25, relativeGap: 1 / 3 });
  assert.throws(() => routerArenaOptimality([2], [1, 0], [1, 1], 2), RouterlabError);
  assert.throws(() => routerArenaOptimality([0], [1, 0], [0, 1], 2), RouterlabError);
  assert.throws(() => oracleGap([0, 1], [1, 0], 2), RouterlabError);
  assert.throws(() => oracleGapOf(NaN, 1), RouterlabError);
});
