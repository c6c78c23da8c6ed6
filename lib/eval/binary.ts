import { createRng } from "../util/random";
import { argsortDesc } from "./sort";
import { quantileSorted } from "../util/quantile";

/**
 * The binary (strong/weak) routing setting of RouteLLM: threshold sweeps, PGR, APGR and CPT, exactly as
 * defined in the metrics spec (§4-§7). Pure functions over plain arrays; x is a fraction in [0, 1].
 */

/** One operating point of a threshold sweep: route to strong iff score >= threshold (or > when `strict`). */
export interface CurvePoint {
  readonly threshold: number;
  /** True when the rule is `score > threshold` (the max edge, which gives 0% strong). */
  readonly strict: boolean;
  /** Share of queries sent to strong, in [0, 1]. */
  readonly x: number;
  /** Mean quality of the routed policy. */
  readonly quality: number;
  /** Mean cost per query of the routed policy (0 when no costs were given). */
  readonly cost: number;
}

export type SweepMode = "fine" | "reference10";

export interface BinaryCurveOptions {
  /**
   * "fine": every distinct score is a threshold (`>=`), plus the `> max` endpoint (0% strong): the exact
   * curve. "reference10": RouteLLM's 11 equal-count edges (min, deciles, max), deduplicated.
   * Ignored when `thresholds` is given.
   */
  mode?: SweepMode;
  /** Explicit thresholds, each applied with `>=`. */
  thresholds?: ArrayLike<number>;
}

/**
 * Prepared sweep state: scores sorted descending with prefix sums of the strong-minus-weak quality and
 * cost, so each threshold costs one binary search.
 */
export class BinarySweep {
  readonly n: number;
  /** Scores sorted descending. */
  readonly sortedDesc: Float64Array;
  private readonly dq: Float64Array;
  private readonly dc: Float64Array;
  readonly qWeak: number;
  readonly qStrong: number;
  readonly cWeak: number;
  readonly cStrong: number;
  private readonly sumWeak: number;
  private readonly sumCostWeak: number;

  constructor(
    scores: ArrayLike<number>,
    yWeak: ArrayLike<number>,
    yStrong: ArrayLike<number>,
    cWeak?: ArrayLike<number>,
    cStrong?: ArrayLike<number>,
  ) {
    const n = scores.length;
    if (n === 0) throw new Error("binary sweep: no queries");
    for (const [name, arr] of [
      ["yWeak", yWeak],
      ["yStrong", yStrong],
      ["cWeak", cWeak],
      ["cStrong", cStrong],
    ] as const) {
      if (arr !== undefined && arr.length !== n)
        throw new Error(`binary sweep: ${name} has ${arr.length} values, scores has ${n}`);
    }
    this.n = n;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(scores[i]!)) throw new Error(`binary sweep: score ${i} is NaN`);
    }
    const order = argsortDesc(scores);
    this.sortedDesc = new Float64Array(n);
    this.dq = new Float64Array(n + 1);
    this.dc = new Float64Array(n + 1);
    let sw = 0;
    let ss = 0;
    let scw = 0;
    let scs = 0;
    for (let r = 0; r < n; r++) {
      const i = order[r]!;
      this.sortedDesc[r] = scores[i]!;
      const w = yWeak[i]!;
      const s = yStrong[i]!;
      const cw = cWeak ? cWeak[i]! : 0;
      const cs = cStrong ? cStrong[i]! : 0;
      sw += w;
      ss += s;
      scw += cw;
      scs += cs;
      this.dq[r + 1] = this.dq[r]! + (s - w);
      this.dc[r + 1] = this.dc[r]! + (cs - cw);
    }
    this.sumWeak = sw;
    this.sumCostWeak = scw;
    this.qWeak = sw / n;
    this.qStrong = ss / n;
    this.cWeak = scw / n;
    this.cStrong = scs / n;
  }

  /** Number of scores >= t (or > t when strict). */
  countAbove(t: number, strict = false): number {
    const a = this.sortedDesc;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strict ? a[mid]! > t : a[mid]! >= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  point(t: number, strict = false): CurvePoint {
    const k = this.countAbove(t, strict);
    return this.pointAtCount(k, t, strict);
  }

  /** The operating point that sends the top-k scores to strong. */
  pointAtCount(k: number, threshold: number, strict: boolean): CurvePoint {
    const n = this.n;
    return {
      threshold,
      strict,
      x: k / n,
      // One division of exact sums (integers for 0/1 outcomes), so ties with a target compare exactly.
      quality: (this.sumWeak + this.dq[k]!) / n,
      cost: (this.sumCostWeak + this.dc[k]!) / n,
    };
  }

  /** Points sorted by increasing x (stable: input order among equal x). */
  curve(opts: BinaryCurveOptions = {}): CurvePoint[] {
    const pts: CurvePoint[] = [];
    if (opts.thresholds !== undefined) {
      for (let i = 0; i < opts.thresholds.length; i++) pts.push(this.point(opts.thresholds[i]!));
    } else if ((opts.mode ?? "fine") === "reference10") {
      const asc = Float64Array.from(this.sortedDesc).reverse();
      const edges: number[] = [];
      for (let k = 0; k <= 10; k++) edges.push(quantileSorted(asc, k / 10));
      const unique = [...new Set(edges)];
      const max = asc[asc.length - 1]!;
      for (const e of unique) pts.push(e === max ? this.point(e, true) : this.point(e));
      // The min edge (>=) gives 100% and the max edge (>) gives 0%; both are always present.
      if (unique.length === 1) pts.push(this.point(max, false));
    } else {
      const a = this.sortedDesc;
      pts.push(this.pointAtCount(0, a[0]!, true));
      for (let r = 0; r < a.length; r++) {
        // Threshold a[r] with >= sends every score >= a[r]: take the end of a run of ties.
        if (r + 1 < a.length && a[r + 1] === a[r]) continue;
        pts.push(this.pointAtCount(r + 1, a[r]!, false));
      }
    }
    return sortByX(pts);
  }
}

/** `BinarySweep` in one call: scores, weak/strong quality (and optional cost) per query. */
export function binaryCurve(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  cWeak?: ArrayLike<number>,
  cStrong?: ArrayLike<number>,
  opts: BinaryCurveOptions = {},
): CurvePoint[] {
  return new BinarySweep(scores, yWeak, yStrong, cWeak, cStrong).curve(opts);
}

export function sortByX<T extends { x: number }>(points: readonly T[]): T[] {
  return points
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.x - b.p.x || a.i - b.i)
    .map((e) => e.p);
}

/** PGR = (Q - Qweak) / (Qstrong - Qweak); null (n/a) when Qstrong = Qweak. */
export function pgr(quality: number, qWeak: number, qStrong: number): number | null {
  const gap = qStrong - qWeak;
  if (gap === 0) return null;
  return (quality - qWeak) / gap;
}

export interface XQ {
  readonly x: number;
  readonly quality: number;
}

/** Trapezoid area under Q(x) after a stable sort by x. */
export function auc(points: readonly XQ[]): number {
  const p = sortByX(points);
  let s = 0;
  for (let i = 0; i + 1 < p.length; i++) {
    const a = p[i]!;
    const b = p[i + 1]!;
    s += ((b.x - a.x) * (a.quality + b.quality)) / 2;
  }
  return s;
}

/** APGR = (AUC - W) / (S - W) over the curve's x-range (§6); null when undefined (no gap or no range). */
export function apgr(points: readonly XQ[], qWeak: number, qStrong: number): number | null {
  if (points.length < 2) return null;
  const p = sortByX(points);
  const range = p[p.length - 1]!.x - p[0]!.x;
  const w = qWeak * range;
  const s = qStrong * range;
  if (s === w) return null;
  return (auc(p) - w) / (s - w);
}

export interface CptResult {
  /** First-crossing strong share (fraction); null when the curve never reaches the target. */
  readonly value: number | null;
  /** RouteLLM's `np.interp(T, Q, x)` on the x-sorted curve, for comparison with published numbers. */
  readonly interp: number;
  /** The target quality T_p. */
  readonly target: number;
}

/** CPT(p): the strong share at which the curve first reaches Qweak + p (Qstrong - Qweak) (§7). */
export function cpt(points: readonly XQ[], p: number, qWeak: number, qStrong: number): CptResult {
  if (points.length === 0) throw new Error("cpt: empty curve");
  const s = sortByX(points);
  const target = qWeak + p * (qStrong - qWeak);
  let value: number | null = null;
  for (let i = 0; i < s.length; i++) {
    const b = s[i]!;
    if (b.quality >= target) {
      if (i === 0) value = b.x;
      else {
        const a = s[i - 1]!;
        value = a.x + ((target - a.quality) * (b.x - a.x)) / (b.quality - a.quality);
      }
      break;
    }
  }
  const xs = s.map((q) => q.x);
  const qs = s.map((q) => q.quality);
  return { value, interp: npInterp(target, qs, xs), target };
}

/**
 * A faithful port of numpy's `np.interp(x, xp, fp)` for one scalar x (numpy/core/src/multiarray/
 * compiled_base.c: `binary_search_with_guess` with guess 0, then the same slope formula), including its
 * behaviour on non-increasing xp, where it brackets x on whatever segment the search lands.
 */
export function npInterp(x: number, xp: readonly number[], fp: readonly number[]): number {
  const len = xp.length;
  if (len === 0) throw new Error("npInterp: empty xp");
  if (len !== fp.length) throw new Error("npInterp: xp and fp differ in length");
  const left = fp[0]!;
  const right = fp[len - 1]!;
  if (Number.isNaN(x)) return x;
  if (len === 1) {
    if (x < xp[0]!) return left;
    if (x > xp[0]!) return right;
    return fp[0]!;
  }
  const j = binarySearchWithGuess(x, xp, len, 0);
  if (j === -1) return left;
  if (j === len) return right;
  if (j === len - 1) return fp[j]!;
  if (xp[j] === x) return fp[j]!;
  const slope = (fp[j + 1]! - fp[j]!) / (xp[j + 1]! - xp[j]!);
  let res = slope * (x - xp[j]!) + fp[j]!;
  if (Number.isNaN(res)) {
    res = slope * (x - xp[j + 1]!) + fp[j + 1]!;
    if (Number.isNaN(res) && fp[j] === fp[j + 1]) res = fp[j]!;
  }
  return res;
}

const LIKELY_IN_CACHE_SIZE = 8;

function binarySearchWithGuess(key: number, arr: readonly number[], len: number, guessIn: number): number {
  let imin = 0;
  let imax = len;
  if (key > arr[len - 1]!) return len;
  if (key < arr[0]!) return -1;
  if (len <= 4) {
    let i = 1;
    for (; i < len && key >= arr[i]!; ++i);
    return i - 1;
  }
  let guess = guessIn;
  if (guess > len - 3) guess = len - 3;
  if (guess < 1) guess = 1;
  if (key < arr[guess]!) {
    if (key < arr[guess - 1]!) {
      imax = guess - 1;
      if (guess > LIKELY_IN_CACHE_SIZE && key >= arr[guess - LIKELY_IN_CACHE_SIZE]!) {
        imin = guess - LIKELY_IN_CACHE_SIZE;
      }
    } else {
      return guess - 1;
    }
  } else {
    if (key < arr[guess + 1]!) return guess;
    if (key < arr[guess + 2]!) return guess + 1;
    imin = guess + 2;
    if (guess < len - LIKELY_IN_CACHE_SIZE - 1 && key < arr[guess + LIKELY_IN_CACHE_SIZE]!) {
      imax = guess + LIKELY_IN_CACHE_SIZE;
    }
  }
  while (imin < imax) {
    const imid = imin + ((imax - imin) >> 1);
    if (key >= arr[imid]!) imin = imid + 1;
    else imax = imid;
  }
  return imin - 1;
}

/** The random router averaged over its random draws is the straight weak -> strong line. */
export function randomRouterCurve(qWeak: number, qStrong: number, nPoints = 11): XQ[] {
  const out: XQ[] = [];
  for (let i = 0; i < nPoints; i++) {
    const x = i / (nPoints - 1);
    out.push({ x, quality: qWeak + x * (qStrong - qWeak) });
  }
  return out;
}

/** Summary of a binary router on one dataset: the figures routerlab prints per router. */
export interface BinarySummary {
  readonly n: number;
  readonly qWeak: number;
  readonly qStrong: number;
  readonly points: number;
  readonly apgr: number | null;
  readonly apgrReference10: number | null;
  readonly cpt50: CptResult;
  readonly cpt80: CptResult;
}

export function summariseBinary(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
): BinarySummary {
  const sweep = new BinarySweep(scores, yWeak, yStrong);
  return summaryOfCurves(sweep, sweep.curve({ mode: "fine" }), sweep.curve({ mode: "reference10" }));
}

/** The summary figures from a sweep's fine and reference10 curves (for callers that also need the curves). */
export function summaryOfCurves(
  sweep: BinarySweep,
  fine: readonly CurvePoint[],
  ref: readonly CurvePoint[],
): BinarySummary {
  return {
    n: sweep.n,
    qWeak: sweep.qWeak,
    qStrong: sweep.qStrong,
    points: fine.length,
    apgr: apgr(fine, sweep.qWeak, sweep.qStrong),
    apgrReference10: apgr(ref, sweep.qWeak, sweep.qStrong),
    cpt50: cpt(fine, 0.5, sweep.qWeak, sweep.qStrong),
    cpt80: cpt(fine, 0.8, sweep.qWeak, sweep.qStrong),
  };
}

export interface BinaryBootstrap {
  readonly resamples: number;
  readonly seed: number;
  readonly apgr: { lo: number; hi: number };
  readonly cpt50: { lo: number; hi: number; notReached: number };
  readonly cpt80: { lo: number; hi: number; notReached: number };
}

/**
 * 95% percentile intervals for APGR, CPT(50%) and CPT(80%) over query resamples (fine sweep). Each
 * resample reuses the sorted order with integer weights, so it costs O(N). CPT intervals are over the
 * resamples where the target is reached; `notReached` counts the others.
 */
export function bootstrapBinary(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  resamples = 1000,
  seed = 0,
  level = 0.95,
): BinaryBootstrap {
  const n = scores.length;
  const order = argsortDesc(scores);
  const s = Float64Array.from(order, (i) => scores[i]!);
  const yw = Float64Array.from(order, (i) => yWeak[i]!);
  const ys = Float64Array.from(order, (i) => yStrong[i]!);
  const rng = createRng(seed);
  const counts = new Int32Array(n);
  const apgrs: number[] = [];
  const c50: number[] = [];
  const c80: number[] = [];
  let nr50 = 0;
  let nr80 = 0;
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(n)]!++;
    let sumW = 0;
    let sumS = 0;
    for (let i = 0; i < n; i++) {
      sumW += counts[i]! * yw[i]!;
      sumS += counts[i]! * ys[i]!;
    }
    const qw = sumW / n;
    const qs = sumS / n;
    const t50 = qw + 0.5 * (qs - qw);
    const t80 = qw + 0.8 * (qs - qw);
    let x0 = 0;
    let q0 = qw;
    let area = 0;
    let k = 0;
    let delta = 0;
    let cross50 = q0 >= t50 ? 0 : NaN;
    let cross80 = q0 >= t80 ? 0 : NaN;
    for (let r = 0; r < n; r++) {
      k += counts[r]!;
      delta += counts[r]! * (ys[r]! - yw[r]!);
      if (r + 1 < n && s[r + 1] === s[r]) continue;
      const x1 = k / n;
      const q1 = (sumW + delta) / n;
      area += ((x1 - x0) * (q0 + q1)) / 2;
      if (Number.isNaN(cross50) && q1 >= t50) cross50 = x0 + ((t50 - q0) * (x1 - x0)) / (q1 - q0);
      if (Number.isNaN(cross80) && q1 >= t80) cross80 = x0 + ((t80 - q0) * (x1 - x0)) / (q1 - q0);
      x0 = x1;
      q0 = q1;
    }
    if (qs !== qw) apgrs.push((area - qw) / (qs - qw));
    if (Number.isNaN(cross50)) nr50++;
    else c50.push(cross50);
    if (Number.isNaN(cross80)) nr80++;
    else c80.push(cross80);
  }
  const a = (1 - level) / 2;
  const iv = (v: number[]): { lo: number; hi: number } => {
    if (v.length === 0) return { lo: NaN, hi: NaN };
    const sorted = v.sort((p, q) => p - q);
    return { lo: quantileSorted(sorted, a), hi: quantileSorted(sorted, 1 - a) };
  };
  return {
    resamples,
    seed,
    apgr: iv(apgrs),
    cpt50: { ...iv(c50), notReached: nr50 },
    cpt80: { ...iv(c80), notReached: nr80 },
  };
}
