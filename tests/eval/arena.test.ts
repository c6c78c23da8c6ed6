import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { arenaCostScore, arenaOfBinaryPolicy, arenaScore } from "../../lib/eval/arena";
import { RouterlabError } from "../../lib/util/errors";

test("arena score: the weighted harmonic mean of accuracy and the log-normalised cost, by definition", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0.0044, max: 200, noNaN: true }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      (A, c, beta) => {
        const C = (Math.log2(200) - Math.log2(c)) / (Math.log2(200) - Math.log2(0.0044));
        const want = (1 + beta) * A * C === 0 ? 0 : ((1 + beta) * A * C) / (beta * A + C);
        const got = arenaScore(A, c, { beta });
        assert.ok(Math.abs(got - want) <= 1e-12);
        assert.ok(got >= 0 && got <= 1 + 1e-12);
        // harmonic-mean bounds: between min(A, C) and max(A, C)
        assert.ok(got >= Math.min(A, C) - 1e-12 && got <= Math.max(A, C) + 1e-12);
        // monotone: more accuracy never lowers it, more cost never raises it
        assert.ok(arenaScore(Math.min(1, A + 0.1), c, { beta }) >= got - 1e-12);
        assert.ok(arenaScore(A, Math.min(200, c * 2), { beta }) <= got + 1e-12);
      },
    ),
    { numRuns: 300, seed: 9 },
  );
});

test("arena score: fixed points and clipping; bad inputs are RouterlabErrors", () => {
  assert.equal(arenaCostScore(200), 0);
  assert.equal(arenaCostScore(0.0044), 1);
  assert.equal(arenaCostScore(0), 1, "cheaper than c_min clips to 1");
  assert.equal(arenaCostScore(1e6), 0, "dearer than c_max clips to 0");
  assert.ok(Math.abs(arenaScore(1, 0.0044) - 1) < 1e-15);
  assert.equal(arenaScore(0, 1), 0);
  assert.equal(arenaScore(0.7, 200), 0);
  // Two RouterArena leaderboard rows recomputed: accuracy 66.88% at $0.15 per 1k queries scores 66.89, and
  // 68.09% at $0.54 scores 66.66 (both with beta 0.1).
  assert.ok(Math.abs(arenaScore(0.6688, 0.15) - 0.6689) < 1e-4);
  assert.ok(Math.abs(arenaScore(0.6809, 0.54) - 0.6666) < 1e-4);
  assert.throws(() => arenaScore(1.2, 1), RouterlabError);
  assert.throws(() => arenaScore(0.5, -1), RouterlabError);
  assert.throws(() => arenaCostScore(1, 1, 2), RouterlabError);
});

test("arena of a binary policy: accuracy and cost of the chosen answers, per 1,000 queries", () => {
  const row = fc.record({
    strong: fc.boolean(),
    yWeak: fc.constantFrom(0, 1),
    yStrong: fc.constantFrom(0, 1),
    cWeak: fc.double({ min: 0, max: 0.01, noNaN: true }),
    cStrong: fc.double({ min: 0, max: 0.1, noNaN: true }),
  });
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 60 }), (rows) => {
      const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
      const got = arenaOfBinaryPolicy(
        col("strong"),
        col("yWeak"),
        col("yStrong"),
        col("cWeak"),
        col("cStrong"),
      );
      const acc = rows.filter((r) => (r.strong ? r.yStrong : r.yWeak) === 1).length / rows.length;
      const cost = rows.reduce((a, r) => a + (r.strong ? r.cStrong : r.cWeak), 0) / rows.length;
      assert.ok(Math.abs(got.accuracy - acc) <= 1e-12);
      assert.ok(Math.abs(got.costPer1k - 1000 * cost) <= 1e-9 * Math.max(1, 1000 * cost));
      assert.equal(got.score, arenaScore(got.accuracy, got.costPer1k));
    }),
    { numRuns: 200, seed: 4 },
  );
  // worked example: 4 queries, strong on the last two; correct answers on queries 1, 3, 4; $0.001 weak, $0.01 strong
  const p = arenaOfBinaryPolicy(
    [false, false, true, true],
    [1, 0, 0, 0],
    [1, 1, 1, 1],
    [1e-3, 1e-3, 1e-3, 1e-3],
    [1e-2, 1e-2, 1e-2, 1e-2],
  );
  assert.equal(p.accuracy, 0.75);
  assert.ok(Math.abs(p.costPer1k - 5.5) < 1e-12);
  assert.throws(() => arenaOfBinaryPolicy([true], [1, 0], [1], [0], [0]), RouterlabError);
});
