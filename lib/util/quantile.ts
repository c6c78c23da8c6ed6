/** Quantiles shared by the metrics (lib/eval) and calibration (lib/calibrate), so neither imports the other for them. */

/** numpy's default ("linear") quantile of an ascending array: a[lo] + (a[hi] - a[lo]) * frac. */
export function quantileSorted(asc: ArrayLike<number>, q: number): number {
  const n = asc.length;
  if (n === 0) throw new Error("quantile of an empty array");
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const t = pos - lo;
  const a = asc[lo]!;
  const b = asc[hi]!;
  // numpy's _lerp: a + (b - a) t, computed from b when t >= 0.5.
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** Percentile interval of the finite values (numpy linear quantiles at (1 ± level) / 2). */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): { lo: number; hi: number } {
  const finite = Array.from(values)
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  if (finite.length === 0) return { lo: NaN, hi: NaN };
  const a = (1 - level) / 2;
  return { lo: quantileSorted(finite, a), hi: quantileSorted(finite, 1 - a) };
}
