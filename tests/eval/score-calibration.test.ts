import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { auroc, brier, ece, scoreCalibration } from "../../lib/eval/score-calibration";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

/** Scores on a coarse grid (many ties) or continuous, labels 0/1. */
const caseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 60 }),
    seed: fc.integer({ min: 0, max: 1e6 }),
    grid: fc.boolean(),
  })
  .map(({ n, seed, grid }) => {
    const rng = createRng(seed);
    const p = Array.from({ length: n }, () => (grid ? rng.int(5) / 4 : rng.next()));
    const y = p.map((v) => (rng.next() < v ? 1 : 0));
    return { p, y };
  });

test("properties: AUROC is the pairwise win rate (ties 1/2); Brier the mean square; ECE the binned definition", () => {
  fc.assert(
    fc.property(caseArb, fc.integer({ min: 1, max: 15 }), ({ p, y }, bins) => {
      let wins = 0;
      let pairs = 0;
      for (let i = 0; i < p.length; i++)
        for (let j = 0; j < p.length; j++)
          if (y[i] === 1 && y[j] === 0) {
            pairs++;
            wins += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0;
          }
      const a = auroc(p, y);
      if (pairs === 0) assert.equal(a, null);
      else assert.ok(Math.abs(a! - wins / pairs) < 1e-12);
      const b = p.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / p.length;
      assert.ok(Math.abs(brier(p, y) - b) < 1e-12);
      let e = 0;
      for (let k = 0; k < bins; k++) {
        const idx = p.map((_, i) => i).filter((i) => Math.min(bins - 1, Math.floor(p[i]! * bins)) === k);
        if (idx.length === 0) continue;
        const my = idx.reduce((s, i) => s + y[i]!, 0) / idx.length;
        const mp = idx.reduce((s, i) => s + p[i]!, 0) / idx.length;
        e += (idx.length / p.length) * Math.abs(my - mp);
      }
      assert.ok(Math.abs(ece(p, y, bins) - e) < 1e-12);
      // AUROC depends only on the order of the scores; a perfect ranking scores 1.
      if (a !== null)
        assert.ok(
          Math.abs(
            auroc(
              p.map((v) => 3 * v - 1),
              y,
            )! - a,
          ) < 1e-12,
        );
      if (pairs > 0) assert.equal(auroc(y, y), 1);
    }),
    { numRuns: 200, seed: 5 },
  );
});

test("AUROC and Brier equal scikit-learn's roc_auc_score and brier_score_loss; ECE the numpy reference (1e-12)", () => {
  const rng = createRng(42);
  const cases = Array.from({ length: 40 }, (_, c) => {
    const n = 5 + rng.int(400);
    const p = Array.from({ length: n }, () => (c % 2 === 0 ? rng.int(11) / 10 : rng.next()));
    return { p, y: p.map((v) => (rng.next() < v ? 1 : 0)), bins: 1 + rng.int(20) };
  });
  const r = spawnSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "score_calibration_reference.py")],
    {
      input: JSON.stringify({ cases }),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const ref = (JSON.parse(r.stdout) as { results: { auroc: number | null; brier: number; ece: number }[] })
    .results;
  cases.forEach((c, i) => {
    const a = auroc(c.p, c.y);
    const want = ref[i]!.auroc;
    if (want === null) assert.equal(a, null);
    else assert.ok(Math.abs(a! - want) < 1e-12, `case ${i} AUROC ${a} vs ${want}`);
    assert.ok(Math.abs(brier(c.p, c.y) - ref[i]!.brier) < 1e-12, `case ${i} Brier`);
    assert.ok(Math.abs(ece(c.p, c.y, c.bins) - ref[i]!.ece) < 1e-12, `case ${i} ECE`);
  });
});

test("bad inputs are RouterlabErrors naming the field; scores outside [0, 1] get AUROC only", () => {
  assert.throws(
    () => brier([0.5, 1.2], [0, 1]),
    (e) => e instanceof RouterlabError && /scores\[1\]/.test(e.message),
  );
  assert.throws(
    () => auroc([0.5], [2]),
    (e) => e instanceof RouterlabError && /labels\[0\]/.test(e.message),
  );
  assert.throws(() => ece([0.5], [1, 0]), RouterlabError);
  const s = scoreCalibration([-1, 2, 3], [0, 1, 1]);
  assert.equal(s.auroc, 1);
  assert.equal(s.brier, null);
  assert.match(s.note!, /not probabilities/);
});
