import { kFold } from "../data/split";
import type { Split } from "../data/split";
import type { RoutingData } from "../data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { BinaryLabelRule } from "../routers/labels";
import { routerEntry } from "../routers/registry";
import type { RouterSpec } from "./config";
import { fitPlan, fitRouter, queriesOf } from "./fit";
import type { FitOutcome } from "./fit";
import { fitInWorkers } from "./fold-pool";
import { hasCachedRouter, loadCachedScores, saveCachedRouter, saveCachedScores } from "./model-cache";

export interface OutOfFoldScores {
  router: string;
  kind: string;
  /** P(strong needed) for every query, each predicted by the model that did not see it. */
  scores: Float64Array;
  fitSeconds: number;
  cachedFolds: number;
}

/** The job's outer folds: de-duplicated, group-stratified when the data has groups, seeded. */
export function jobFolds(data: RoutingData, folds: number, seed: number): Split[] {
  return kFold(data, { k: folds, seed, stratifyBy: data.groups ? "group" : undefined });
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
  /**
   * Worker threads for fitting folds side by side, for router kinds that train on one thread
   * (the registry trait `singleThreadTraining`). 1 = all on the main thread. The scores are the same either way.
   */
  foldWorkers?: number;
  onFold?: (fold: number) => void;
  /** The outer folds, when the caller already has them (`jobFolds(data, folds, seed)`). */
  splits?: readonly Split[];
}): Promise<OutOfFoldScores> {
  const { data, spec } = args;
  const [weak, strong] = data.models as readonly [string, string];
  const splits = args.splits ?? jobFolds(data, args.folds, args.seed);
  const scores = new Float64Array(data.queryIds.length).fill(NaN);
  let fitSeconds = 0;
  let cachedFolds = 0;
  const setting = { setting: "binary" as const, weak, strong, label: args.label };
  const folds = splits.map((split, f) => {
    const fitArgs = {
      spec,
      data,
      X: args.X,
      rows: split.train,
      setting,
      embeddingSpec: args.embeddingSpec,
      seed: args.seed + f,
      useCache: args.useCache,
    };
    const testIds = split.test.map((r) => data.queryIds[r]!);
    const { key } = fitPlan(fitArgs);
    const cachedScores = args.useCache ? loadCachedScores(key, testIds) : undefined;
    return { split, fitArgs, testIds, key, cachedScores };
  });
  // Folds that need a real fit go to worker threads first when the kind trains on one thread.
  const prefitted = new Map<number, FitOutcome>();
  const toFit = folds
    .map((fold, f) => ({ fold, f }))
    .filter(({ fold }) => !fold.cachedScores && !(args.useCache && hasCachedRouter(fold.key)));
  const workers = args.foldWorkers ?? 1;
  if (workers > 1 && toFit.length > 1 && routerEntry(spec.kind).singleThreadTraining) {
    const fitted = await fitInWorkers(
      { spec, data, X: args.X, setting, embeddingSpec: args.embeddingSpec },
      toFit.map(({ fold }) => ({ rows: fold.fitArgs.rows, seed: fold.fitArgs.seed })),
      workers,
    );
    fitted.forEach((r, i) => {
      const { fold, f } = toFit[i]!;
      if (args.useCache) saveCachedRouter(fold.key, r.router);
      prefitted.set(f, { ...r, fromCache: false });
    });
  }
  for (const [f, fold] of folds.entries()) {
    const { split, fitArgs, testIds, key } = fold;
    let foldScores = fold.cachedScores;
    if (foldScores) cachedFolds++;
    else {
      const fit = prefitted.get(f) ?? (await fitRouter(fitArgs));
      fitSeconds += fit.fitSeconds;
      if (fit.fromCache) cachedFolds++;
      const s = await fit.router.score(queriesOf(data, args.X, split.test));
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
