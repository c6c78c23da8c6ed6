import type { RoutingData } from "../data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { AiqInterval, CostQuality, WtpPoint } from "../eval/multi";
import {
  bootstrapAiq,
  multiAiqs,
  policyPoint,
  singleModelPoints,
  wtpChoose,
  wtpLambdas,
} from "../eval/multi";
import type { RouterSpec } from "./config";
import { fitRouter, queriesOf } from "./fit";

export interface MultiRouterResult {
  router: string;
  kind: string;
  /** The router's own decisions (argmax) on the test set. */
  point: CostQuality & { share: number[] };
  /** Willingness-to-pay sweep over λ using the router's per-model scores as predicted quality. */
  curve: WtpPoint[];
  aiq: number;
  /** Percentile bootstrap interval of the AIQ over test-query resamples, and of AIQ minus the Zero router's. */
  aiqInterval: { lo: number; hi: number; diffLo: number; diffHi: number };
  fitSeconds: number;
  fromCache: boolean;
}

export interface MultiComparison {
  dataset: string;
  models: readonly string[];
  nTrain: number;
  nTest: number;
  interval: AiqInterval;
  singleModels: (CostQuality & { model: string })[];
  zeroAiq: number;
  zeroAiqInterval: { lo: number; hi: number };
  /** Test-query bootstrap behind the intervals (seeded; decisions fixed, routers not refitted). */
  bootstrap: { resamples: number; seed: number; level: number };
  oracle: CostQuality;
  routers: MultiRouterResult[];
}

/**
 * Multi-model routing on LLMRouter's nine-model data: each router is trained on the train split
 * (leaked test questions already removed), then compared on the test split by AIQ over one common
 * cost interval against the Zero router (metrics.md §9-§10). Each router's sweep uses the one λ grid
 * (`wtpLambdas`); `evaluateMulti` (lib/eval/multi-eval.ts) is the same sweep for one scorer's predictions.
 */
export async function compareMultiRouters(args: {
  train: RoutingData;
  test: RoutingData;
  Xtrain: EmbeddingMatrix;
  Xtest: EmbeddingMatrix;
  specs: readonly RouterSpec[];
  lambdas: number;
  embeddingSpec: EmbeddingSpec;
  seed: number;
  useCache: boolean;
  /** Bootstrap resamples of the test queries for the AIQ intervals (default 1000). */
  bootstrapResamples?: number;
}): Promise<MultiComparison> {
  const { train, test } = args;
  const M = test.models.length;
  const rows = Array.from({ length: train.queryIds.length }, (_, i) => i);
  const testRows = Array.from({ length: test.queryIds.length }, (_, i) => i);
  const lambdas = wtpLambdas(args.lambdas);
  const partial: Omit<MultiRouterResult, "aiq" | "aiqInterval">[] = [];
  const policies: Int32Array[][] = [];
  for (const spec of args.specs) {
    const fit = await fitRouter({
      spec,
      data: train,
      X: args.Xtrain,
      rows,
      setting: { setting: "multi", label: { rule: "best" } },
      embeddingSpec: args.embeddingSpec,
      seed: args.seed,
      useCache: args.useCache,
    });
    const queries = queriesOf(test, args.Xtest, testRows);
    const scores = await fit.router.score(queries);
    const predicted = alignColumns(scores.perModel, scores.models, test.models);
    const choice = Int32Array.from(await fit.router.predict(queries), (label) => test.models.indexOf(label));
    const sweep = lambdas.map((lambda) => wtpChoose(predicted, test.cost, M, lambda));
    policies.push([choice, ...sweep]);
    partial.push({
      router: spec.name,
      kind: spec.kind,
      point: policyPoint(choice, test.quality, test.cost, M),
      curve: sweep.map((c, i) => ({ lambda: lambdas[i]!, ...policyPoint(c, test.quality, test.cost, M) })),
      fitSeconds: fit.fitSeconds,
      fromCache: fit.fromCache,
    });
  }
  const singles = singleModelPoints(test.quality, test.cost, M).map((p, m) => ({
    ...p,
    model: test.models[m]!,
  }));
  const aiqs = multiAiqs(test.quality, test.cost, M, policies);
  const boot = bootstrapAiq(test.quality, test.cost, M, policies, args.bootstrapResamples ?? 1000, args.seed);
  return {
    dataset: test.name,
    models: test.models,
    nTrain: train.queryIds.length,
    nTest: test.queryIds.length,
    interval: aiqs.interval,
    singleModels: singles,
    zeroAiq: aiqs.zero,
    zeroAiqInterval: boot.zero,
    bootstrap: { resamples: boot.resamples, seed: boot.seed, level: boot.level },
    oracle: oraclePoint(test),
    routers: partial.map((r, i) => ({ ...r, aiq: aiqs.routers[i]!, aiqInterval: boot.routers[i]! })),
  };
}

/** Reorders an N x K score matrix from `from` model order to `to` (models missing from `from` get NaN). */
function alignColumns(arr: Float64Array, from: readonly string[], to: readonly string[]): Float64Array {
  const n = arr.length / from.length;
  const idx = to.map((m) => from.indexOf(m));
  const out = new Float64Array(n * to.length);
  for (let q = 0; q < n; q++)
    idx.forEach((j, m) => (out[q * to.length + m] = j < 0 ? NaN : arr[q * from.length + j]!));
  return out;
}

/** Best quality per query, cheapest among the best: the upper reference point. */
function oraclePoint(d: RoutingData): CostQuality {
  const M = d.models.length;
  const n = d.queryIds.length;
  let q = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let m = 0; m < M; m++) {
      const y = d.quality[i * M + m]!;
      const z = d.cost[i * M + m]!;
      if (Number.isNaN(y)) continue;
      if (
        best < 0 ||
        y > d.quality[i * M + best]! ||
        (y === d.quality[i * M + best]! && z < d.cost[i * M + best]!)
      )
        best = m;
    }
    q += d.quality[i * M + best]!;
    c += d.cost[i * M + best]!;
  }
  return { quality: q / n, cost: c / n };
}
