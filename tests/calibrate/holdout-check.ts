import { calibrateMany, SortedSet, verifyHoldout } from "../../lib/calibrate/calibrate";
import { createRng, shuffled } from "../../lib/util/random";

export interface HoldoutCheckResult {
  /** Coverage of the 95% share interval per target, over all splits. */
  rates: number[];
  /** Worst |realised held-out share - target| over all (split, target) pairs. */
  worst: number;
  /** Pairs within 2 pp, and all pairs. */
  within: number;
  pairs: number;
  /** |realised - target| per target on split 0 (the seeded primary split). */
  split0: number[];
}

/**
 * The calibration check: for each of `splits` seeded random 50/50 splits, calibrate every target
 * share on one half (bootstrap intervals, 1,000 resamples) and measure the realised share on the other.
 */
export function holdoutCheck(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  targets: readonly number[],
  splits: number,
  seedBase = 1000,
): HoldoutCheckResult {
  const n = scores.length;
  const ts = targets.map((value) => ({ kind: "share" as const, value }));
  const covered = ts.map(() => 0);
  const split0: number[] = [];
  let worst = 0;
  let within = 0;
  const idx = Array.from({ length: n }, (_, i) => i);
  const pick = (rows: number[]) => ({
    scores: Float64Array.from(rows, (i) => scores[i]!),
    yWeak: Float64Array.from(rows, (i) => yWeak[i]!),
    yStrong: Float64Array.from(rows, (i) => yStrong[i]!),
  });
  for (let s = 0; s < splits; s++) {
    const order = shuffled(idx, createRng(seedBase + s));
    const half = Math.floor(n / 2);
    const calSet = new SortedSet(pick(order.slice(0, half)));
    const holdSet = new SortedSet(pick(order.slice(half)));
    calibrateMany(calSet, ts, { resamples: 1000, seed: s, newTrafficSize: holdSet.n }).forEach((r, j) => {
      const check = verifyHoldout(r, holdSet);
      const dev = Math.abs(check.realised.share - r.target.value);
      worst = Math.max(worst, dev);
      if (dev <= 0.02) within++;
      if (s === 0) split0.push(dev);
      if (check.shareInInterval) covered[j]!++;
    });
  }
  return { rates: covered.map((c) => c / splits), worst, within, pairs: splits * ts.length, split0 };
}
