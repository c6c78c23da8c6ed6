import { kFold } from "../data/split";
import type { RoutingData } from "../data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { BinaryLabelRule } from "../routers/labels";
import type { RouterSpec } from "./config";
import { fitPlan, fitRouter, pickRows, scoreFast } from "./fit";
import { loadCachedScores, saveCachedScores } from "./model-cache";

export interface OutOfFoldScores {
  router: string;
  kind: string;
  /** P(strong needed) for every query, each predicted by the model that did not see it. */
  scores: Float64Array;
  fitSeconds: number;
  cachedFolds: number;
}

/**
 * k-fold cross-validation of one binary router: every query is scored by the model trained on the
 * other folds (de-duplicated, group-stratified splits), giving an in-domain, leakage-free score.
 */
export async function outOfFoldScores(args: {
  spec: RouterSpec;
  data: RoutingData;
  X: EmbeddingMatrix;
  folds: number;
  label: BinaryLabelRule;
  embeddingSpec: EmbeddingSpec;
  seed: number;
  useCache: boolean;
  onFold?: (fold: number) => void;
}): Promise<OutOfFoldScores> {
  const { data, spec } = args;
  const [weak, strong] = data.models as readonly [string, string];
  const splits = kFold(data, {
    k: args.folds,
    seed: args.seed,
    stratifyBy: data.groups ? "group" : undefined,
  });
  const scores = new Float64Array(data.queryIds.length).fill(NaN);
  let fitSeconds = 0;
  let cachedFolds = 0;
  for (const [f, split] of splits.entries()) {
    const fitArgs = {
      spec,
      data,
      X: args.X,
      rows: split.train,
      setting: { setting: "binary" as const, weak, strong, label: args.label },
      embeddingSpec: args.embeddingSpec,
      seed: args.seed + f,
      useCache: args.useCache,
    };
    const testIds = split.test.map((r) => data.queryIds[r]!);
    const { key } = fitPlan(fitArgs);
    let foldScores = args.useCache ? loadCachedScores(key, testIds) : undefined;
    if (foldScores) cachedFolds++;
    else {
      const fit = await fitRouter(fitArgs);
      fitSeconds += fit.fitSeconds;
      if (fit.fromCache) cachedFolds++;
      const s = await scoreFast(fit.router, pickRows(args.X, split.test));
      if (!s.strongProbability)
        throw new Error(`router '${spec.name}' (${spec.kind}) gave no P(strong) score`);
      foldScores = Float64Array.from(s.strongProbability);
      if (args.useCache) saveCachedScores(key, testIds, foldScores);
    }
    const fs = foldScores;
    split.test.forEach((row, i) => (scores[row] = fs[i]!));
    args.onFold?.(f);
  }
  return { router: spec.name, kind: spec.kind, scores, fitSeconds, cachedFolds };
}
