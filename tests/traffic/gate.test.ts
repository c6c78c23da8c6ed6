import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { promotionGate } from "../../lib/traffic/gate";
import { createRng } from "../../lib/util/random";

const opts = { shares: [0.3, 0.5], resamples: 300, seed: 18, level: 0.95 };

const arbCase = fc.integer({ min: 2, max: 60 }).chain((n) =>
  fc.record({
    champion: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
    challenger: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
    yWeak: fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }),
    yStrong: fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }),
  }),
);

/** Quality at share s by the definition: mean weak quality plus the gain of the top round(s n) queries sent to strong. */
function qualityByDefinition(scores: number[], yW: number[], yS: number[], share: number): number {
  const n = scores.length;
  const k = Math.round(share * n);
  const top = scores
    .map((s, i) => ({ s, i }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, k);
  return (yW.reduce((a, b) => a + b, 0) + top.reduce((a, t) => a + yS[t.i]! - yW[t.i]!, 0)) / n;
}

test("the gate's point estimates follow the definition; swapping the routers negates difference and interval", () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const g = promotionGate(c, { ...opts, resamples: 50 });
      const swapped = promotionGate(
        { ...c, champion: c.challenger, challenger: c.champion },
        { ...opts, resamples: 50 },
      );
      g.atShare.forEach((a, i) => {
        assert.ok(
          Math.abs(a.champion - qualityByDefinition(c.champion, c.yWeak, c.yStrong, a.share)) < 1e-12,
        );
        assert.ok(
          Math.abs(a.challenger - qualityByDefinition(c.challenger, c.yWeak, c.yStrong, a.share)) < 1e-12,
        );
        assert.ok(a.lo <= a.hi);
        const b = swapped.atShare[i]!;
        assert.ok(Math.abs(b.diff + a.diff) < 1e-12);
        assert.ok(Math.abs(b.lo + a.hi) < 1e-12 && Math.abs(b.hi + a.lo) < 1e-12);
      });
      // never both directions promoted
      assert.ok(!(g.promote && swapped.promote));
    }),
    { seed: 18, numRuns: 150 },
  );
});

test("identical routers are never promoted; the decision is reproducible from its seed", () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const g = promotionGate({ ...c, challenger: c.champion }, opts);
      assert.equal(g.promote, false);
      for (const a of g.atShare) assert.deepEqual([a.diff, a.lo, a.hi], [0, 0, 0]);
      assert.match(g.reason, /^keep the champion: the interval includes zero/);
    }),
    { seed: 18, numRuns: 50 },
  );
  const rng = createRng(3);
  const c = {
    champion: Array.from({ length: 80 }, () => rng.next()),
    challenger: Array.from({ length: 80 }, () => rng.next()),
    yWeak: Array.from({ length: 80 }, () => rng.int(2)),
    yStrong: Array.from({ length: 80 }, () => rng.int(2)),
  };
  assert.deepEqual(promotionGate(c, opts), promotionGate(c, opts));
});

test("a challenger that knows which queries need the strong model is promoted over a random champion, and not the other way round", () => {
  const rng = createRng(7);
  const n = 600;
  const yWeak = Array.from({ length: n }, () => (rng.next() < 0.55 ? 1 : 0));
  const yStrong = yWeak.map((w) => (w === 1 || rng.next() < 0.7 ? 1 : 0));
  const informed = yWeak.map((w, i) => yStrong[i]! - w + 0.3 * rng.next());
  const random = Array.from({ length: n }, () => rng.next());
  const better = promotionGate({ champion: random, challenger: informed, yWeak, yStrong }, opts);
  assert.equal(better.promote, true, better.reason);
  assert.match(better.reason, /^promote: .*at 30% strong.*at 50% strong/);
  const worse = promotionGate({ champion: informed, challenger: random, yWeak, yStrong }, opts);
  assert.equal(worse.promote, false);
  assert.match(worse.reason, /^keep the champion: the challenger is worse/);
});
