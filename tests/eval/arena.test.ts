import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { arenaCostScore, arenaScore } from "../../lib/eval/arena";
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
