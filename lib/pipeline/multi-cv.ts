import type { RoutingData } from "../data/routing";
import { applySplit, kFold } from "../data/split";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { RouterSpec } from "./config";
import { pickRows } from "./fit";
import { compareMultiRouters } from "./multi";

export interface MultiCvCandidate {
  name: string;
  hyperparameters: Record<string, unknown>;
  /** AIQ on each held-out fold (the fold's own common cost interval). */
  foldAiq: number[];
  meanAiq: number;
}

export interface MultiCvResult {
  folds: number;
  seed: number;
  /** The Zero router's AIQ on each held-out fold, the bar every candidate is read against. */
  zeroFoldAiq: number[];
  candidates: MultiCvCandidate[];
  /** The candidate with the highest mean held-out AIQ (ties: the earlier one). */
  best: MultiCvCandidate;
}

/**
 * Chooses among multi-model router candidates (e.g. one kind over a small hyperparameter grid) by k-fold
 * cross-validation on the training data only: seeded, de-duplicated, group-stratified folds (`kFold`); each fold's
 * held-out queries are scored by every candidate fitted on the other folds, with the main job's AIQ
 * (`compareMultiRouters`, same λ grid). The test split is never read, so the choice leaves it untouched.
 */
export async function crossValidateMulti(args: {
  data: RoutingData;
  X: EmbeddingMatrix;
  candidates: readonly RouterSpec[];
  folds: number;
  lambdas: number;
  embeddingSpec: EmbeddingSpec;
  seed: number;
  onFold?: (fold: number, aiqs: { zero: number; candidates: number[] }) => void;
}): Promise<MultiCvResult> {
  const splits = kFold(args.data, {
    k: args.folds,
    seed: args.seed,
    stratifyBy: args.data.groups ? "group" : undefined,
  });
  const foldAiq = args.candidates.map(() => [] as number[]);
  const zeroFoldAiq: number[] = [];
  for (const [f, split] of splits.entries()) {
    const { train, test } = applySplit(args.data, split);
    const m = await compareMultiRouters({
      train,
      test,
      Xtrain: pickRows(args.X, split.train),
      Xtest: pickRows(args.X, split.test),
      specs: args.candidates,
      lambdas: args.lambdas,
      embeddingSpec: args.embeddingSpec,
      seed: args.seed,
      useCache: false,
      // the per-fold intervals are not used; a few resamples keep the comparison's own checks cheap
      bootstrapResamples: 10,
    });
    zeroFoldAiq.push(m.zeroAiq);
    m.routers.forEach((r, i) => foldAiq[i]!.push(r.aiq));
    args.onFold?.(f, { zero: m.zeroAiq, candidates: m.routers.map((r) => r.aiq) });
  }
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const candidates = args.candidates.map((c, i) => ({
    name: c.name,
    hyperparameters: c.hyperparameters,
    foldAiq: foldAiq[i]!,
    meanAiq: mean(foldAiq[i]!),
  }));
  const best = candidates.reduce((a, b) => (b.meanAiq > a.meanAiq ? b : a));
  return { folds: args.folds, seed: args.seed, zeroFoldAiq, candidates, best };
}
