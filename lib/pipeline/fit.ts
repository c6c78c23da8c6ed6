import type { RoutingData } from "../data/routing";
import { selectRows } from "../data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { RoutingSetting } from "../routers/labels";
import { deriveTask } from "../routers/labels";
import { createRouter, routerEntry } from "../routers/registry";
import type { Queries, Router } from "../routers/types";
import { createRng, shuffled } from "../util/random";
import type { RouterSpec } from "./config";
import { loadCachedRouter, saveCachedRouter, trainedModelKey } from "./model-cache";

export function pickRows(m: EmbeddingMatrix, rows: readonly number[]): EmbeddingMatrix {
  const data = new Float32Array(rows.length * m.dim);
  rows.forEach((r, i) => data.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), i * m.dim));
  return { data, rows: rows.length, dim: m.dim };
}

/** The queries of `rows` of `data`: their embeddings, texts and groups (every kind gets all three). */
export function queriesOf(data: RoutingData, X: EmbeddingMatrix, rows: readonly number[]): Queries {
  const groups = data.groups;
  return {
    X: pickRows(X, rows),
    texts: rows.map((r) => data.queries[r]!),
    ...(groups ? { groups: rows.map((r) => groups[r]!) } : {}),
  };
}

/** A seeded sample of at most `max` of `rows` (kept in ascending order). */
export function sampleOf(rows: readonly number[], max: number | undefined, seed: number): number[] {
  if (max === undefined || rows.length <= max) return [...rows];
  return shuffled(rows, createRng(seed))
    .slice(0, max)
    .sort((a, b) => a - b);
}

/** What a fit would use (training rows, task, hyperparameters) and its trained-model cache key. */
export function fitPlan(args: {
  spec: RouterSpec;
  data: RoutingData;
  rows: readonly number[];
  setting: RoutingSetting;
  embeddingSpec: EmbeddingSpec;
  seed: number;
}) {
  const { spec, seed } = args;
  const rows = sampleOf(args.rows, spec.maxTrain, seed);
  const train = selectRows(args.data, rows);
  const task = deriveTask(train, args.setting);
  const hyper = withSeed(spec.kind, spec.hyperparameters, seed);
  const key = trainedModelKey({
    kind: spec.kind,
    hyperparameters: hyper,
    trainIds: train.queryIds,
    labels: task.labels,
    quality: task.quality,
    spec: args.embeddingSpec,
    seed,
  });
  return { rows, task, hyper, key };
}

export interface FitOutcome {
  router: Router;
  fitSeconds: number;
  fromCache: boolean;
}

/**
 * Fits `spec` on the given rows of `data`, or loads the identical model from the trained-model cache.
 * Each router's hyperparameter `seed` (where it has one) defaults to the job seed, so it is logged.
 */
export async function fitRouter(args: {
  spec: RouterSpec;
  data: RoutingData;
  X: EmbeddingMatrix;
  rows: readonly number[];
  setting: RoutingSetting;
  embeddingSpec: EmbeddingSpec;
  seed: number;
  useCache: boolean;
}): Promise<FitOutcome> {
  const { spec } = args;
  const { rows, task, hyper, key } = fitPlan(args);
  if (args.useCache) {
    const cached = loadCachedRouter(key);
    if (cached) return { router: cached, fitSeconds: 0, fromCache: true };
  }
  const router = createRouter(spec.kind, hyper, `router '${spec.name}'`);
  const started = performance.now();
  await router.fit(queriesOf(args.data, args.X, rows), task);
  const fitSeconds = (performance.now() - started) / 1000;
  if (args.useCache) saveCachedRouter(key, router);
  return { router, fitSeconds, fromCache: false };
}

/** A seeded kind's `seed` defaults to the job seed, so the seed every fit used is logged. */
function withSeed(kind: string, hyper: Record<string, unknown>, seed: number): Record<string, unknown> {
  if (!routerEntry(kind).seeded || hyper.seed !== undefined) return hyper;
  return { ...hyper, seed };
}
