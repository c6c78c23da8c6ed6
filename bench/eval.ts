import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { BinarySweep } from "../lib/eval/binary";
import { cacheDir, projectRoot, venvPython } from "../lib/util/paths";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

/**
 * Evaluation benchmarks.
 * - Speed: a sweep of 1,000 thresholds over 100,000 queries (sort + prefix sums + binary search), against
 *   the same algorithm vectorised in numpy (python/peers/metrics_reference.py `sweep_bench`), in the same run.
 * - Quality (accuracy figures, valid under any load): every router of the main job, 5-fold out-of-fold on MMLU,
 *   GSM8K and MT-Bench (APGR, CPT(50%), CPT(80%) with bootstrap intervals), read from the main job's own
 *   summary.json, against the RouteLLM paper's best published figures; every multi-model router's AIQ with its
 *   interval on the LLMRouter data vs the Zero router, and the goals.
 * - Speed: the main job (`routerlab run`, what `npm start` runs) warm and cold.
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
  const out = execFileSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "metrics_reference.py")],
    {
      input: JSON.stringify({ cases: [{ kind: "sweep_bench", file, n, thresholds, repeats: 3 }] }),
      maxBuffer: 64 * 1024 * 1024,
    },
  );
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

/** A bootstrap interval as summary.json writes it (null: no resample reached the figure, e.g. CPT(80%)). */
const IntervalSchema = z.object({ lo: z.number().nullable(), hi: z.number().nullable() });

/** What the bench reads back from the main job's `summary.json` (schema routerlab.main-job.v1). */
const MainSummarySchema = z.object({
  schema: z.literal("routerlab.main-job.v1"),
  seconds: z.number(),
  embedding: z.object({ texts: z.number(), hits: z.number(), misses: z.number(), seconds: z.number() }),
  binary: z.array(
    z.object({
      dataset: z.string(),
      n: z.number(),
      routers: z.array(
        z.object({
          router: z.string(),
          apgr: z.number().nullable(),
          apgrInterval: IntervalSchema,
          cpt50: z.number().nullable(),
          cpt50Interval: IntervalSchema,
          cpt80: z.number().nullable(),
          cpt80Interval: IntervalSchema,
          fitSeconds: z.number().nullable(),
        }),
      ),
      servable: z
        .object({
          scorers: z.array(
            z.object({
              router: z.string(),
              gatewayFormat: z.string().nullable(),
              cpt50Deterministic: z.number().nullable(),
            }),
          ),
          recommended: z.string().nullable(),
        })
        .optional(),
    }),
  ),
  multi: z
    .object({
      nTest: z.number(),
      zeroAiq: z.number(),
      zeroAiqInterval: IntervalSchema,
      bootstrap: z.object({ resamples: z.number(), seed: z.number(), level: z.number() }),
      oracle: z.object({ quality: z.number(), cost: z.number() }),
      routers: z.array(
        z.object({
          router: z.string(),
          aiq: z.number(),
          aiqInterval: IntervalSchema.extend({
            diffLo: z.number().nullable(),
            diffHi: z.number().nullable(),
          }),
        }),
      ),
    })
    .optional(),
});
export type MainSummary = z.infer<typeof MainSummarySchema>;

interface JobRun {
  seconds: number;
  summary: MainSummary;
}

/**
 * `routerlab run` (what `npm start` runs after its install/build steps) as a child process, with its
 * output (and journal) in a temp folder and, for a cold run, an empty cache folder.
 */
function runMainJobProcess(label: string, cacheDir?: string): JobRun {
  const out = mkdtempSync(path.join(os.tmpdir(), `routerlab-bench-main-${label}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, ROUTERLAB_OUT_DIR: out };
  delete env.MLFLOW_TRACKING_URI;
  delete env.ROUTERLAB_TRACKING_DIR;
  if (cacheDir) env.ROUTERLAB_CACHE_DIR = cacheDir;
  console.error(`[bench] eval.: main job (${label}) -> ${out}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(projectRoot(), "dist", "lib", "cli", "main.js"), "run"], {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`eval bench: main job (${label}) exited with ${r.status ?? r.signal}`);
  const file = path.join(out, "main", "summary.json");
  return { seconds, summary: MainSummarySchema.parse(JSON.parse(readFileSync(file, "utf8"))) };
}

function isWarm(s: MainSummary): boolean {
  return s.embedding.misses === 0 && s.binary.every((b) => b.routers.every((r) => !r.fitSeconds));
}

const load = (): string => `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;

/**
 * The RouteLLM paper's best published figures on the same questions (second-hand, see docs/evaluation.md). MT-Bench's
 * come from Arena-trained routers (routerlab cross-validates over the 80 questions): a reference, not a goal.
 */
const PAPER: Record<string, { apgr: number | null; cpt50: number; cpt80: number | null; goal: boolean }> = {
  "routellm-mmlu": { apgr: 0.603, cpt50: 0.354, cpt80: 0.703, goal: true },
  "routellm-gsm8k": { apgr: null, cpt50: 0.33, cpt80: 0.63, goal: true },
  "routellm-mt-bench": { apgr: 0.802, cpt50: 0.134, cpt80: null, goal: false },
};
const PEER = "RouteLLM paper best (published, Arena-trained)";
/** The sanity bar for GSM8K's CPT(50%) interval: the paper's MMLU CPT(50%). */
const GSM8K_CPT50_UPPER = 0.354;
/** The multi-model quality goal: the best learned router's AIQ on LLMRouter's test queries. */
const AIQ_GOAL = 0.62;
const ACCURACY = "accuracy figure (valid under any load)";
const LEVEL = 0.95;

type Interval = { lo: number | null; hi: number | null };
const ivText = (i: Interval, f: (v: number) => string): string =>
  `[${i.lo === null ? "n/a" : f(i.lo)}, ${i.hi === null ? "n/a" : f(i.hi)}]`;
const pctOf = (v: number): string => `${(100 * v).toFixed(1)}%`;
const key = (router: string): string => router.replace(/ \(baseline\)$/, "").replace(/[^\w-]/g, "_");

/**
 * What a served file reaches (lib/pipeline/servable.ts): each scorer's CPT(50%) with a fixed threshold (metrics.md
 * §7a), and the scorer the main job recommends for the gateway.
 */
function servableFigures(s: MainSummary): BenchResult[] {
  const out: BenchResult[] = [];
  for (const b of s.binary) {
    if (!b.servable) continue;
    const short = b.dataset.replace("routellm-", "");
    for (const r of b.servable.scorers)
      out.push({
        name: `eval.${short}.${key(r.router)}.cpt50_fixed_threshold_strong_share`,
        value: r.cpt50Deterministic ?? NaN,
        unit: "share",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: `reported: CPT(50%) with one fixed threshold (${r.gatewayFormat ?? "not servable"}; lower is better)`,
        met: null,
        accuracy: true,
      });
    const rec = b.routers.find((r) => r.router === b.servable!.recommended);
    if (rec)
      out.push({
        name: `eval.${short}.servable_best.apgr`,
        value: rec.apgr ?? NaN,
        unit: "APGR",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: `reported (recommended for the gateway: ${rec.router})`,
        met: null,
        accuracy: true,
      });
  }
  return out;
}

type BinaryRow = MainSummary["binary"][number]["routers"][number];

/**
 * Per router and dataset: APGR, CPT(50%) and CPT(80%) with their bootstrap intervals, exactly as the main job computes
 * them (5-fold out-of-fold, in-domain), read from its summary.json; then the best router against the paper's best.
 */
function binaryFigures(s: MainSummary): BenchResult[] {
  const out: BenchResult[] = [];
  for (const b of s.binary) {
    const pub = PAPER[b.dataset];
    if (!pub) continue;
    const short = b.dataset.replace("routellm-", "");
    const regime = `5-fold out-of-fold, in-domain, N ${b.n}; ${ACCURACY}`;
    const peerOf = (v: number | null) =>
      v === null ? { peer: null, peerValue: null } : { peer: PEER, peerValue: v };
    for (const r of b.routers) {
      out.push({
        name: `eval.${short}.${key(r.router)}.apgr`,
        value: r.apgr ?? NaN,
        unit: "APGR",
        ...peerOf(pub.apgr),
        ratio: pub.apgr === null || r.apgr === null ? null : r.apgr / pub.apgr,
        goal: `reported (${regime})`,
        met: null,
        accuracy: true,
        interval: { ...r.apgrInterval, level: LEVEL },
      });
      for (const [k, v, iv] of [
        ["cpt50", r.cpt50, r.cpt50Interval],
        ["cpt80", r.cpt80, r.cpt80Interval],
      ] as const) {
        const paper = pub[k];
        out.push({
          name: `eval.${short}.${key(r.router)}.${k}_strong_share`,
          value: v ?? NaN,
          unit: "share",
          ...peerOf(paper),
          ratio: v === null || paper === null ? null : paper / v,
          goal: `reported (lower is better; ${regime})`,
          met: null,
          accuracy: true,
          interval: { ...iv, level: LEVEL },
        });
      }
    }
    // The goal: the best routerlab router (a trained router or the feature-score baseline; not random).
    const candidates = b.routers.filter((r) => !r.router.startsWith("random"));
    const best = (pickBy: (r: BinaryRow) => number) =>
      candidates.reduce((a, c) => (pickBy(c) > pickBy(a) ? c : a));
    const bestApgr = best((r) => r.apgr ?? -Infinity);
    const reference = pub.goal ? "" : " (the paper's routers are Arena-trained: a reference, not a goal)";
    if (bestApgr.apgr !== null)
      out.push({
        name: `eval.${short}.apgr`,
        value: bestApgr.apgr,
        unit: "APGR",
        ...peerOf(pub.apgr),
        ratio: pub.apgr === null ? null : bestApgr.apgr / pub.apgr,
        goal:
          (pub.apgr === null || !pub.goal ? "reported" : `> ${pub.apgr}`) +
          ` (best: ${bestApgr.router}, ${regime})${reference}`,
        met: pub.apgr === null || !pub.goal ? null : bestApgr.apgr > pub.apgr,
        accuracy: true,
        interval: { ...bestApgr.apgrInterval, level: LEVEL },
      });
    for (const k of ["cpt50", "cpt80"] as const) {
      const r = best((x) => -(x[k] ?? Infinity));
      out.push(cptGoal(short, k, r, pub, regime + reference));
    }
  }
  return out;
}

/**
 * The best router's CPT figure against the paper. CPT(50%) is the goal on MMLU and GSM8K; on GSM8K the issue also asks
 * the interval's upper bound to stay below the paper's MMLU figure (35.4%), which 1,307 questions rarely allow: the
 * goal text then says so (docs/evaluation.md, "GSM8K: what was tried").
 */
function cptGoal(
  short: string,
  k: "cpt50" | "cpt80",
  r: BinaryRow,
  pub: (typeof PAPER)[string],
  regime: string,
): BenchResult {
  const v = r[k];
  const iv = k === "cpt50" ? r.cpt50Interval : r.cpt80Interval;
  const paper = pub[k];
  const isGoal = k === "cpt50" && pub.goal && paper !== null;
  const withBound = isGoal && short === "gsm8k";
  let goal = isGoal ? `< ${pctOf(paper!)}` : "reported";
  let met: boolean | null = isGoal ? v !== null && v < paper! : null;
  if (withBound) {
    const upperOk = iv.hi !== null && iv.hi < GSM8K_CPT50_UPPER;
    goal += ` and the interval's upper bound < ${pctOf(GSM8K_CPT50_UPPER)}`;
    if (!upperOk && v !== null && iv.hi !== null) {
      const above = iv.hi - v;
      goal +=
        ` (not met: the upper bound is ${pctOf(iv.hi)}, ${(100 * above).toFixed(1)} pp above the point estimate; ` +
        `that is the sampling uncertainty of CPT(50%) on these questions, so an upper bound under ${pctOf(GSM8K_CPT50_UPPER)} needs a point estimate near ${pctOf(GSM8K_CPT50_UPPER - above)})`;
    }
    met = met === true && upperOk;
  }
  return {
    name: `eval.${short}.${k}_strong_share`,
    value: v ?? NaN,
    unit: "share",
    peer: paper === null ? null : PEER,
    peerValue: paper,
    ratio: v === null || paper === null ? null : paper / v,
    goal: `${goal} (best: ${r.router}, lower is better, interval ${ivText(iv, pctOf)}; ${regime})`,
    met,
    accuracy: true,
    interval: { ...iv, level: LEVEL },
  };
}

/**
 * The main job's multi-model comparison on LLMRouter (lib/pipeline/multi.ts, read from summary.json): every learned
 * router's AIQ with its bootstrap interval against the Zero router's, and the two goals.
 */
function multiFigures(s: MainSummary): BenchResult[] {
  const m = s.multi;
  if (!m || m.routers.length === 0) return [];
  const level = m.bootstrap.level;
  const fmt4 = (v: number): string => v.toFixed(4);
  const where = `main job, ${m.nTest} de-duplicated test queries, ${m.bootstrap.resamples} resamples; ${ACCURACY}`;
  const zero = {
    name: "eval.llmrouter.zero_router.aiq",
    value: m.zeroAiq,
    unit: "AIQ",
    peer: null,
    peerValue: null,
    ratio: null,
    goal: `reported (the Zero router: mixes single models on their hull; ${where})`,
    met: null,
    accuracy: true as const,
    interval: { ...m.zeroAiqInterval, level },
  };
  const perRouter: BenchResult[] = m.routers.map((r) => ({
    name: `eval.llmrouter.${key(r.router)}.aiq`,
    value: r.aiq,
    unit: "AIQ",
    peer: "Zero router (same interval)",
    peerValue: m.zeroAiq,
    ratio: r.aiq / m.zeroAiq,
    goal:
      `> Zero router (paired AIQ − Zero interval ${ivText({ lo: r.aiqInterval.diffLo, hi: r.aiqInterval.diffHi }, fmt4)}; ` +
      `${where})`,
    met: r.aiq > m.zeroAiq,
    accuracy: true,
    interval: { lo: r.aiqInterval.lo, hi: r.aiqInterval.hi, level },
  }));
  const worst = m.routers.reduce((a, b) => (b.aiq < a.aiq ? b : a));
  const best = m.routers.reduce((a, b) => (b.aiq > a.aiq ? b : a));
  return [
    zero,
    ...perRouter,
    {
      name: "eval.llmrouter.learned_routers_beat_zero",
      value: worst.aiq - m.zeroAiq,
      unit: "AIQ",
      peer: "Zero router (same interval)",
      peerValue: m.zeroAiq,
      ratio: null,
      goal: `> 0: every learned multi-model router's AIQ above the Zero router's (value: the worst margin, ${worst.router}; ${where})`,
      met: worst.aiq > m.zeroAiq,
      accuracy: true,
    },
    {
      name: "eval.llmrouter.best_aiq",
      value: best.aiq,
      unit: "AIQ",
      peer: "Zero router (same interval)",
      peerValue: m.zeroAiq,
      ratio: best.aiq / m.zeroAiq,
      goal:
        `>= ${AIQ_GOAL} (best: ${best.router}, interval ${ivText(best.aiqInterval, fmt4)}; the oracle's quality is ` +
        `${fmt4(m.oracle.quality)}; why the goal is out of reach: docs/evaluation.md "Multi-model quality"; ${where})`,
      met: best.aiq >= AIQ_GOAL,
      accuracy: true,
      interval: { lo: best.aiqInterval.lo, hi: best.aiqInterval.hi, level },
    },
  ];
}

export function qualityFigures(s: MainSummary): BenchResult[] {
  return [...binaryFigures(s), ...servableFigures(s), ...multiFigures(s)];
}

/**
 * The main job warm (caches filled: a first run fills them if needed and is not timed as warm) and, only with
 * ROUTERLAB_BENCH_COLD=1 (`npm run bench -- --long`), cold: an empty cache folder (embeddings and trained models),
 * with the provisioned embedding model linked in (provisioning is `npm start`'s one-time install step). The cold
 * run alone takes ~9-10 minutes on a quiet machine, half the default bench's budget (docs/bench/protocol.md).
 */
function mainJobFigures(): BenchResult[] {
  let warm = runMainJobProcess("prime");
  if (!isWarm(warm.summary)) warm = runMainJobProcess("warm");
  if (!isWarm(warm.summary))
    throw new Error("eval bench: the second main-job run still computed embeddings or fits");
  const out: BenchResult[] = [
    {
      name: "eval.main_job_warm_seconds",
      value: warm.seconds,
      unit: "s",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: `< 60 s (node dist/lib/cli/main.js run, caches filled; ${load()} after the run)`,
      met: warm.seconds < 60,
    },
    ...qualityFigures(warm.summary),
  ];
  if (process.env.ROUTERLAB_BENCH_COLD !== "1") {
    console.error(
      "[bench] eval.: the cold main job runs only with --long (ROUTERLAB_BENCH_COLD=1); previous figure kept",
    );
    return out;
  }
  const cache = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-cold-cache-"));
  mkdirSync(path.join(cache, "models"));
  symlinkSync(
    path.join(cacheDir(), "models", "all-MiniLM-L6-v2"),
    path.join(cache, "models", "all-MiniLM-L6-v2"),
  );
  const cold = runMainJobProcess("cold", cache);
  out.push({
    name: "eval.main_job_cold_seconds",
    value: cold.seconds,
    unit: "s",
    peer: null,
    peerValue: null,
    ratio: null,
    goal:
      `<= 480 s (issue 16: under 600 s with normal noise; empty embedding and model caches: ${cold.summary.embedding.misses} texts embedded in ` +
      `${cold.summary.embedding.seconds.toFixed(0)} s; ${load()} after the run)`,
    met: cold.seconds <= 480,
  });
  rmSync(cache, { recursive: true, force: true });
  return out;
}

export const evalBench: BenchArea = {
  prefix: "eval.",
  run: async () => [speed(), ...mainJobFigures()],
};
