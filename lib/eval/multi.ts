/**
 * Multi-model routing metrics (§9-§10 of the metrics spec): willingness-to-pay sweeps, Pareto frontier,
 * RouterBench's non-decreasing convex hull, AIQ over one common interval and the Zero router.
 * Matrices are N x M row-major Float64Arrays, as in RoutingData.
 */

import { createRng } from "../util/random";
import { percentileInterval } from "../util/quantile";

export interface CostQuality {
  readonly cost: number;
  readonly quality: number;
}

export interface WtpPoint extends CostQuality {
  readonly lambda: number;
  /** Share of queries routed to each model (length M). */
  readonly share: number[];
}

/**
 * π_λ(q) = argmax_m λ·P̂_m(q) − Ĉ_m(q); ties go to the lowest model index. NaN predictions or estimated
 * costs exclude a model for that query. Returns the chosen model index per query.
 */
export function wtpChoose(
  predicted: Float64Array,
  estimatedCost: Float64Array,
  nModels: number,
  lambda: number,
): Int32Array {
  const n = predicted.length / nModels;
  const out = new Int32Array(n);
  for (let q = 0; q < n; q++) {
    let best = -1;
    let bestV = -Infinity;
    for (let m = 0; m < nModels; m++) {
      const p = predicted[q * nModels + m]!;
      const c = estimatedCost[q * nModels + m]!;
      if (Number.isNaN(p) || Number.isNaN(c)) continue;
      // λ = Infinity would give NaN for p = 0; treat it as "best predicted, then cheapest".
      const v = lambda === Infinity ? p : lambda * p - c;
      if (
        v > bestV ||
        (lambda === Infinity && v === bestV && best >= 0 && c < estimatedCost[q * nModels + best]!)
      ) {
        bestV = v;
        best = m;
      }
    }
    if (best < 0) throw new Error(`wtp: query ${q} has no model with a prediction and a cost`);
    out[q] = best;
  }
  return out;
}

/** Realised (cost, quality) of a per-query choice, with per-model shares. */
export function policyPoint(
  choice: Int32Array,
  trueQuality: Float64Array,
  cost: Float64Array,
  nModels: number,
): CostQuality & { share: number[] } {
  const n = choice.length;
  let q = 0;
  let c = 0;
  const counts = new Array<number>(nModels).fill(0);
  for (let i = 0; i < n; i++) {
    const m = choice[i]!;
    q += trueQuality[i * nModels + m]!;
    c += cost[i * nModels + m]!;
    counts[m]!++;
  }
  return { cost: c / n, quality: q / n, share: counts.map((k) => k / n) };
}

/** A log grid of λ from `min` to `max` (inclusive), with 0 prepended (cheapest per query). */
/**
 * The one willingness-to-pay λ grid (log-spaced 1e-7 .. 1e3) that `routerlab evaluate` and the main job sweep;
 * `count` points (default 40).
 */
export function wtpLambdas(count = 40): number[] {
  return lambdaGrid(1e-7, 1e3, count);
}

export function lambdaGrid(min: number, max: number, count: number): number[] {
  const out = [0];
  const a = Math.log(min);
  const b = Math.log(max);
  for (let i = 0; i < count; i++) out.push(Math.exp(a + ((b - a) * i) / Math.max(1, count - 1)));
  return out;
}

/** Cost-quality operating points of π_λ for each λ. `estimatedCost` defaults to the true cost. */
export function wtpCurve(
  predicted: Float64Array,
  trueQuality: Float64Array,
  cost: Float64Array,
  nModels: number,
  lambdas: readonly number[],
  estimatedCost: Float64Array = cost,
): WtpPoint[] {
  return lambdas.map((lambda) => {
    const choice = wtpChoose(predicted, estimatedCost, nModels, lambda);
    return { lambda, ...policyPoint(choice, trueQuality, cost, nModels) };
  });
}

/** Points not dominated by another (no other is at most as costly and strictly better, or cheaper and as good). Sorted by cost. */
export function paretoFrontier<T extends CostQuality>(points: readonly T[]): T[] {
  const sorted = points
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.cost - b.p.cost || b.p.quality - a.p.quality || a.i - b.i);
  const out: T[] = [];
  let best = -Infinity;
  for (const { p } of sorted) {
    if (p.quality > best) {
      out.push(p);
      best = p.quality;
    }
  }
  return out;
}

/**
 * RouterBench's R̃: the upper concave envelope of the points ordered by cost, truncated at its
 * best-quality vertex (to the right of it quality stays flat). Returns the hull vertices by cost.
 */
export function upperHullNonDecreasing(points: readonly CostQuality[]): CostQuality[] {
  if (points.length === 0) return [];
  const sorted = points
    .map((p) => ({ cost: p.cost, quality: p.quality }))
    .sort((a, b) => a.cost - b.cost || a.quality - b.quality);
  // Keep the best quality per cost.
  const dedup: CostQuality[] = [];
  for (const p of sorted) {
    const last = dedup[dedup.length - 1];
    if (last && last.cost === p.cost) dedup[dedup.length - 1] = p;
    else dedup.push(p);
  }
  const hull: CostQuality[] = [];
  for (const p of dedup) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      // Remove b when it lies on or below the segment a -> p (cross >= 0).
      const cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
      if (cross >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  let bestI = 0;
  for (let i = 1; i < hull.length; i++) if (hull[i]!.quality > hull[bestI]!.quality) bestI = i;
  return hull.slice(0, bestI + 1);
}

/** R̃(c): linear between hull vertices, flat after the last; NaN before the first (not achievable). */
export function hullValue(hull: readonly CostQuality[], c: number): number {
  if (hull.length === 0) return NaN;
  if (c < hull[0]!.cost) return NaN;
  for (let i = 0; i + 1 < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[i + 1]!;
    if (c <= b.cost) return a.quality + ((c - a.cost) * (b.quality - a.quality)) / (b.cost - a.cost);
  }
  return hull[hull.length - 1]!.quality;
}

export interface AiqInterval {
  readonly cMin: number;
  readonly cMax: number;
}

/**
 * AIQ = (1 / (cMax − cMin)) ∫ R̃(c) dc over [cMin, cMax], the paper definition over a common interval.
 * The hull must start at or before cMin (include the all-cheapest point).
 */
export function aiq(points: readonly CostQuality[], interval: AiqInterval): number {
  const { cMin, cMax } = interval;
  if (!(cMax > cMin)) throw new Error(`aiq: empty interval [${cMin}, ${cMax}]`);
  const hull = upperHullNonDecreasing(points);
  if (hull.length === 0) throw new Error("aiq: no points");
  if (hull[0]!.cost > cMin)
    throw new Error(
      `aiq: the router's cheapest point costs ${hull[0]!.cost}, above the interval start ${cMin}; include the all-cheapest point`,
    );
  // Breakpoints inside the interval.
  const xs = [cMin];
  for (const v of hull) if (v.cost > cMin && v.cost < cMax) xs.push(v.cost);
  xs.push(cMax);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const a = xs[i]!;
    const b = xs[i + 1]!;
    area += ((b - a) * (hullValue(hull, a) + hullValue(hull, b))) / 2;
  }
  return area / (cMax - cMin);
}

/** The common AIQ interval: cheapest single-model cost to the largest cost among the compared routers. */
export function commonInterval(
  singleModels: readonly CostQuality[],
  routers: readonly (readonly CostQuality[])[],
): AiqInterval {
  const cMin = Math.min(...singleModels.map((p) => p.cost));
  let cMax = Math.max(...singleModels.map((p) => p.cost));
  for (const r of routers) for (const p of r) cMax = Math.max(cMax, p.cost);
  return { cMin, cMax };
}

/** The Zero router: the non-decreasing hull of the single-model points (mixing two models reaches the segment). */
export function zeroRouter(singleModelPoints: readonly CostQuality[]): CostQuality[] {
  return upperHullNonDecreasing(singleModelPoints);
}

/**
 * Mean quality and cost of "always model m", for every model; NaN entries are skipped. Optional integer weights per
 * query (a bootstrap resample's counts; a zero weight leaves the query out); none = every query once.
 */
export function singleModelPoints(
  quality: Float64Array,
  cost: Float64Array,
  nModels: number,
  weights?: ArrayLike<number>,
): CostQuality[] {
  const n = quality.length / nModels;
  const out: CostQuality[] = [];
  for (let m = 0; m < nModels; m++) {
    let q = 0;
    let c = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const w = weights ? weights[i]! : 1;
      const y = quality[i * nModels + m]!;
      const z = cost[i * nModels + m]!;
      if (Number.isNaN(y) || Number.isNaN(z) || w === 0) continue;
      q += w * y;
      c += w * z;
      k += w;
    }
    out.push({ cost: k ? c / k : NaN, quality: k ? q / k : NaN });
  }
  return out;
}

/**
 * The multi-model comparison's AIQs from per-query decisions, with integer weights per query (a bootstrap
 * resample's counts; all ones = the plain test set). `policies[r]` lists router r's decisions (model index per
 * query): its own argmax and one per λ of its sweep. Each router's AIQ is over the hull of its points plus the
 * cheapest single model, on the common interval of `commonInterval`; `zero` is the Zero router's AIQ on it.
 * When every point costs the same the interval is empty and every AIQ is NaN.
 */
export function multiAiqs(
  quality: Float64Array,
  cost: Float64Array,
  nModels: number,
  policies: readonly (readonly Int32Array[])[],
  weights?: ArrayLike<number>,
): { zero: number; routers: number[]; interval: AiqInterval } {
  const n = quality.length / nModels;
  const w = (i: number): number => (weights ? weights[i]! : 1);
  const singles = singleModelPoints(quality, cost, nModels, weights);
  let total = 0;
  for (let i = 0; i < n; i++) total += w(i);
  const pointOf = (choice: Int32Array): CostQuality => {
    let q = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (w(i) === 0) continue;
      q += w(i) * quality[i * nModels + choice[i]!]!;
      c += w(i) * cost[i * nModels + choice[i]!]!;
    }
    return { cost: c / total, quality: q / total };
  };
  const cheapest = singles.reduce((a, b) => (b.cost < a.cost ? b : a));
  const routerPoints = policies.map((ps) => [cheapest, ...ps.map(pointOf)]);
  const interval = commonInterval(singles, routerPoints);
  // Every model and router costs the same on these rows (a tiny resample can do this): AIQ is undefined there.
  if (!(interval.cMax > interval.cMin)) return { zero: NaN, routers: policies.map(() => NaN), interval };
  return {
    zero: aiq(zeroRouter(singles), interval),
    routers: routerPoints.map((pts) => aiq(pts, interval)),
    interval,
  };
}

export interface AiqBootstrap {
  readonly resamples: number;
  /** Resamples left out because every model cost the same on them (no AIQ interval); 0 on any real data. */
  readonly degenerate: number;
  readonly seed: number;
  readonly level: number;
  readonly zero: { lo: number; hi: number };
  /** Per router: its AIQ interval and the interval of its paired difference to the Zero router. */
  readonly routers: { lo: number; hi: number; diffLo: number; diffHi: number }[];
}

/**
 * Percentile bootstrap intervals of every router's AIQ, the Zero router's, and each router's paired difference to
 * the Zero router, over resamples of the test queries (seeded; every resample recomputes the single models, the
 * common interval and every hull). Decisions are fixed: the routers are not refitted.
 */
export function bootstrapAiq(
  quality: Float64Array,
  cost: Float64Array,
  nModels: number,
  policies: readonly (readonly Int32Array[])[],
  resamples = 1000,
  seed = 0,
  level = 0.95,
): AiqBootstrap {
  const n = quality.length / nModels;
  const rng = createRng(seed);
  const counts = new Int32Array(n);
  const zero: number[] = [];
  const per = policies.map(() => ({ aiq: [] as number[], diff: [] as number[] }));
  let degenerate = 0;
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(n)]!++;
    const r = multiAiqs(quality, cost, nModels, policies, counts);
    if (Number.isNaN(r.zero)) {
      degenerate++;
      continue;
    }
    zero.push(r.zero);
    r.routers.forEach((a, j) => {
      per[j]!.aiq.push(a);
      per[j]!.diff.push(a - r.zero);
    });
  }
  const z = percentileInterval(zero, level);
  return {
    resamples,
    degenerate,
    seed,
    level,
    zero: z,
    routers: per.map((p) => {
      const a = percentileInterval(p.aiq, level);
      const d = percentileInterval(p.diff, level);
      return { lo: a.lo, hi: a.hi, diffLo: d.lo, diffHi: d.hi };
    }),
  };
}
