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
