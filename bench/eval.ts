import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { llmrouterRouting } from "../lib/data/bundled";
import { BinarySweep, summariseBinary } from "../lib/eval/binary";
import { featureScores } from "../lib/eval/feature-score";
import { dedupeAgainst, evaluateMulti, taskMeanPredictor } from "../lib/eval/multi-eval";
import { loadBinaryDataset } from "../lib/eval/scores-file";
import { projectRoot, venvPython } from "../lib/util/paths";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

/**
 * Evaluation benchmarks.
 * - Speed: a sweep of 1,000 thresholds over 100,000 queries (sort + prefix sums + binary search), against
 *   the same algorithm vectorised in numpy (python/metrics_reference.py `sweep_bench`), in the same run.
 * - Quality: the best routerlab router available to this area, today the feature-score logistic
 *   regression (subject + text shape), 5-fold out-of-fold on MMLU and GSM8K, against the RouteLLM paper's
 *   best published figures; AIQ on the LLMRouter data (per-task quality predictor, λ sweep) vs the Zero router.
 */

function speed(): BenchResult {
  const n = 100_000;
  const rng = createRng(42);
  const scores = new Float64Array(n);
  const yWeak = new Float64Array(n);
  const yStrong = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    scores[i] = rng.next();
    yWeak[i] = rng.next() < 0.6 ? 1 : 0;
    yStrong[i] = rng.next() < 0.6 + 0.3 * scores[i]! ? 1 : 0;
  }
  const thresholds = Array.from({ length: 1000 }, (_, i) => i / 999);
  let best = Infinity;
  let pts = new BinarySweep(scores, yWeak, yStrong).curve({ thresholds });
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    pts = new BinarySweep(scores, yWeak, yStrong).curve({ thresholds });
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-eval-"));
  const file = path.join(dir, "sweep.f64");
  const all = new Float64Array(3 * n);
  all.set(scores, 0);
  all.set(yWeak, n);
  all.set(yStrong, 2 * n);
  writeFileSync(file, Buffer.from(all.buffer));
  const out = execFileSync(venvPython(), [path.join(projectRoot(), "python", "metrics_reference.py")], {
    input: JSON.stringify({ cases: [{ kind: "sweep_bench", file, n, thresholds, repeats: 3 }] }),
    maxBuffer: 64 * 1024 * 1024,
  });
  const peer = z
    .object({
      results: z.array(
        z.object({ seconds: z.number(), x: z.array(z.number()), quality: z.array(z.number()) }),
      ),
    })
    .parse(JSON.parse(out.toString("utf8"))).results[0]!;
  // Same answers as the peer (sorted by x, ours; by threshold, the peer's: compare as sets of points).
  const ours = pts.map((p) => `${p.x.toFixed(12)}:${p.quality.toFixed(12)}`).sort();
  const theirs = peer.x.map((x, i) => `${x.toFixed(12)}:${peer.quality[i]!.toFixed(12)}`).sort();
  if (ours.join() !== theirs.join()) throw new Error("eval bench: routerlab and numpy sweeps disagree");
  return {
    name: "eval.thresholds_1000_over_100k_seconds",
    value: best,
    unit: "s",
    peer: "numpy (argsort + cumsum + searchsorted)",
    peerValue: peer.seconds,
    ratio: peer.seconds / best,
    goal: "< 1 s",
    met: best < 1,
  };
}

function quality(): BenchResult[] {
  const out: BenchResult[] = [];
  const published = {
    "routellm-mmlu": { apgr: 0.603, cpt50: 0.354, cpt80: 0.703 },
    "routellm-gsm8k": { apgr: null, cpt50: 0.33, cpt80: 0.63 },
  } as const;
  for (const name of ["routellm-mmlu", "routellm-gsm8k"] as const) {
    const d = loadBinaryDataset(name);
    const labels = Float64Array.from(d.yStrong, (s, i) => (s > 0 && !(d.yWeak[i]! > 0) ? 1 : 0));
    const scores = featureScores(d.texts, d.groups, labels, { folds: 5, seed: 0 });
    const s = summariseBinary(scores, d.yWeak, d.yStrong);
    const pub = published[name];
    const short = name.replace("routellm-", "");
    const peer = "RouteLLM paper best (published, Arena-trained)";
    if (s.apgr !== null)
      out.push({
        name: `eval.${short}.apgr`,
        value: s.apgr,
        unit: "APGR",
        peer: pub.apgr === null ? null : peer,
        peerValue: pub.apgr,
        ratio: pub.apgr === null ? null : s.apgr / pub.apgr,
        goal: pub.apgr === null ? "reported" : `> ${pub.apgr} (feature-logreg, 5-fold in-domain)`,
        met: pub.apgr === null ? null : s.apgr > pub.apgr,
      });
    for (const [key, p] of [
      ["cpt50", 0.5],
      ["cpt80", 0.8],
    ] as const) {
      const v = key === "cpt50" ? s.cpt50.value : s.cpt80.value;
      const ref = pub[key];
      const isGoal = key === "cpt50";
      out.push({
        name: `eval.${short}.${key}_strong_share`,
        value: v ?? NaN,
        unit: "share",
        peer,
        peerValue: ref,
        ratio: v === null ? null : ref / v,
        goal: isGoal ? `< ${ref} (CPT(${p * 100}%), lower is better)` : "reported (derived paper value)",
        met: isGoal ? v !== null && v < ref : null,
      });
    }
  }
  return out;
}

function aiqFigure(): BenchResult {
  const train = llmrouterRouting("train").data;
  const test = llmrouterRouting("test").data;
  const rows = dedupeAgainst(train, test);
  const M = test.models.length;
  const pred = taskMeanPredictor(train, test, rows);
  const pick = (arr: Float64Array): Float64Array => {
    const out = new Float64Array(rows.length * M);
    rows.forEach((q, i) => out.set(arr.subarray(q * M, q * M + M), i * M));
    return out;
  };
  const e = evaluateMulti("task-mean", pred, pick(test.quality), pick(test.cost), test.models);
  return {
    name: "eval.llmrouter.aiq_vs_zero",
    value: e.aiq,
    unit: "AIQ",
    peer: "Zero router (same interval)",
    peerValue: e.zeroAiq,
    ratio: e.aiq / e.zeroAiq,
    goal: `> Zero router (per-task predictor, ${e.n} deduplicated test queries, interval ${e.interval.cMin.toExponential(3)}-${e.interval.cMax.toExponential(3)} USD)`,
    met: e.aiq > e.zeroAiq,
  };
}

export const evalBench: BenchArea = {
  prefix: "eval.",
  run: async () => [speed(), ...quality(), aiqFigure()],
};
