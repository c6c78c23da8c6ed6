/**
 * How far a routing policy is from the per-query optimum (definitions in docs/evaluation.md):
 * RouterArena's optimality scores (optimal selection, optimal cost, optimal accuracy) and LLMRouterBench's gap to the
 * oracle. Inputs are row-major n × M matrices (query q, model m at q·M + m) and one chosen model index per query.
 */
import { RouterlabError } from "../util/errors";

export interface RouterArenaOptimality {
  /** Share of the queries with an optimal model where the policy chose an optimal model; null when none has one. */
  readonly optimalSelection: number | null;
  /** Mean over the same queries of cost(optimal) / cost(chosen); null when no query has an optimal model. */
  readonly optimalCost: number | null;
  /** The policy's accuracy over all queries divided by the best single model's; null when that is 0. */
  readonly optimalAccuracy: number | null;
  /** Queries with at least one correct model (the denominator of the first two). */
  readonly nWithOptimal: number;
}

export interface OracleGap {
  /** Mean quality of the policy. */
  readonly quality: number;
  /** Mean over queries of the best quality any model reaches (the instance-level oracle). */
  readonly oracle: number;
  /** oracle − quality. */
  readonly gap: number;
  /** gap / oracle; null when the oracle's quality is 0. */
  readonly relativeGap: number | null;
}

function check(
  chosen: ArrayLike<number>,
  quality: ArrayLike<number>,
  M: number,
  cost?: ArrayLike<number>,
): number {
  const n = chosen.length;
  if (
    !(Number.isInteger(M) && M >= 1) ||
    n === 0 ||
    quality.length !== n * M ||
    (cost && cost.length !== n * M)
  )
    throw new RouterlabError(
      `optimality: ${n} choices over ${M} models need ${n * M} qualities and costs (got ${quality.length}, ${cost?.length ?? "-"})`,
      { file: "scores", field: "chosen" },
    );
  for (let q = 0; q < n; q++) {
    const m = chosen[q]!;
    if (!(Number.isInteger(m) && m >= 0 && m < M))
      throw new RouterlabError(`optimality: query ${q} chose model ${m}, not in [0, ${M})`, {
        file: "scores",
        field: `chosen[${q}]`,
      });
  }
  return n;
}

/**
 * RouterArena's optimality scores. A model is correct on a query when its quality ≥ `correctAt` (1 for 0/1
 * correctness); a query's optimal models are its cheapest correct ones; queries without a correct model are left
 * out of the selection and cost scores. Costs must be positive.
 */
export function routerArenaOptimality(
  chosen: ArrayLike<number>,
  quality: ArrayLike<number>,
  cost: ArrayLike<number>,
  M: number,
  opts: { correctAt?: number } = {},
): RouterArenaOptimality {
  const n = check(chosen, quality, M, cost);
  const correctAt = opts.correctAt ?? 1;
  for (let i = 0; i < n * M; i++)
    if (!(Number.isFinite(cost[i]!) && cost[i]! > 0))
      throw new RouterlabError(`optimality: cost ${cost[i]} of query ${Math.floor(i / M)} is not positive`, {
        file: "scores",
        field: `cost[${i}]`,
      });
  let withOpt = 0;
  let hits = 0;
  let costRatio = 0;
  let achieved = 0;
  const perModel = new Float64Array(M);
  for (let q = 0; q < n; q++) {
    const m = chosen[q]!;
    achieved += quality[q * M + m]!;
    let best = Infinity;
    for (let k = 0; k < M; k++) {
      perModel[k]! += quality[q * M + k]!;
      if (quality[q * M + k]! >= correctAt) best = Math.min(best, cost[q * M + k]!);
    }
    if (best === Infinity) continue;
    withOpt++;
    if (quality[q * M + m]! >= correctAt && cost[q * M + m]! === best) hits++;
    costRatio += best / cost[q * M + m]!;
  }
  const bestSingle = Math.max(...perModel);
  return {
    optimalSelection: withOpt ? hits / withOpt : null,
    optimalCost: withOpt ? costRatio / withOpt : null,
    optimalAccuracy: bestSingle > 0 ? achieved / bestSingle : null,
    nWithOptimal: withOpt,
  };
}

/** LLMRouterBench's gap to the oracle, from the per-query qualities. */
export function oracleGap(chosen: ArrayLike<number>, quality: ArrayLike<number>, M: number): OracleGap {
  const n = check(chosen, quality, M);
  let got = 0;
  let oracle = 0;
  for (let q = 0; q < n; q++) {
    got += quality[q * M + chosen[q]!]!;
    let best = -Infinity;
    for (let k = 0; k < M; k++) best = Math.max(best, quality[q * M + k]!);
    oracle += best;
  }
  return oracleGapOf(got / n, oracle / n);
}

/** The same gap from the two mean qualities (when only those are at hand, e.g. the multi-model comparison). */
export function oracleGapOf(quality: number, oracle: number): OracleGap {
  if (!(Number.isFinite(quality) && Number.isFinite(oracle)))
    throw new RouterlabError(`oracle gap: qualities ${quality}, ${oracle} are not finite`, {
      file: "scores",
      field: "quality",
    });
  const gap = oracle - quality;
  return { quality, oracle, gap, relativeGap: oracle !== 0 ? gap / oracle : null };
}
