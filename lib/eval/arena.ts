/**
 * RouterArena's accuracy-cost score (docs/evaluation.md): accuracy A in [0, 1] and the router's cost per 1,000
 * queries c (USD), with the cost normalised on a log2 scale between RouterArena's fixed bounds
 * C = (log2 c_max − log2 c) / (log2 c_max − log2 c_min) and S = (1 + β)·A·C / (β·A + C), a weighted harmonic mean
 * (β = 0.1 weighs accuracy most). Costs outside [c_min, c_max] are clipped to the bounds, so C stays in [0, 1].
 */
import { RouterlabError } from "../util/errors";

export const ARENA_DEFAULTS = { beta: 0.1, cMax: 200, cMin: 0.0044 } as const;

/** Cost per 1,000 queries normalised to [0, 1] (1 = as cheap as c_min). */
export function arenaCostScore(
  costPer1k: number,
  cMax: number = ARENA_DEFAULTS.cMax,
  cMin: number = ARENA_DEFAULTS.cMin,
): number {
  if (!(cMin > 0 && cMax > cMin))
    throw new RouterlabError(`arena cost bounds need 0 < c_min < c_max, got ${cMin}, ${cMax}`, {
      file: "config",
      field: "cMin",
    });
  if (!(Number.isFinite(costPer1k) && costPer1k >= 0))
    throw new RouterlabError(`cost per 1k queries ${costPer1k} is not a finite non-negative number`, {
      file: "scores",
      field: "cost",
    });
  const c = Math.min(cMax, Math.max(cMin, costPer1k));
  return (Math.log2(cMax) - Math.log2(c)) / (Math.log2(cMax) - Math.log2(cMin));
}

/** RouterArena score S in [0, 1]; 0 when both A and C are 0. */
export function arenaScore(
  accuracy: number,
  costPer1k: number,
  opts: { beta?: number; cMax?: number; cMin?: number } = {},
): number {
  const beta = opts.beta ?? ARENA_DEFAULTS.beta;
  if (!(accuracy >= 0 && accuracy <= 1))
    throw new RouterlabError(`accuracy ${accuracy} is not in [0, 1]`, { file: "scores", field: "accuracy" });
  if (!(beta > 0 && Number.isFinite(beta)))
    throw new RouterlabError(`beta ${beta} is not a positive number`, { file: "config", field: "beta" });
  const C = arenaCostScore(costPer1k, opts.cMax, opts.cMin);
  const den = beta * accuracy + C;
  return den === 0 ? 0 : ((1 + beta) * accuracy * C) / den;
}

/** RouterArena's figures of one routing policy on a dataset: accuracy, cost per 1,000 queries and the score S. */
export interface ArenaPoint {
  readonly accuracy: number;
  readonly costPer1k: number;
  readonly score: number;
}

/**
 * RouterArena's figures of a binary policy that sends query i to the strong model iff `strong[i]`: A = mean quality
 * of the chosen answers (quality must be correctness in [0, 1]), c = 1000 × mean USD cost of the chosen calls.
 */
export function arenaOfBinaryPolicy(
  strong: ArrayLike<boolean>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  cWeak: ArrayLike<number>,
  cStrong: ArrayLike<number>,
  opts: { beta?: number; cMax?: number; cMin?: number } = {},
): ArenaPoint {
  const n = strong.length;
  if (n === 0 || yWeak.length !== n || yStrong.length !== n || cWeak.length !== n || cStrong.length !== n)
    throw new RouterlabError(
      `arena: ${n} choices need as many qualities and costs (got ${yWeak.length}, ${yStrong.length}, ${cWeak.length}, ${cStrong.length})`,
      { file: "scores", field: "strong" },
    );
  let q = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    q += strong[i] ? yStrong[i]! : yWeak[i]!;
    c += strong[i] ? cStrong[i]! : cWeak[i]!;
  }
  const accuracy = q / n;
  const costPer1k = (1000 * c) / n;
  return { accuracy, costPer1k, score: arenaScore(accuracy, costPer1k, opts) };
}
