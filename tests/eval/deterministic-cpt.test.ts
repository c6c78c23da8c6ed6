import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { binaryCurve, cpt } from "../../lib/eval/binary";
import { deterministicCpt } from "../../lib/eval/deterministic-cpt";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

/**
 * Deterministic-threshold CPT (metrics.md §7a): checked against its definition (a brute force over every fixed
 * threshold), against the interpolated CPT it sits next to, and against the independent numpy reference
 * python/peers/deterministic_cpt_reference.py.
 */

// Scores with few levels (k-NN-like vote fractions, many ties) or continuous ones; 0/1 outcomes.
const problem = fc.integer({ min: 1, max: 60 }).chain((n) =>
  fc.record({
    scores: fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 5 }).map((v) => v / 5),
        fc.double({ min: 0, max: 1, noNaN: true }),
      ),
      { minLength: n, maxLength: n },
    ),
    yWeak: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
    yStrong: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
    p: fc.constantFrom(0.2, 0.5, 0.8, 1),
  }),
);

/** The definition, literally: every fixed threshold (each score with >=, and one above the maximum). */
function bruteForce(scores: number[], yWeak: number[], yStrong: number[], p: number): number | null {
  const n = scores.length;
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / n;
  const target = mean(yWeak) + p * (mean(yStrong) - mean(yWeak));
  let best: number | null = null;
  for (const t of [...scores, Infinity]) {
    const strong = scores.map((s) => s >= t);
    const quality = strong.reduce((s, b, i) => s + (b ? yStrong[i]! : yWeak[i]!), 0) / n;
    const share = strong.filter(Boolean).length / n;
    if (quality >= target && (best === null || share < best)) best = share;
  }
  return best;
}

describe("deterministic-threshold CPT", () => {
  it("is the smallest share a single fixed threshold reaches with quality >= T_p (brute force)", () => {
    fc.assert(
      fc.property(problem, ({ scores, yWeak, yStrong, p }) => {
        const d = deterministicCpt(scores, yWeak, yStrong, p);
        assert.equal(d.value, bruteForce(scores, yWeak, yStrong, p));
        if (d.value === null) return;
        // The reported threshold really gives that share and reaches the target.
        const strong = scores.map((s) => (d.strict ? s > d.threshold! : s >= d.threshold!));
        assert.equal(strong.filter(Boolean).length / scores.length, d.value);
        assert.ok(d.quality! >= d.target);
      }),
      { numRuns: 400, seed: 17 },
    );
  });

  it("never beats the interpolated CPT, and exceeds it by less than the tie group the crossing falls in", () => {
    fc.assert(
      fc.property(problem, ({ scores, yWeak, yStrong, p }) => {
        const fine = binaryCurve(scores, yWeak, yStrong, undefined, undefined, { mode: "fine" });
        const qw = yWeak.reduce((s, v) => s + v, 0) / scores.length;
        const qs = yStrong.reduce((s, v) => s + v, 0) / scores.length;
        const interp = cpt(fine, p, qw, qs).value;
        const d = deterministicCpt(scores, yWeak, yStrong, p).value;
        assert.equal(d === null, interp === null);
        if (d === null || interp === null) return;
        assert.ok(d >= interp - 1e-12, `deterministic ${d} < interpolated ${interp}`);
        // The crossing lies between two neighbouring reachable points: the gap is below their distance.
        const i = fine.findIndex((pt) => pt.x === d);
        const prev = i > 0 ? fine[i - 1]!.x : d;
        assert.ok(d - interp <= d - prev + 1e-12);
        // Distinct scores: neighbouring points are one query apart.
        if (new Set(scores).size === scores.length) assert.ok(d - interp <= 1 / scores.length + 1e-12);
      }),
      { numRuns: 400, seed: 18 },
    );
  });

  it("can differ from the interpolated figure by a whole tie group (a k-NN with 3 vote levels)", () => {
    // 10 queries; scores 1 (2 queries), 0.5 (6 queries), 0 (2 queries). Strong wins only on the top-scored and
    // on half of the middle group.
    const scores = [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0];
    const yWeak = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const yStrong = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    // Q_weak 0, Q_strong 0.5, T_50 = 0.25 (2.5 wins): 20% strong gives 2 wins, 80% gives 5.
    const fine = binaryCurve(scores, yWeak, yStrong, undefined, undefined, { mode: "fine" });
    assert.ok(Math.abs(cpt(fine, 0.5, 0, 0.5).value! - 0.3) < 1e-12, "interpolated: 20% + 0.5/3 x 60%");
    assert.equal(deterministicCpt(scores, yWeak, yStrong, 0.5).value, 0.8);
  });

  it("agrees with the independent numpy reference", () => {
    const rng = createRng(20261203);
    const ps = [0.2, 0.5, 0.8, 0.95];
    const cases = Array.from({ length: 80 }, () => {
      const n = 3 + rng.int(200);
      const levels = rng.int(3) === 0 ? 0 : 2 + rng.int(40);
      const scores = Array.from({ length: n }, () =>
        levels === 0 ? rng.next() : rng.int(levels + 1) / levels,
      );
      const yWeak = scores.map(() => (rng.next() < 0.6 ? 1 : 0));
      const yStrong = scores.map((s) => (rng.next() < 0.4 + 0.5 * s ? 1 : 0));
      return { scores, yWeak, yStrong, ps };
    });
    const out = execFileSync(
      venvPython(),
      [path.join(projectRoot(), "python", "peers", "deterministic_cpt_reference.py")],
      { input: JSON.stringify({ cases }), maxBuffer: 64 * 1024 * 1024 },
    );
    const results = z
      .object({
        results: z.array(z.array(z.object({ value: z.number().nullable(), quality: z.number().nullable() }))),
      })
      .parse(JSON.parse(out.toString("utf8"))).results;
    assert.equal(results.length, cases.length);
    let differing = 0;
    cases.forEach((c, k) => {
      ps.forEach((p, j) => {
        const mine = deterministicCpt(c.scores, c.yWeak, c.yStrong, p);
        const ref = results[k]![j]!;
        assert.equal(mine.value === null, ref.value === null, `case ${k} p ${p}: reached`);
        if (mine.value === null) return;
        assert.ok(
          Math.abs(mine.value - ref.value!) <= 1e-12,
          `case ${k} p ${p}: ${mine.value} vs ${ref.value}`,
        );
        assert.ok(Math.abs(mine.quality! - ref.quality!) <= 1e-12, `case ${k} p ${p}: quality`);
        if (Math.abs(mine.value - interpolated(c.scores, c.yWeak, c.yStrong, p)!) > 1e-9) differing++;
      });
    });
    // The comparison must include cases where the deterministic and interpolated figures really differ.
    assert.ok(differing > 20, `only ${differing} cases differ from the interpolated CPT`);
  });
});

function interpolated(scores: number[], yWeak: number[], yStrong: number[], p: number): number | null {
  const n = scores.length;
  const qw = yWeak.reduce((s, v) => s + v, 0) / n;
  const qs = yStrong.reduce((s, v) => s + v, 0) / n;
  return cpt(binaryCurve(scores, yWeak, yStrong, undefined, undefined, { mode: "fine" }), p, qw, qs).value;
}
