import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { z } from "zod";
import { apgr, binaryCurve, cpt } from "../../lib/eval/binary";
import { aiq, upperHullNonDecreasing, wtpCurve } from "../../lib/eval/multi";
import { simpleqaFromCounts } from "../../lib/eval/simpleqa";
import { projectRoot, venvPython } from "../../lib/util/paths";
import type { Rng } from "../../lib/util/random";
import { createRng } from "../../lib/util/random";

/**
 * Agreement with python/peers/metrics_reference.py, an independent numpy implementation of metrics.md, on
 * randomised inputs (including non-monotone curves and tied scores), within 1e-9.
 */

const TOL = 1e-9;
const close = (a: number | null, b: number | null, what: string): void => {
  if (a === null || b === null) {
    assert.equal(a, b, what);
    return;
  }
  assert.ok(Math.abs(a - b) <= TOL, `${what}: routerlab ${a} vs reference ${b}`);
};

const cptSchema = z.object({ value: z.number().nullable(), interp: z.number(), target: z.number() });
const pointSchema = z.object({
  threshold: z.number(),
  strict: z.boolean(),
  x: z.number(),
  quality: z.number(),
  cost: z.number(),
});
const curveModeSchema = z.object({
  points: z.array(pointSchema),
  apgr: z.number().nullable(),
  cpt: z.array(cptSchema),
});
const resultSchemas = {
  curve: z.object({
    fine: curveModeSchema,
    reference10: curveModeSchema,
    qWeak: z.number(),
    qStrong: z.number(),
  }),
  points: z.object({ apgr: z.number().nullable(), cpt: z.array(cptSchema) }),
  aiq: z.object({ aiq: z.number(), hull: z.array(z.object({ cost: z.number(), quality: z.number() })) }),
  wtp: z.object({ points: z.array(z.object({ lambda: z.number(), cost: z.number(), quality: z.number() })) }),
  simpleqa: z.object({
    correct: z.number(),
    incorrect: z.number(),
    notAttempted: z.number(),
    cga: z.number(),
    f: z.number(),
  }),
};

function runReference(cases: object[]): unknown[] {
  const out = execFileSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "metrics_reference.py")],
    {
      input: JSON.stringify({ cases }),
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  return z.object({ results: z.array(z.unknown()) }).parse(JSON.parse(out.toString("utf8"))).results;
}

const PS = [0.2, 0.5, 0.8, 0.95];

function randomScores(rng: Rng, n: number): number[] {
  const style = rng.int(3);
  return Array.from({ length: n }, () => {
    if (style === 0) return rng.next(); // continuous
    if (style === 1) return rng.int(6) / 5; // k-NN-like vote fractions: many ties
    return rng.next() < 0.3 ? 0.5 : rng.next();
  });
}

describe("metrics agree with the independent Python reference within 1e-9", () => {
  const rng = createRng(20260611);
  const curveCases = Array.from({ length: 60 }, () => {
    const n = 5 + rng.int(120);
    const bias = rng.next();
    const scores = randomScores(rng, n);
    const yWeak = scores.map(() => (rng.next() < 0.5 ? 1 : 0));
    // Correlate strong wins with the score so APGR varies, but keep noise (non-monotone curves).
    const yStrong = scores.map((s, i) =>
      rng.next() < bias * s + 0.3 ? 1 : yWeak[i]! && rng.next() < 0.5 ? 1 : 0,
    );
    const cWeak = scores.map(() => rng.next() * 0.001);
    const cStrong = scores.map(() => 0.002 + rng.next() * 0.01);
    return { kind: "curve", scores, yWeak, yStrong, cWeak, cStrong, ps: PS };
  });
  const pointCases = Array.from({ length: 60 }, () => {
    // Arbitrary non-monotone curves, unsorted, with repeated x.
    const n = 2 + rng.int(30);
    const x = Array.from({ length: n }, () => (rng.next() < 0.2 ? 0.5 : rng.next()));
    const quality = x.map(() => 60 + rng.next() * 25);
    return { kind: "points", x, quality, qWeak: 65 + rng.next() * 5, qStrong: 75 + rng.next() * 8, ps: PS };
  });
  const aiqCases = Array.from({ length: 40 }, () => {
    const n = 1 + rng.int(25);
    const points = Array.from({ length: n }, () => ({ cost: rng.next() * 5, quality: rng.next() }));
    const cheapest = Math.min(...points.map((p) => p.cost));
    const cMax = Math.max(...points.map((p) => p.cost)) + rng.next() * 2 + 1e-3;
    return { kind: "aiq", points, cMin: cheapest + rng.next() * (cMax - cheapest) * 0.5, cMax };
  });
  const wtpCases = Array.from({ length: 20 }, () => {
    const m = 2 + rng.int(5);
    const n = 10 + rng.int(60);
    const predicted = Array.from({ length: n * m }, () => (rng.next() < 0.2 ? 0.5 : rng.next()));
    const trueQuality = predicted.map((p) => (rng.next() < p ? 1 : 0));
    const cost = Array.from({ length: n * m }, (_, k) => ((k % m) + 1) * 0.001 * (1 + rng.int(3)));
    const lambdas = [0, 0.001, 0.01, 0.1, 1, 10, 1e6];
    return { kind: "wtp", nModels: m, predicted, trueQuality, cost, lambdas };
  });
  const sqaCases = Array.from({ length: 20 }, () => ({
    kind: "simpleqa",
    nA: rng.int(50),
    nB: rng.int(50),
    nC: 1 + rng.int(50),
  }));
  const cases = [...curveCases, ...pointCases, ...aiqCases, ...wtpCases, ...sqaCases];
  const results = runReference(cases);
  assert.equal(results.length, cases.length);

  it("binary sweeps (fine and reference10): points, APGR, CPT first crossing and np.interp", () => {
    curveCases.forEach((c, k) => {
      const ref = resultSchemas.curve.parse(results[k]);
      for (const mode of ["fine", "reference10"] as const) {
        const pts = binaryCurve(c.scores, c.yWeak, c.yStrong, c.cWeak, c.cStrong, { mode });
        const r = ref[mode];
        assert.equal(pts.length, r.points.length, `case ${k} ${mode}: number of points`);
        pts.forEach((p, i) => {
          const q = r.points[i]!;
          close(p.x, q.x, `case ${k} ${mode} point ${i} x`);
          close(p.quality, q.quality, `case ${k} ${mode} point ${i} quality`);
          close(p.cost, q.cost, `case ${k} ${mode} point ${i} cost`);
          close(p.threshold, q.threshold, `case ${k} ${mode} point ${i} threshold`);
          assert.equal(p.strict, q.strict);
        });
        close(apgr(pts, ref.qWeak, ref.qStrong), r.apgr, `case ${k} ${mode} APGR`);
        PS.forEach((p, j) => {
          const mine = cpt(pts, p, ref.qWeak, ref.qStrong);
          close(mine.value, r.cpt[j]!.value, `case ${k} ${mode} CPT(${p})`);
          close(mine.interp, r.cpt[j]!.interp, `case ${k} ${mode} CPT interp(${p})`);
        });
      }
    });
  });

  it("non-monotone, unsorted curves: APGR, first-crossing CPT and the np.interp variant", () => {
    let disagreeing = 0;
    pointCases.forEach((c, k) => {
      const ref = resultSchemas.points.parse(results[curveCases.length + k]);
      const pts = c.x.map((x, i) => ({ x, quality: c.quality[i]! }));
      close(apgr(pts, c.qWeak, c.qStrong), ref.apgr, `case ${k} APGR`);
      PS.forEach((p, j) => {
        const mine = cpt(pts, p, c.qWeak, c.qStrong);
        close(mine.value, ref.cpt[j]!.value, `case ${k} CPT(${p})`);
        close(mine.interp, ref.cpt[j]!.interp, `case ${k} interp(${p})`);
        if (mine.value !== null && Math.abs(mine.value - mine.interp) > 1e-6) disagreeing++;
      });
    });
    // The comparison must exercise curves where the two CPT methods really differ.
    assert.ok(disagreeing > 10, `only ${disagreeing} cases where first crossing and interp differ`);
  });

  it("AIQ over a common interval and the non-decreasing upper hull", () => {
    const off = curveCases.length + pointCases.length;
    aiqCases.forEach((c, k) => {
      const ref = resultSchemas.aiq.parse(results[off + k]);
      const hull = upperHullNonDecreasing(c.points);
      assert.equal(hull.length, ref.hull.length, `case ${k} hull size`);
      hull.forEach((h, i) => {
        close(h.cost, ref.hull[i]!.cost, `case ${k} hull ${i} cost`);
        close(h.quality, ref.hull[i]!.quality, `case ${k} hull ${i} quality`);
      });
      close(aiq(c.points, { cMin: c.cMin, cMax: c.cMax }), ref.aiq, `case ${k} AIQ`);
    });
  });

  it("willingness-to-pay sweeps", () => {
    const off = curveCases.length + pointCases.length + aiqCases.length;
    wtpCases.forEach((c, k) => {
      const ref = resultSchemas.wtp.parse(results[off + k]);
      const pts = wtpCurve(
        Float64Array.from(c.predicted),
        Float64Array.from(c.trueQuality),
        Float64Array.from(c.cost),
        c.nModels,
        c.lambdas,
      );
      pts.forEach((p, i) => {
        close(p.cost, ref.points[i]!.cost, `case ${k} λ=${p.lambda} cost`);
        close(p.quality, ref.points[i]!.quality, `case ${k} λ=${p.lambda} quality`);
      });
    });
  });

  it("SimpleQA metrics", () => {
    const off = curveCases.length + pointCases.length + aiqCases.length + wtpCases.length;
    sqaCases.forEach((c, k) => {
      const ref = resultSchemas.simpleqa.parse(results[off + k]);
      const m = simpleqaFromCounts(c.nA, c.nB, c.nC);
      close(m.correct, ref.correct, "correct");
      close(m.incorrect, ref.incorrect, "incorrect");
      close(m.notAttempted, ref.notAttempted, "not attempted");
      close(m.cga, ref.cga, "cga");
      close(m.f, ref.f, "f");
    });
  });
});
