/**
 * Threshold calibration on the user's own traffic (metrics spec §8): choose t for a target strong share,
 * a target average cost per query or a target PGR; bootstrap 95% intervals (re-deriving t in every
 * resample); verify on a held-out split; flag drift with a two-sample Kolmogorov-Smirnov test.
 *
 * Routing rule everywhere: strong iff score >= t.
 */
import { percentileInterval as sharedPercentileInterval, quantileSorted } from "../util/quantile";
import { sha256Hex } from "../util/hash";
import { createRng } from "../util/random";

export type CalibrationTarget =
  | { readonly kind: "share"; readonly value: number }
  | { readonly kind: "cost"; readonly value: number }
  | { readonly kind: "pgr"; readonly value: number };

/** Scores of one router on a set of queries, with optional outcomes and costs of the weak/strong pair. */
export interface ScoredSet {
  readonly scores: ArrayLike<number>;
  readonly queryIds?: readonly string[];
  readonly yWeak?: ArrayLike<number>;
  readonly yStrong?: ArrayLike<number>;
  readonly cWeak?: ArrayLike<number>;
  readonly cStrong?: ArrayLike<number>;
}

/** A scored set sorted by ascending score, with zeros where outcomes or costs are absent. */
export class SortedSet {
  readonly n: number;
  readonly s: Float64Array;
  readonly yW: Float64Array;
  readonly yS: Float64Array;
  readonly cW: Float64Array;
  readonly cS: Float64Array;
  readonly hasLabels: boolean;
  readonly hasCosts: boolean;

  constructor(set: ScoredSet) {
    const n = set.scores.length;
    if (n === 0) throw new Error("calibration: no scores");
    this.n = n;
    this.hasLabels = set.yWeak !== undefined && set.yStrong !== undefined;
    this.hasCosts = set.cWeak !== undefined && set.cStrong !== undefined;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(set.scores[i]!)) throw new Error(`calibration: score ${i} is not finite`);
    order.sort((a, b) => set.scores[a]! - set.scores[b]! || a - b);
    const pick = (arr: ArrayLike<number> | undefined): Float64Array => {
      const out = new Float64Array(n);
      if (arr) order.forEach((i, r) => (out[r] = arr[i]!));
      return out;
    };
    this.s = pick(set.scores);
    this.yW = pick(set.yWeak);
    this.yS = pick(set.yStrong);
    this.cW = pick(set.cWeak);
    this.cS = pick(set.cStrong);
  }

  /** First ascending index with s >= t (so n - result scores go to strong). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.s[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Realised figures of the rule `score >= t` on a (weighted) set. */
export interface Realised {
  readonly share: number;
  readonly cost: number;
  readonly quality: number;
  readonly pgr: number | null;
}

/** Per-item integer weights (bootstrap counts); null = every item once. */
type Weights = Int32Array | null;

/** Prefix sums over the ascending order, for one weighting. */
class Prefix {
  readonly total: number;
  /** cum[i] = total weight of items < i. */
  readonly cum: Float64Array;
  readonly qW: Float64Array;
  readonly qS: Float64Array;
  readonly cW: Float64Array;
  readonly cS: Float64Array;

  constructor(
    readonly set: SortedSet,
    w: Weights,
  ) {
    const n = set.n;
    this.cum = new Float64Array(n + 1);
    this.qW = new Float64Array(n + 1);
    this.qS = new Float64Array(n + 1);
    this.cW = new Float64Array(n + 1);
    this.cS = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const k = w ? w[i]! : 1;
      this.cum[i + 1] = this.cum[i]! + k;
      this.qW[i + 1] = this.qW[i]! + k * set.yW[i]!;
      this.qS[i + 1] = this.qS[i]! + k * set.yS[i]!;
      this.cW[i + 1] = this.cW[i]! + k * set.cW[i]!;
      this.cS[i + 1] = this.cS[i]! + k * set.cS[i]!;
    }
    this.total = this.cum[n]!;
  }

  /** Realised figures when items from ascending index `k` on go to strong. */
  atIndex(k: number): Realised {
    const n = this.set.n;
    const W = this.total;
    const quality = (this.qW[k]! + this.qS[n]! - this.qS[k]!) / W;
    const cost = (this.cW[k]! + this.cS[n]! - this.cS[k]!) / W;
    const qWeak = this.qW[n]! / W;
    const qStrong = this.qS[n]! / W;
    return {
      share: (W - this.cum[k]!) / W,
      // NaN when the set has no costs (the record stores null).
      cost: this.set.hasCosts ? cost : NaN,
      quality,
      pgr: qStrong === qWeak ? null : (quality - qWeak) / (qStrong - qWeak),
    };
  }

  at(t: number): Realised {
    return this.atIndex(this.set.lowerBound(t));
  }

  /** The value of the weighted sample at 0-based rank r (ranks in ascending order). */
  valueAtRank(r: number): number {
    // Smallest i with cum[i + 1] > r.
    let lo = 0;
    let hi = this.set.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid + 1]! > r) hi = mid;
      else lo = mid + 1;
    }
    return this.set.s[lo]!;
  }

  /** numpy-style linear quantile of the weighted sample. */
  quantile(q: number): number {
    const W = this.total;
    const pos = q * (W - 1);
    const lo = Math.floor(pos);
    const a = this.valueAtRank(lo);
    const b = this.valueAtRank(Math.min(lo + 1, W - 1));
    return quantileSorted([a, b], pos - lo);
  }

  /**
   * Candidate operating points along increasing strong share: index k sends ascending items k..n-1 to
   * strong; only boundaries between distinct scores (and k = n, nobody) are valid.
   */
  *boundaries(): Generator<number> {
    const s = this.set.s;
    yield this.set.n;
    for (let k = this.set.n - 1; k >= 0; k--) if (k === 0 || s[k - 1]! !== s[k]!) yield k;
  }
}

/** The threshold that sends ascending items k.. to strong: s[k], or just above the max for k = n. */
function thresholdAtIndex(set: SortedSet, k: number): number {
  if (k < set.n) return set.s[k]!;
  return nextUp(set.s[set.n - 1]!);
}

/** The smallest double greater than x. */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  let bits = buf.getBigUint64(0);
  bits = x > 0 ? bits + 1n : bits - 1n;
  buf.setBigUint64(0, bits);
  return buf.getFloat64(0);
}

/** Derive t for a target on a (weighted) set. Throws when a cost or quality target cannot be met. */
function deriveThreshold(p: Prefix, target: CalibrationTarget): number {
  const set = p.set;
  switch (target.kind) {
    case "share":
      return p.quantile(1 - target.value);
    case "cost": {
      if (!set.hasCosts) throw new Error("a cost target needs weak and strong costs per query");
      // The largest strong share whose average cost stays within the target.
      let best = -1;
      for (const k of p.boundaries()) if (p.atIndex(k).cost <= target.value) best = k;
      if (best < 0) throw new Error(`no threshold reaches an average cost <= ${target.value}`);
      return thresholdAtIndex(set, best);
    }
    case "pgr": {
      if (!set.hasLabels) throw new Error("a quality target needs weak and strong outcomes per query");
      // First crossing along increasing strong share (metrics spec §8 step 2).
      for (const k of p.boundaries()) {
        const r = p.atIndex(k);
        if (r.pgr !== null && r.pgr >= target.value) return thresholdAtIndex(set, k);
      }
      throw new Error(`no threshold reaches PGR >= ${target.value}`);
    }
  }
}

export interface Interval {
  readonly lo: number;
  readonly hi: number;
}

export interface CalibrationIntervals {
  readonly threshold: Interval;
  /** Predicted strong share on new traffic of the held-out size (resampled t plus sampling noise). */
  readonly share: Interval;
  readonly cost?: Interval;
  readonly quality?: Interval;
  readonly pgr?: Interval;
}

export interface CalibrationResult {
  readonly target: CalibrationTarget;
  readonly threshold: number;
  /** Realised on the calibration set itself (with ties, the share actually achieved, not p). */
  readonly calibration: Realised;
  readonly intervals: CalibrationIntervals;
  readonly resamples: number;
  readonly seed: number;
}

export interface CalibrateOptions {
  readonly resamples?: number;
  readonly seed?: number;
  /** Size of the traffic the share interval predicts (default: the calibration size). */
  readonly newTrafficSize?: number;
  readonly level?: number;
}

/** Calibrates several targets on one set, sharing the bootstrap resamples. */
export function calibrateMany(
  set: ScoredSet | SortedSet,
  targets: readonly CalibrationTarget[],
  opts: CalibrateOptions = {},
): CalibrationResult[] {
  const sorted = set instanceof SortedSet ? set : new SortedSet(set);
  const B = opts.resamples ?? 1000;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  const nNew = opts.newTrafficSize ?? sorted.n;
  const base = new Prefix(sorted, null);
  const thresholds = targets.map((t) => deriveThreshold(base, t));
  const rng = createRng(seed);
  const n = sorted.n;
  const counts = new Int32Array(n);
  const draws = targets.map(() => ({
    t: new Float64Array(B),
    share: new Float64Array(B),
    cost: new Float64Array(B),
    quality: new Float64Array(B),
    pgr: new Float64Array(B),
  }));
  for (let b = 0; b < B; b++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(n)]!++;
    const p = new Prefix(sorted, counts);
    targets.forEach((target, j) => {
      const d = draws[j]!;
      let tb: number;
      try {
        tb = deriveThreshold(p, target);
      } catch {
        tb = NaN; // this resample cannot meet the target
      }
      d.t[b] = tb;
      if (Number.isNaN(tb)) {
        d.share[b] = d.cost[b] = d.quality[b] = d.pgr[b] = NaN;
        return;
      }
      // Share on new traffic: the population share at t_b (the calibration set's own share, an
      // independent plug-in) plus binomial sampling noise of a sample of size nNew.
      const pi = base.at(tb).share;
      d.share[b] = pi + Math.sqrt((pi * (1 - pi)) / nNew) * rng.normal();
      const r = p.at(tb);
      d.cost[b] = r.cost;
      d.quality[b] = r.quality;
      d.pgr[b] = r.pgr ?? NaN;
    });
  }
  return targets.map((target, j) => {
    const d = draws[j]!;
    const iv = (arr: Float64Array): Interval => percentileInterval(arr, level);
    return {
      target,
      threshold: thresholds[j]!,
      calibration: base.at(thresholds[j]!),
      intervals: {
        threshold: iv(d.t),
        share: iv(d.share),
        ...(sorted.hasCosts ? { cost: iv(d.cost) } : {}),
        ...(sorted.hasLabels ? { quality: iv(d.quality), pgr: iv(d.pgr) } : {}),
      },
      resamples: B,
      seed,
    };
  });
}

export function calibrate(
  set: ScoredSet | SortedSet,
  target: CalibrationTarget,
  opts: CalibrateOptions = {},
): CalibrationResult {
  return calibrateMany(set, [target], opts)[0]!;
}

/** Percentile interval of the finite values (lib/util/quantile; re-exported for calibration's callers). */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): Interval {
  return sharedPercentileInterval(values, level);
}

/** Realised figures of `score >= t` on another set (e.g. the held-out split). */
export function realisedAt(set: ScoredSet | SortedSet, t: number): Realised {
  const sorted = set instanceof SortedSet ? set : new SortedSet(set);
  return new Prefix(sorted, null).at(t);
}

export interface HoldoutCheck {
  readonly n: number;
  readonly realised: Realised;
  readonly shareInInterval: boolean;
  readonly costInInterval?: boolean;
  readonly qualityInInterval?: boolean;
}

export function verifyHoldout(result: CalibrationResult, holdout: ScoredSet | SortedSet): HoldoutCheck {
  const sorted = holdout instanceof SortedSet ? holdout : new SortedSet(holdout);
  const r = realisedAt(sorted, result.threshold);
  const inside = (v: number, iv: Interval | undefined): boolean | undefined =>
    iv === undefined ? undefined : v >= iv.lo && v <= iv.hi;
  return {
    n: sorted.n,
    realised: r,
    shareInInterval: inside(r.share, result.intervals.share)!,
    ...(sorted.hasCosts && result.intervals.cost
      ? { costInInterval: inside(r.cost, result.intervals.cost)! }
      : {}),
    ...(sorted.hasLabels && result.intervals.quality
      ? { qualityInInterval: inside(r.quality, result.intervals.quality)! }
      : {}),
  };
}

export interface KsResult {
  /** sup |F1 - F2|. */
  readonly statistic: number;
  /** Asymptotic two-sided p-value (Kolmogorov distribution with Stephens' small-sample correction). */
  readonly pValue: number;
  readonly n1: number;
  readonly n2: number;
}

/** Two-sample Kolmogorov-Smirnov test. */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error("KS test: empty sample");
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n1 && x[i]! <= v) i++;
    while (j < n2 && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n1 - j / n2));
  }
  const en = Math.sqrt((n1 * n2) / (n1 + n2));
  return { statistic: d, pValue: kolmogorovSf((en + 0.12 + 0.11 / en) * d), n1, n2 };
}

/** P(K > lambda) for the Kolmogorov distribution. */
export function kolmogorovSf(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export interface DriftCheck extends KsResult {
  readonly alpha: number;
  readonly drifted: boolean;
}

export function driftCheck(
  calibrationScores: ArrayLike<number>,
  newScores: ArrayLike<number>,
  alpha = 0.01,
): DriftCheck {
  const ks = ksTwoSample(calibrationScores, newScores);
  return { ...ks, alpha, drifted: ks.pValue < alpha };
}

/** sha256 of `id\tscore\n` lines (score in JS shortest round-trip form), in the given order. */
export function dataFingerprint(queryIds: readonly string[], scores: ArrayLike<number>): string {
  if (queryIds.length !== scores.length)
    throw new Error(`fingerprint: ${queryIds.length} ids but ${scores.length} scores`);
  const lines: string[] = [];
  for (let i = 0; i < scores.length; i++) lines.push(`${queryIds[i]}\t${scores[i]}\n`);
  return sha256Hex(lines.join(""));
}
