import type { EmbeddingMatrix } from "../embed/types";
import type { TrainCallbacks } from "./nn/common";

/**
 * What a router learns from. Two settings, both first-class:
 * - "multi": choose among N candidate models; `labels[q]` is the index into `models` of the target model.
 *   `quality` (N x M, row-major, NaN = missing) and `cost` are kept for routers that regress per-model quality.
 * - "binary": RouteLLM's strong/weak pair; `labels[q]` is 1 when the strong model is needed.
 */
export type RoutingTask =
  | {
      readonly kind: "multi";
      readonly models: readonly string[];
      readonly labels: Int32Array;
      readonly quality?: Float64Array;
      readonly cost?: Float64Array;
    }
  | {
      readonly kind: "binary";
      /** [weak, strong], in that order: index 1 is strong. */
      readonly models: readonly [string, string];
      readonly labels: Int32Array;
      readonly quality?: Float64Array;
      readonly cost?: Float64Array;
    };

/** A router's scores for a batch of queries. */
export interface RouterScores {
  readonly models: readonly string[];
  /** Per-model predicted quality / preference, N x M row-major. */
  readonly perModel: Float64Array;
  /** Binary setting only: P(strong needed) per query. */
  readonly strongProbability?: Float64Array;
}

/** Learned state: JSON-serialisable metadata plus named float32 tensors (saved as binary). */
export interface RouterState {
  readonly kind: string;
  readonly hyperparameters: Record<string, unknown>;
  readonly meta: Record<string, unknown>;
  readonly tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

/**
 * What a router reads per query: the embedding matrix (one row per query), and, for kinds that read them, the
 * query texts and an optional group per query (a subject, a task name). `texts` and `groups` have `X.rows` entries.
 */
export interface Queries {
  readonly X: EmbeddingMatrix;
  readonly texts?: readonly string[];
  readonly groups?: readonly string[];
}

/**
 * Estimator-style router: parsed hyperparameters in the constructor, then fit / predict / score on `Queries`.
 * `predict` and `score` may return a promise (KNN's exact search runs on onnxruntime): callers always await.
 */
export interface Router {
  readonly kind: string;
  readonly hyperparameters: Record<string, unknown>;
  /** `callbacks.onEpoch` is called by routers trained in epochs (MLP, MF); others ignore it. */
  fit(queries: Queries, task: RoutingTask, callbacks?: TrainCallbacks): Promise<void>;
  /** Chosen model label per query. */
  predict(queries: Queries): string[] | Promise<string[]>;
  score(queries: Queries): RouterScores | Promise<RouterScores>;
  state(): RouterState;
}
