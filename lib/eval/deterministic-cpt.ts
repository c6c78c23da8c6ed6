import { BinarySweep } from "./binary";

/**
 * CPT(p) with a deterministic threshold (metrics.md §7a). The gateway routes to strong iff `score >= t` with one
 * fixed t, so the only strong shares a served artifact can reach are the fine sweep's points, one per group of tied
 * scores. CPT(p) as in the paper interpolates linearly between two such points, a share no fixed threshold gives when
 * the crossing falls inside a tie group (a k-NN vote fraction has at most k + 1 levels).
 */
export interface DeterministicCpt {
  /** The target quality T_p = Q_weak + p (Q_strong - Q_weak). */
  readonly target: number;
  /** The smallest strong share any single threshold reaches with quality >= T_p; null when none reaches it. */
  readonly value: number | null;
  /** That threshold: route to strong iff score >= threshold (or > when `strict`, the 0% point). */
  readonly threshold: number | null;
  readonly strict: boolean;
  /** Quality of the routed policy at that threshold. */
  readonly quality: number | null;
}

/** Deterministic-threshold CPT(p) from a prepared sweep (its fine curve holds every reachable point). */
export function deterministicCptOfSweep(sweep: BinarySweep, p: number): DeterministicCpt {
  const target = sweep.qWeak + p * (sweep.qStrong - sweep.qWeak);
  // The fine curve is sorted by share, so the first point reaching the target has the smallest share.
  const hit = sweep.curve({ mode: "fine" }).find((pt) => pt.quality >= target);
  if (!hit) return { target, value: null, threshold: null, strict: false, quality: null };
  return { target, value: hit.x, threshold: hit.threshold, strict: hit.strict, quality: hit.quality };
}

/** Deterministic-threshold CPT(p) for scores and the weak / strong quality of each query. */
export function deterministicCpt(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  p: number,
): DeterministicCpt {
  return deterministicCptOfSweep(new BinarySweep(scores, yWeak, yStrong), p);
}
