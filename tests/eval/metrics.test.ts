import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { apgr, auc, binaryCurve, cpt, npInterp, pgr, randomRouterCurve } from "../../lib/eval/binary";
import { argsortDesc } from "../../lib/eval/sort";
import {
  aiq,
  commonInterval,
  hullValue,
  paretoFrontier,
  upperHullNonDecreasing,
  wtpCurve,
  zeroRouter,
} from "../../lib/eval/multi";
import {
  parseGraderLetter,
  parseGrades,
  referenceParse,
  simpleqaFromCounts,
  simpleqaMetrics,
} from "../../lib/eval/simpleqa";

const close = (a: number, b: number, tol = 1e-9): void =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

// The worked example of metrics.md §6/§7.
const EX_Q = [68, 69, 71, 73, 75, 76, 73, 74.5, 78, 79, 80];
const EX = EX_Q.map((quality, i) => ({ x: i / 10, quality }));

/** Random binary problem: scores (possibly with ties), 0/1 outcomes. */
const binaryProblem = fc.integer({ min: 2, max: 80 }).chain((n) =>
  fc.record({
    scores: fc.array(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.25, 0.5)), {
      minLength: n,
      maxLength: n,
    }),
    yWeak: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
    yStrong: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
  }),
);

const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

describe("metrics.md worked examples", () => {
  it("§6: AUC 74.25 and APGR 0.521", () => {
    close(auc(EX), 74.25);
    close(apgr(EX, 68, 80)!, (74.25 - 68) / 12);
    assert.equal(apgr(EX, 68, 80)!.toFixed(3), "0.521");
  });
  it("§7: CPT(50%) first crossing 35.0% vs np.interp 66.7%", () => {
    const r = cpt(EX, 0.5, 68, 80);
    close(r.value!, 0.35);
    close(r.interp, 0.6 + 0.1 / 1.5);
    close(r.target, 74);
  });
  it("§7: a target the curve never reaches is 'not reached', not 100%", () => {
    const r = cpt(EX, 1.1, 68, 80);
    assert.equal(r.value, null);
    assert.equal(r.interp, 1); // np.interp clamps silently
  });
  it("§3: GPT-4o correct 38.2, not attempted 1.0, incorrect 60.8 -> CGA 38.6, F 38.4", () => {
    const m = simpleqaFromCounts(382, 608, 10);
    assert.equal((m.cga * 100).toFixed(1), "38.6");
    assert.equal((m.f * 100).toFixed(1), "38.4");
    close(m.correct + m.incorrect + m.notAttempted, 1);
  });
  it("§5: PGR is n/a when the strong and weak models tie", () => {
    assert.equal(pgr(0.7, 0.7, 0.7), null);
    close(pgr(0.75, 0.7, 0.8)!, 0.5);
  });
});

describe("binary curve properties", () => {
  it("PGR of all-weak is 0 and of all-strong is 1; the curve spans x = 0..1 in both modes", () => {
    fc.assert(
      fc.property(binaryProblem, ({ scores, yWeak, yStrong }) => {
        const qw = mean(yWeak);
        const qs = mean(yStrong);
        for (const mode of ["fine", "reference10"] as const) {
          const c = binaryCurve(scores, yWeak, yStrong, undefined, undefined, { mode });
          const first = c[0]!;
          const last = c[c.length - 1]!;
          assert.equal(first.x, 0);
          assert.equal(last.x, 1);
          close(first.quality, qw);
          close(last.quality, qs);
          if (qs !== qw) {
            close(pgr(first.quality, qw, qs)!, 0);
            close(pgr(last.quality, qw, qs)!, 1);
          }
          for (let i = 1; i < c.length; i++) assert.ok(c[i]!.x >= c[i - 1]!.x);
        }
      }),
      { numRuns: 200 },
    );
  });
  it("the fine curve has one point per distinct score plus the 0% endpoint; reference10 at most 11", () => {
    fc.assert(
      fc.property(binaryProblem, ({ scores, yWeak, yStrong }) => {
        const fine = binaryCurve(scores, yWeak, yStrong);
        assert.equal(fine.length, new Set(scores).size + 1);
        const ref = binaryCurve(scores, yWeak, yStrong, undefined, undefined, { mode: "reference10" });
        assert.ok(ref.length >= 2 && ref.length <= 11);
      }),
    );
  });
  it("APGR of the random straight line is 0.5", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 2, max: 200 }),
        (qw, qs, k) => {
          fc.pre(Math.abs(qs - qw) > 1e-6);
          close(apgr(randomRouterCurve(qw, qs, k), qw, qs)!, 0.5, 1e-9);
        },
      ),
    );
  });
  it("CPT is non-decreasing in p on monotone curves, and first crossing equals np.interp there", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 999 }), { minLength: 2, maxLength: 40 }),
        fc.array(fc.double({ min: 0.001, max: 1, noNaN: true }), { minLength: 2, maxLength: 40 }),
        (xsRaw, steps) => {
          const xs = [...new Set([0, 1000, ...xsRaw])].sort((a, b) => a - b).map((k) => k / 1000);
          let q = 0.3;
          const pts = xs.map((x, i) => ({ x, quality: i === 0 ? q : (q += steps[i % steps.length]!) }));
          const qw = pts[0]!.quality;
          const qs = pts[pts.length - 1]!.quality;
          let prev = -Infinity;
          for (let p = 0; p <= 0.96; p += 0.05) {
            const r = cpt(pts, p, qw, qs);
            assert.ok(r.value !== null);
            assert.ok(r.value >= prev - 1e-12, `CPT(${p}) = ${r.value} < ${prev}`);
            close(r.value, r.interp, 1e-9);
            prev = r.value;
          }
        },
      ),
    );
  });
  it("CPT first crossing never exceeds np.interp's crossing point when interp is on a real crossing", () => {
    // On any curve the first crossing is the smallest x where the curve reaches T.
    fc.assert(
      fc.property(binaryProblem, ({ scores, yWeak, yStrong }) => {
        const c = binaryCurve(scores, yWeak, yStrong);
        const qw = mean(yWeak);
        const qs = mean(yStrong);
        fc.pre(qs > qw);
        const r = cpt(c, 0.5, qw, qs);
        assert.ok(r.value !== null); // the all-strong endpoint reaches any p <= 1
        for (const pt of c) if (pt.x < r.value - 1e-12) assert.ok(pt.quality < r.target);
      }),
    );
  });
  it("npInterp matches numpy on an increasing grid and clamps outside it", () => {
    const xp = [0, 1, 2, 3, 4, 5, 6];
    const fp = [0, 10, 20, 30, 40, 50, 60];
    close(npInterp(2.5, xp, fp), 25);
    assert.equal(npInterp(-1, xp, fp), 0);
    assert.equal(npInterp(9, xp, fp), 60);
    assert.equal(npInterp(3, xp, fp), 30);
  });
});

describe("multi-model metrics", () => {
  const pointSet = fc.array(
    fc.record({
      cost: fc.integer({ min: 0, max: 1000 }).map((k) => k / 100),
      quality: fc.integer({ min: 0, max: 1000 }).map((k) => k / 1000),
    }),
    { minLength: 1, maxLength: 30 },
  );
  it("the hull is concave, non-decreasing and lies on or above every point it covers", () => {
    fc.assert(
      fc.property(pointSet, (pts) => {
        const h = upperHullNonDecreasing(pts);
        for (let i = 1; i < h.length; i++) {
          assert.ok(h[i]!.cost > h[i - 1]!.cost);
          assert.ok(h[i]!.quality > h[i - 1]!.quality);
        }
        for (let i = 2; i < h.length; i++) {
          const s1 = (h[i - 1]!.quality - h[i - 2]!.quality) / (h[i - 1]!.cost - h[i - 2]!.cost);
          const s2 = (h[i]!.quality - h[i - 1]!.quality) / (h[i]!.cost - h[i - 1]!.cost);
          assert.ok(s2 < s1 + 1e-9);
        }
        for (const p of pts) if (p.cost >= h[0]!.cost) assert.ok(hullValue(h, p.cost) >= p.quality - 1e-9);
      }),
    );
  });
  it("AIQ of a router is >= its Zero router's when the router's points include the single models", () => {
    fc.assert(
      fc.property(pointSet, pointSet, (singles, extra) => {
        const router = [...singles, ...extra];
        const interval = commonInterval(singles, [router]);
        fc.pre(interval.cMax > interval.cMin);
        fc.pre(Math.min(...router.map((p) => p.cost)) <= interval.cMin);
        const z = aiq(zeroRouter(singles), interval);
        const r = aiq(router, interval);
        assert.ok(r >= z - 1e-12, `${r} < ${z}`);
        assert.ok(r <= Math.max(...router.map((p) => p.quality)) + 1e-12);
      }),
    );
  });
  it("AIQ of a flat hull is its quality; of the straight two-model line it is the midpoint quality", () => {
    close(aiq([{ cost: 1, quality: 0.4 }], { cMin: 1, cMax: 3 }), 0.4);
    const two = [
      { cost: 1, quality: 0.4 },
      { cost: 3, quality: 0.8 },
    ];
    close(aiq(two, { cMin: 1, cMax: 3 }), 0.6);
    // Flat extension beyond the most expensive point: (0.6*2 + 0.8*2) / 4.
    close(aiq(two, { cMin: 1, cMax: 5 }), 0.7);
  });
  it("the Pareto frontier keeps exactly the non-dominated points", () => {
    fc.assert(
      fc.property(pointSet, (pts) => {
        const f = paretoFrontier(pts);
        for (const p of f)
          for (const o of pts)
            assert.ok(
              !(o.cost <= p.cost && o.quality > p.quality) && !(o.cost < p.cost && o.quality >= p.quality),
            );
        for (const o of pts) assert.ok(f.some((p) => p.cost <= o.cost && p.quality >= o.quality));
      }),
    );
  });
  it("wtp: λ = 0 picks the cheapest model per query, a huge λ the best predicted; ties go to model order", () => {
    const predicted = Float64Array.from([0.9, 0.5, 0.2, 0.7, 0.7, 0.1]);
    const trueQ = Float64Array.from([1, 0, 0, 1, 1, 0]);
    const cost = Float64Array.from([3, 1, 2, 2, 2, 5]);
    const [cheap, rich] = wtpCurve(predicted, trueQ, cost, 3, [0, 1e6]);
    // λ = 0: q0 -> model 1 (cost 1), q1 -> model 0 (tie 2/2, first wins).
    close(cheap!.cost, (1 + 2) / 2);
    close(cheap!.quality, (0 + 1) / 2);
    assert.deepEqual(cheap!.share, [0.5, 0.5, 0]);
    // λ huge: q0 -> model 0, q1 -> model 0 (0.7 tie with model 1 at equal cost: first wins).
    close(rich!.quality, 1);
    assert.deepEqual(rich!.share, [1, 0, 0]);
  });
});

describe("SimpleQA", () => {
  it("the three rates sum to 1 and F lies between CGA and correct", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("A", "B", "C" as const), { minLength: 1, maxLength: 100 }),
        (g) => {
          const m = simpleqaMetrics(g);
          close(m.correct + m.incorrect + m.notAttempted, 1);
          close(m.attempted, m.correct + m.incorrect);
          assert.ok(m.f <= Math.max(m.cga, m.correct) + 1e-12);
          assert.ok(m.f >= Math.min(m.cga, m.correct) - 1e-12);
        },
      ),
    );
  });
  it("nothing attempted gives CGA 0 and F 0", () => {
    const m = simpleqaFromCounts(0, 0, 5);
    assert.equal(m.cga, 0);
    assert.equal(m.f, 0);
  });
  it("reference parser pitfalls from metrics.md §2", () => {
    assert.equal(referenceParse("CORRECT"), "C");
    assert.equal(referenceParse("INCORRECT"), "C");
    assert.equal(referenceParse("NOT_ATTEMPTED"), "A");
    assert.equal(referenceParse("Based on the criteria… A"), "B");
    assert.equal(referenceParse("a"), "C");
    assert.equal(referenceParse(""), "C");
  });
  it("strict parser accepts only a bare letter (after trimming quotes and a trailing period)", () => {
    assert.equal(parseGraderLetter(" A "), "A");
    assert.equal(parseGraderLetter('"B".'), "B");
    assert.equal(parseGraderLetter("'C'"), "C");
    assert.equal(parseGraderLetter("C."), "C");
    for (const bad of ["CORRECT", "NOT_ATTEMPTED", "Based on the criteria… A", "a", "", "A B", null])
      assert.equal(parseGraderLetter(bad), null, String(bad));
    const p = parseGrades(["A", "NOT_ATTEMPTED", "B", "CORRECT"]);
    assert.deepEqual(p.grades, ["A", "C", "B", "C"]);
    assert.deepEqual(p.referenceGrades, ["A", "A", "B", "C"]);
    assert.equal(p.unparsed, 2);
    assert.equal(p.disagreements, 1);
  });
});

describe("argsortDesc (radix)", () => {
  it("sorts descending with ties in index order, like a stable comparator sort", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: false }),
            fc.constantFrom(0.5, 1, -1, 0),
            fc.integer({ min: -3, max: 3 }),
          ),
          { maxLength: 200 },
        ),
        (raw) => {
          const v = raw.map((x) => (Object.is(x, -0) ? 0 : x));
          const mine = Array.from(argsortDesc(v));
          const ref = v.map((_, i) => i).sort((a, b) => (v[b]! > v[a]! ? 1 : v[b]! < v[a]! ? -1 : a - b));
          assert.deepEqual(mine, ref);
        },
      ),
    );
  });
});
