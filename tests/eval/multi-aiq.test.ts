/**
 * The multi-model AIQ from per-query decisions (`multiAiqs`) and its test-query bootstrap (`bootstrapAiq`), checked
 * against the definitions built from the one-point helpers (policyPoint, singleModelPoints, commonInterval, aiq,
 * zeroRouter) and against resampling by duplicating rows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  aiq,
  bootstrapAiq,
  commonInterval,
  multiAiqs,
  policyPoint,
  singleModelPoints,
  zeroRouter,
} from "../../lib/eval/multi";

interface Case {
  M: number;
  quality: Float64Array;
  cost: Float64Array;
  policies: Int32Array[][];
  weights: Int32Array;
}

/** n queries x M models with quality in [0, 1], positive costs, 1-3 routers of 1-4 decisions each, weights 0-3. */
const caseArb: fc.Arbitrary<Case> = fc
  .record({ n: fc.integer({ min: 1, max: 12 }), M: fc.integer({ min: 2, max: 4 }) })
  .chain(({ n, M }) =>
    fc.record({
      M: fc.constant(M),
      quality: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n * M, maxLength: n * M }),
      cost: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: n * M, maxLength: n * M }),
      policies: fc.array(
        fc.array(fc.array(fc.integer({ min: 0, max: M - 1 }), { minLength: n, maxLength: n }), {
          minLength: 1,
          maxLength: 4,
        }),
        { minLength: 1, maxLength: 3 },
      ),
      weights: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
    }),
  )
  .filter((c) => c.weights.some((w) => w > 0))
  .map((c) => ({
    M: c.M,
    quality: Float64Array.from(c.quality, (v) => v / 4),
    cost: Float64Array.from(c.cost, (v) => v * 1e-6),
    policies: c.policies.map((r) => r.map((p) => Int32Array.from(p))),
    weights: Int32Array.from(c.weights),
  }));

/** The definition: each router's hull over its points plus the cheapest single model, on the common interval. */
function reference(c: Case): { zero: number; routers: number[] } {
  const singles = singleModelPoints(c.quality, c.cost, c.M);
  const cheapest = singles.reduce((a, b) => (b.cost < a.cost ? b : a));
  const pts = c.policies.map((r) => [cheapest, ...r.map((p) => policyPoint(p, c.quality, c.cost, c.M))]);
  const interval = commonInterval(singles, pts);
  if (!(interval.cMax > interval.cMin)) return { zero: NaN, routers: [] };
  return { zero: aiq(zeroRouter(singles), interval), routers: pts.map((p) => aiq(p, interval)) };
}

/** Rows repeated by their weights (a resample written out). */
function expand(c: Case): Case {
  const n = c.weights.length;
  const rows: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < c.weights[i]!; k++) rows.push(i);
  const take = (a: Float64Array): Float64Array => {
    const out = new Float64Array(rows.length * c.M);
    rows.forEach((r, i) => out.set(a.subarray(r * c.M, (r + 1) * c.M), i * c.M));
    return out;
  };
  return {
    M: c.M,
    quality: take(c.quality),
    cost: take(c.cost),
    policies: c.policies.map((r) => r.map((p) => Int32Array.from(rows, (i) => p[i]!))),
    weights: new Int32Array(rows.length).fill(1),
  };
}

/**
 * The single models' mean costs differ (by more than rounding: costs are multiples of 1e-6 over at most 36 rows, so a
 * real difference is at least ~2.8e-8, while two summation orders of equal means differ by ~1e-21).
 */
const nonEmpty = (c: Case): boolean => {
  const s = singleModelPoints(c.quality, c.cost, c.M).map((p) => p.cost);
  return Math.max(...s) - Math.min(...s) > 1e-12;
};

/**
 * No two single models tie on mean cost. Weighted and repeated rows sum in different orders, so a tie can break
 * either way by rounding, and which model is "the cheapest" (the start of every router's hull) flips with it.
 */
const distinctCosts = (c: Case): boolean => {
  const s = singleModelPoints(c.quality, c.cost, c.M).map((p) => p.cost);
  return s.every((a, i) => s.every((b, j) => i === j || Math.abs(a - b) > 1e-12));
};

describe("multi-model AIQ from decisions", () => {
  it("equals the definition from policyPoint, singleModelPoints, commonInterval and aiq", () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => nonEmpty(c)),
        (c) => {
          const got = multiAiqs(c.quality, c.cost, c.M, c.policies);
          const want = reference(c);
          assert.equal(got.zero, want.zero);
          assert.deepEqual(got.routers, want.routers);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("integer weights give the AIQs of the rows repeated by their weights", () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => nonEmpty(expand(c)) && distinctCosts(expand(c))),
        (c) => {
          const got = multiAiqs(c.quality, c.cost, c.M, c.policies, c.weights);
          const want = reference(expand(c));
          assert.ok(Math.abs(got.zero - want.zero) < 1e-12, `zero ${got.zero} vs ${want.zero}`);
          got.routers.forEach((a, i) => assert.ok(Math.abs(a - want.routers[i]!) < 1e-12, `router ${i}`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is NaN when every model and router costs the same (empty interval), and the bootstrap leaves such resamples out", () => {
    // Weighted [1, 1, 2]: model 0 costs (1 + 3 + 2·2)/4 = 2, model 1 costs 2 on every row.
    const quality = Float64Array.of(1, 0, 0, 1, 1, 0);
    const cost = Float64Array.from([1, 2, 3, 2, 2, 2], (v) => v * 1e-6);
    const policies = [[Int32Array.of(0, 1, 0)]];
    const r = multiAiqs(quality, cost, 2, policies, [1, 1, 2]);
    assert.ok(Number.isNaN(r.zero) && Number.isNaN(r.routers[0]!));
    const b = bootstrapAiq(quality, cost, 2, policies, 200, 5);
    assert.ok(b.degenerate > 0 && b.degenerate < 200, `degenerate resamples ${b.degenerate}`);
    assert.ok(Number.isFinite(b.zero.lo) && Number.isFinite(b.routers[0]!.hi));
  });
});

describe("AIQ bootstrap", () => {
  it("is seeded (same seed, same intervals; another seed differs), ordered, and brackets the resampled values", () => {
    const rng = (s: number) => () => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
    const r = rng(7);
    const n = 60;
    const M = 3;
    const quality = Float64Array.from({ length: n * M }, () => (r() < 0.6 ? 1 : 0));
    const cost = Float64Array.from({ length: n * M }, (_, i) => (1 + (i % M) * 4) * 1e-6 * (0.5 + r()));
    const policies = [[Int32Array.from({ length: n }, () => Math.floor(r() * M)), new Int32Array(n)]];
    const a = bootstrapAiq(quality, cost, M, policies, 200, 3);
    assert.deepEqual(bootstrapAiq(quality, cost, M, policies, 200, 3), a);
    assert.notDeepEqual(bootstrapAiq(quality, cost, M, policies, 200, 4).zero, a.zero);
    assert.ok(a.zero.lo <= a.zero.hi && a.zero.lo > 0 && a.zero.hi <= 1);
    const p = a.routers[0]!;
    assert.ok(p.lo <= p.hi && p.diffLo <= p.diffHi);
    assert.ok(p.lo < p.hi, "a 60-query resample varies the AIQ");
  });

  it("with every row identical, each resample is the data itself: the interval is the point", () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => nonEmpty(c)),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 1000 }),
        (c, copies, seed) => {
          const one: Case = {
            ...c,
            quality: c.quality.slice(0, c.M),
            cost: c.cost.slice(0, c.M),
            policies: c.policies.map((r) => r.map((p) => p.slice(0, 1))),
            weights: Int32Array.of(copies),
          };
          if (!nonEmpty(one)) return;
          const e = expand(one);
          const point = multiAiqs(e.quality, e.cost, e.M, e.policies);
          const b = bootstrapAiq(e.quality, e.cost, e.M, e.policies, 20, seed);
          assert.ok(Math.abs(b.zero.lo - point.zero) < 1e-12 && Math.abs(b.zero.hi - point.zero) < 1e-12);
          b.routers.forEach((iv, i) => {
            assert.ok(
              Math.abs(iv.lo - point.routers[i]!) < 1e-12 && Math.abs(iv.hi - point.routers[i]!) < 1e-12,
            );
            assert.ok(Math.abs(iv.diffLo - (point.routers[i]! - point.zero)) < 1e-12);
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});
