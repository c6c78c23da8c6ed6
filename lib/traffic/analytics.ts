/**
 * Decision analytics over the gateway's own traffic (pure functions): routing share per model and
 * per strategy over time, latency and token cost per model, fallback and error rates, experiment
 * variants compared with intervals, and drift of the live router scores against the calibration set
 * (the KS check of lib/calibrate) with a "recalibrate" signal.
 *
 * Inputs are `routeiq.router_decision.v1` decisions as the loaders and `routerlab collect` give
 * them (lib/data/traces.ts, lib/collect/read.ts) and LLM spans reduced to model, latency, tokens.
 */
import type { DriftCheck } from "../calibrate/calibrate";
import { driftCheck } from "../calibrate/calibrate";
import type { RouterDecision } from "../data/decisions";
import { quantileSorted } from "../util/quantile";
import { costUsd } from "../llm/cost";

export interface TrafficDecision {
  decision: RouterDecision;
  /** `router.strategy_version` of the span, when known. */
  strategyVersion?: string | null;
}

export interface TrafficCall {
  model: string;
  durationSeconds: number;
  inputTokens: number | null;
  outputTokens: number | null;
  error: boolean;
}

export interface Interval {
  lo: number;
  hi: number;
}

const Z95 = 1.959963984540054;

/** Wilson score interval of a proportion k/n (95% by default); [0, 1] when n is 0. */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (n === 0) return { lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** Newcombe's hybrid score interval for p1 - p2 (method 10), from the two Wilson intervals. */
export function newcombeDiff(k1: number, n1: number, k2: number, n2: number, z = Z95): Interval {
  const p1 = n1 > 0 ? k1 / n1 : 0;
  const p2 = n2 > 0 ? k2 / n2 : 0;
  const a = wilson(k1, n1, z);
  const b = wilson(k2, n2, z);
  const d = p1 - p2;
  return {
    lo: d - Math.sqrt((p1 - a.lo) ** 2 + (b.hi - p2) ** 2),
    hi: d + Math.sqrt((a.hi - p1) ** 2 + (p2 - b.lo) ** 2),
  };
}

const NONE = "(none)";

function labelOf(d: RouterDecision): string {
  return d.selected_deployment ?? NONE;
}

function strategyOf(t: TrafficDecision): string {
  const v = t.strategyVersion ?? t.decision.strategy_version;
  return v ? `${t.decision.strategy_name}@${v}` : t.decision.strategy_name;
}

export interface ShareOverTime {
  /** Bucket starts, ms since the epoch. */
  buckets: number[];
  keys: string[];
  /** counts[key][bucket]. */
  counts: number[][];
  /** shares[key][bucket]: the key's share of its bucket's decisions (0 for an empty bucket). */
  shares: number[][];
  totals: number[];
}

/** Routing share per selected model or per strategy (name@version) in time buckets of `bucketMs`. */
export function shareOverTime(
  decisions: readonly TrafficDecision[],
  by: "model" | "strategy",
  bucketMs: number,
): ShareOverTime {
  if (!(bucketMs > 0)) throw new Error("bucketMs must be positive");
  if (decisions.length === 0) return { buckets: [], keys: [], counts: [], shares: [], totals: [] };
  const times = decisions.map((t) => t.decision.timestamp_unix_ms);
  const first = Math.floor(Math.min(...times) / bucketMs) * bucketMs;
  const nb = Math.floor((Math.max(...times) - first) / bucketMs) + 1;
  const keyOf = by === "model" ? (t: TrafficDecision) => labelOf(t.decision) : strategyOf;
  const keys = [...new Set(decisions.map(keyOf))].sort();
  const idx = new Map(keys.map((k, i) => [k, i]));
  const counts = keys.map(() => new Array<number>(nb).fill(0));
  const totals = new Array<number>(nb).fill(0);
  decisions.forEach((t, i) => {
    const b = Math.floor((times[i]! - first) / bucketMs);
    counts[idx.get(keyOf(t))!]![b]!++;
    totals[b]!++;
  });
  return {
    buckets: Array.from({ length: nb }, (_, b) => first + b * bucketMs),
    keys,
    counts,
    shares: counts.map((row) => row.map((c, b) => (totals[b]! > 0 ? c / totals[b]! : 0))),
    totals,
  };
}

export interface ModelUsage {
  model: string;
  calls: number;
  errorRate: number;
  latency: { mean: number; p50: number; p95: number };
  inputTokens: number;
  outputTokens: number;
  /** USD over all calls at the given prices; null without a price for the model or token counts. */
  costUsd: number | null;
  costPerCallUsd: number | null;
}

/** Latency, tokens, cost and error rate per answering model. Prices are USD per million tokens. */
export function modelUsage(
  calls: readonly TrafficCall[],
  prices: Readonly<Record<string, { inputPricePerMTok: number; outputPricePerMTok: number }>> = {},
): ModelUsage[] {
  const groups = new Map<string, TrafficCall[]>();
  for (const c of calls) {
    const g = groups.get(c.model);
    if (g) g.push(c);
    else groups.set(c.model, [c]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([model, g]) => {
      const lat = Float64Array.from(g.map((c) => c.durationSeconds)).sort();
      const inTok = g.reduce((s, c) => s + (c.inputTokens ?? 0), 0);
      const outTok = g.reduce((s, c) => s + (c.outputTokens ?? 0), 0);
      const price = prices[model];
      const known = g.every((c) => c.inputTokens !== null && c.outputTokens !== null);
      const cost = price && known ? costUsd(price, inTok, outTok) : null;
      return {
        model,
        calls: g.length,
        errorRate: g.filter((c) => c.error).length / g.length,
        latency: {
          mean: lat.reduce((s, x) => s + x, 0) / lat.length,
          p50: quantileSorted(lat, 0.5),
          p95: quantileSorted(lat, 0.95),
        },
        inputTokens: inTok,
        outputTokens: outTok,
        costUsd: cost,
        costPerCallUsd: cost === null ? null : cost / g.length,
      };
    });
}

const ERROR_STATUSES = new Set(["failure", "error", "timeout", "no_candidates"]);

export interface OutcomeRates {
  strategy: string;
  n: number;
  fallbacks: number;
  fallbackRate: Interval & { p: number };
  errors: number;
  errorRate: Interval & { p: number };
  /** Decisions per outcome status. */
  status: Record<string, number>;
  /** Decisions where the router made no prediction (selection_reason "no_prediction"). */
  noPrediction: number;
}

/** Fallback and error rates (with Wilson intervals) per strategy, plus "(all)". */
export function outcomeRates(decisions: readonly TrafficDecision[]): OutcomeRates[] {
  const groups = new Map<string, TrafficDecision[]>([["(all)", [...decisions]]]);
  for (const t of decisions) {
    const k = strategyOf(t);
    const g = groups.get(k);
    if (g) g.push(t);
    else groups.set(k, [t]);
  }
  return [...groups.entries()].map(([strategy, g]) => {
    const fallbacks = g.filter(
      (t) => t.decision.fallback.fallback_triggered || t.decision.outcome.status === "fallback",
    ).length;
    const errors = g.filter((t) => ERROR_STATUSES.has(t.decision.outcome.status)).length;
    const status: Record<string, number> = {};
    for (const t of g) status[t.decision.outcome.status] = (status[t.decision.outcome.status] ?? 0) + 1;
    const n = g.length;
    return {
      strategy,
      n,
      fallbacks,
      fallbackRate: { p: n > 0 ? fallbacks / n : 0, ...wilson(fallbacks, n) },
      errors,
      errorRate: { p: n > 0 ? errors / n : 0, ...wilson(errors, n) },
      status,
      noPrediction: g.filter((t) => t.decision.selection_reason === "no_prediction").length,
    };
  });
}

export interface VariantStats {
  experiment: string;
  variant: string;
  n: number;
  strongShare: Interval & { p: number };
  errorRate: Interval & { p: number };
  /** Mean routing overhead (timings.total_ms) with a normal 95% interval. */
  routingMs: Interval & { mean: number };
}

export interface VariantComparison {
  experiment: string;
  /** The reference variant (first in name order) and the one compared with it. */
  a: string;
  b: string;
  /** b - a, with Newcombe intervals for proportions and a Welch interval for means. */
  strongShareDiff: Interval & { d: number };
  errorRateDiff: Interval & { d: number };
  routingMsDiff: Interval & { d: number };
}

function meanInterval(xs: readonly number[]): Interval & { mean: number; variance: number } {
  const n = xs.length;
  const mean = n > 0 ? xs.reduce((s, x) => s + x, 0) / n : 0;
  const variance = n > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  const half = n > 0 ? Z95 * Math.sqrt(variance / n) : Infinity;
  return { mean, variance, lo: mean - half, hi: mean + half };
}

/**
 * A/B experiments seen in the decisions (`experiment.experiment_id` / `variant`): per variant the
 * strong share (decisions selecting `strongModel`), error rate and routing overhead, and every
 * variant compared with the first one.
 */
export function compareVariants(
  decisions: readonly TrafficDecision[],
  strongModel: string,
): { variants: VariantStats[]; comparisons: VariantComparison[] } {
  const groups = new Map<string, Map<string, RouterDecision[]>>();
  for (const t of decisions) {
    const e = t.decision.experiment;
    const id = typeof e?.experiment_id === "string" ? e.experiment_id : null;
    const v = typeof e?.variant === "string" ? e.variant : null;
    if (id === null || v === null) continue;
    const byVariant = groups.get(id) ?? new Map<string, RouterDecision[]>();
    groups.set(id, byVariant);
    const list = byVariant.get(v);
    if (list) list.push(t.decision);
    else byVariant.set(v, [t.decision]);
  }
  const variants: VariantStats[] = [];
  const comparisons: VariantComparison[] = [];
  for (const [experiment, byVariant] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const stats = [...byVariant.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([variant, ds]) => {
        const strong = ds.filter((d) => d.selected_deployment === strongModel).length;
        const errors = ds.filter((d) => ERROR_STATUSES.has(d.outcome.status)).length;
        const ms = meanInterval(ds.map((d) => d.timings.total_ms));
        return {
          stats: {
            experiment,
            variant,
            n: ds.length,
            strongShare: { p: strong / ds.length, ...wilson(strong, ds.length) },
            errorRate: { p: errors / ds.length, ...wilson(errors, ds.length) },
            routingMs: { mean: ms.mean, lo: ms.lo, hi: ms.hi },
          },
          strong,
          errors,
          ms,
        };
      });
    variants.push(...stats.map((s) => s.stats));
    const a = stats[0]!;
    for (const b of stats.slice(1)) {
      const na = a.stats.n;
      const nb = b.stats.n;
      const d = b.ms.mean - a.ms.mean;
      const half = Z95 * Math.sqrt(b.ms.variance / nb + a.ms.variance / na);
      comparisons.push({
        experiment,
        a: a.stats.variant,
        b: b.stats.variant,
        strongShareDiff: { d: b.strong / nb - a.strong / na, ...newcombeDiff(b.strong, nb, a.strong, na) },
        errorRateDiff: { d: b.errors / nb - a.errors / na, ...newcombeDiff(b.errors, nb, a.errors, na) },
        routingMsDiff: { d, lo: d - half, hi: d + half },
      });
    }
  }
  return { variants, comparisons };
}

/** The router's score for `strongModel` in each decision that has one (candidate_deployments[].score). */
export function liveScores(decisions: readonly TrafficDecision[], strongModel: string): number[] {
  const out: number[] = [];
  for (const t of decisions) {
    const c = t.decision.candidate_deployments.find((x) => x.model_name === strongModel);
    if (c && typeof c.score === "number" && Number.isFinite(c.score)) out.push(c.score);
  }
  return out;
}

/** What drift needs of a calibration record (lib/calibrate/record.ts): the threshold and its strong-share interval. */
export interface ShareCalibration {
  threshold: number;
  intervals: { share: { lo?: number | null; hi?: number | null } };
}

export interface ScoreDrift {
  n: number;
  ks: DriftCheck | null;
  /** Share of live scores at or above the calibrated threshold, with its Wilson interval. */
  liveShare: (Interval & { p: number }) | null;
  /** The calibration record's share interval, when a record is given. */
  calibratedShare: Interval | null;
  recalibrate: boolean;
  reasons: string[];
}

/**
 * Drift of the live score distribution against the calibration set's scores (two-sample KS at
 * `alpha`), and, with a calibration record, whether the live strong share at its threshold left
 * the record's interval. `recalibrate` is true when either says so; `reasons` says which. Fewer
 * than `minN` live scores never signal.
 */
export function scoreDrift(
  referenceScores: readonly number[],
  live: readonly number[],
  opts: { record?: ShareCalibration; alpha?: number; minN?: number } = {},
): ScoreDrift {
  const minN = opts.minN ?? 30;
  const alpha = opts.alpha ?? 0.01;
  const reasons: string[] = [];
  if (live.length < minN || referenceScores.length === 0)
    return {
      n: live.length,
      ks: null,
      liveShare: null,
      calibratedShare: null,
      recalibrate: false,
      reasons: [`only ${live.length} live scores (need ${minN})`],
    };
  const ks = driftCheck(referenceScores, live, alpha);
  if (ks.drifted)
    reasons.push(
      `score distribution drifted: KS D = ${ks.statistic.toFixed(3)}, p = ${ks.pValue.toPrecision(3)} < ${alpha}`,
    );
  let liveShare: ScoreDrift["liveShare"] = null;
  let calibratedShare: Interval | null = null;
  if (opts.record) {
    const k = live.filter((s) => s >= opts.record!.threshold).length;
    liveShare = { p: k / live.length, ...wilson(k, live.length) };
    const ci = opts.record.intervals.share;
    if (typeof ci.lo === "number" && typeof ci.hi === "number") {
      calibratedShare = { lo: ci.lo, hi: ci.hi };
      // the live interval and the calibrated one do not overlap: the operating point moved
      if (liveShare.hi < ci.lo || liveShare.lo > ci.hi)
        reasons.push(
          `strong share at threshold ${opts.record.threshold.toPrecision(4)} is ${(liveShare.p * 100).toFixed(1)}% ` +
            `[${(liveShare.lo * 100).toFixed(1)}, ${(liveShare.hi * 100).toFixed(1)}], outside the calibrated ` +
            `[${(ci.lo * 100).toFixed(1)}, ${(ci.hi * 100).toFixed(1)}]`,
        );
    }
  }
  return { n: live.length, ks, liveShare, calibratedShare, recalibrate: reasons.length > 0, reasons };
}

/** scoreDrift per time window of `windowMs` (decisions in timestamp order): when the signal starts to fire. */
export function driftOverTime(
  referenceScores: readonly number[],
  decisions: readonly TrafficDecision[],
  strongModel: string,
  windowMs: number,
  opts: Parameters<typeof scoreDrift>[2] = {},
): { start: number; drift: ScoreDrift }[] {
  if (!(windowMs > 0)) throw new Error("windowMs must be positive");
  if (decisions.length === 0) return [];
  const sorted = [...decisions].sort((a, b) => a.decision.timestamp_unix_ms - b.decision.timestamp_unix_ms);
  const first = Math.floor(sorted[0]!.decision.timestamp_unix_ms / windowMs) * windowMs;
  const windows = new Map<number, TrafficDecision[]>();
  for (const t of sorted) {
    const w = first + Math.floor((t.decision.timestamp_unix_ms - first) / windowMs) * windowMs;
    const list = windows.get(w);
    if (list) list.push(t);
    else windows.set(w, [t]);
  }
  return [...windows.entries()].map(([start, ds]) => ({
    start,
    drift: scoreDrift(referenceScores, liveScores(ds, strongModel), opts),
  }));
}
