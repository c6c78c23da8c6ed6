/**
 * Cluster router (the Avengers-Pro family): seeded spherical k-means (k-means++ initialisation) over the
 * L2-normalised embeddings, then per cluster and per model the mean observed quality and cost of the training
 * queries in it. A query is assigned to its nearest centroid (largest cosine; ties to the lower cluster) and scored
 * with that cluster's per-model quality; `predict` picks argmax λ·quality − cost (willingness to pay; λ unset = the
 * best quality, then the cheaper model). Cluster means are smoothed towards the model's overall mean with
 * `smoothing` pseudo-queries, so a small cluster does not swing to 0 or 1.
 *
 * Binary setting: models [weak, strong]; `strongProbability` = the cluster's smoothed share of strong labels, and
 * `predict` routes to strong iff it is >= 0.5.
 */
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { createRng } from "../util/random";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { answerQuality, fittedMeta, parseFittedMeta, requireTensor } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter } from "./define";
import { normalizeRows } from "./knn";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const ClusterHyperparametersSchema = z.strictObject({
  /** Number of clusters (at most the number of training queries). */
  k: z.int().positive().default(32),
  /** Lloyd iterations after the k-means++ initialisation (stops early when no assignment changes). */
  iterations: z.int().positive().default(20),
  /** Pseudo-queries at the model's overall mean added to every cluster's mean. */
  smoothing: z.number().nonnegative().default(1),
  /** Willingness to pay (quality units per USD) of `predict`; unset = best quality, then the cheaper model. */
  lambda: z.number().nonnegative().finite().optional(),
  seed: z.int().default(0),
});
export type ClusterHyperparameters = z.infer<typeof ClusterHyperparametersSchema>;

interface Fitted {
  meta: FittedMeta;
  /** k x dim unit centroids (float32). */
  centroids: Float32Array;
  k: number;
  /** k x M smoothed mean quality and mean cost. */
  quality: Float32Array;
  cost: Float32Array;
  /** Binary: k smoothed strong-label shares. */
  strong?: Float32Array;
}

/** Index of the centroid with the largest inner product with row `o` of `X` (ties: lower index). */
function nearest(X: Float32Array, o: number, C: Float32Array, k: number, dim: number): number {
  let best = 0;
  let bestS = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += X[o + d]! * C[c * dim + d]!;
    if (s > bestS) {
      bestS = s;
      best = c;
    }
  }
  return best;
}

/**
 * Seeded spherical k-means on unit rows: k-means++ seeding (each next centre drawn with probability proportional to
 * the squared distance 2 − 2·cos to the nearest chosen centre), then Lloyd steps with unit-mean centroids; an empty
 * cluster keeps its centroid. Returns the centroids and the final assignment.
 */
export function sphericalKmeans(
  X: Float32Array,
  n: number,
  dim: number,
  k: number,
  iterations: number,
  seed: number,
): { centroids: Float32Array; assign: Int32Array } {
  const rng = createRng(seed);
  const C = new Float32Array(k * dim);
  const d2 = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    C.set(X.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += X[i * dim + d]! * C[c * dim + d]!;
      d2[i] = Math.min(d2[i]!, Math.max(0, 2 - 2 * s));
      total += d2[i]!;
    }
    if (c + 1 === k) break;
    if (!(total > 0)) {
      pick = rng.int(n); // every point coincides with a centre: any point will do
      continue;
    }
    let u = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= d2[i]!;
      if (u < 0) {
        pick = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const c = nearest(X, i * dim, C, k, dim);
      if (c !== assign[i]) changed = true;
      assign[i] = c;
    }
    if (!changed) break;
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const o = assign[i]! * dim;
      for (let d = 0; d < dim; d++) sums[o + d]! += X[i * dim + d]!;
    }
    for (let c = 0; c < k; c++) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += sums[c * dim + d]! * sums[c * dim + d]!;
      if (!(norm > 0)) continue;
      norm = Math.sqrt(norm);
      for (let d = 0; d < dim; d++) C[c * dim + d] = sums[c * dim + d]! / norm;
    }
  }
  for (let i = 0; i < n; i++) assign[i] = nearest(X, i * dim, C, k, dim);
  return { centroids: C, assign };
}

/**
 * Per-bucket (cluster, group) smoothed means of an n x M matrix (NaN skipped) towards each column's overall mean:
 * `assign[i]` in [0, k) is row i's bucket. Also the group-knn router's per-group prior.
 */
export function clusterMeans(
  v: Float64Array,
  M: number,
  assign: Int32Array,
  k: number,
  smoothing: number,
): Float32Array {
  const sum = new Float64Array(k * M);
  const count = new Float64Array(k * M);
  const all = new Float64Array(M);
  const allCount = new Float64Array(M);
  assign.forEach((c, i) => {
    for (let m = 0; m < M; m++) {
      const y = v[i * M + m]!;
      if (Number.isNaN(y)) continue;
      sum[c * M + m]! += y;
      count[c * M + m]! += 1;
      all[m]! += y;
      allCount[m]! += 1;
    }
  });
  const out = new Float32Array(k * M);
  for (let c = 0; c < k; c++)
    for (let m = 0; m < M; m++) {
      const g = allCount[m]! > 0 ? all[m]! / allCount[m]! : 0;
      const w = count[c * M + m]! + smoothing;
      out[c * M + m] = w > 0 ? (sum[c * M + m]! + smoothing * g) / w : g;
    }
  return out;
}

export class ClusterRouter extends Estimator<ClusterHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof ClusterHyperparametersSchema> = {}) {
    super("cluster", ClusterHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    const X = queries.X;
    checkTraining(queries, task, { readsQuality: true });
    const { k, iterations, smoothing, seed } = this.hp;
    if (k > X.rows)
      throw new RouterlabError(`k = ${k} is larger than the ${X.rows} training points`, {
        file: "hyperparameters",
        field: "k",
      });
    const M = task.models.length;
    const n = X.rows;
    const quality = answerQuality(task, n);
    const cost = task.cost ?? new Float64Array(n * M);
    const Xn = normalizeRows(X);
    const { centroids, assign } = sphericalKmeans(Xn, n, X.dim, k, iterations, seed);
    const strong =
      task.kind === "binary"
        ? clusterMeans(Float64Array.from(task.labels), 1, assign, k, smoothing)
        : undefined;
    this.fitted = {
      meta: fittedMeta(X, task),
      centroids,
      k,
      quality: clusterMeans(quality, M, assign, k, smoothing),
      cost: clusterMeans(cost, M, assign, k, smoothing),
      strong,
    };
  }

  /** Nearest cluster of every query. */
  assign(queries: Queries): Int32Array {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const Q = normalizeRows(queries.X);
    return Int32Array.from({ length: queries.X.rows }, (_, i) =>
      nearest(Q, i * f.meta.dim, f.centroids, f.k, f.meta.dim),
    );
  }

  score(queries: Queries): RouterScores {
    const f = this.need();
    const M = f.meta.models.length;
    const a = this.assign(queries);
    const perModel = new Float64Array(a.length * M);
    a.forEach((c, i) => {
      for (let m = 0; m < M; m++) perModel[i * M + m] = f.quality[c * M + m]!;
    });
    if (!f.strong) return { models: f.meta.models, perModel };
    return { models: f.meta.models, perModel, strongProbability: Float64Array.from(a, (c) => f.strong![c]!) };
  }

  predict(queries: Queries): string[] {
    const f = this.need();
    const M = f.meta.models.length;
    const a = this.assign(queries);
    const lambda = this.hp.lambda;
    return Array.from(a, (c) => {
      if (f.strong) return f.meta.models[f.strong[c]! >= 0.5 ? 1 : 0]!;
      let best = 0;
      for (let m = 1; m < M; m++) {
        const q = f.quality[c * M + m]!;
        const z = f.cost[c * M + m]!;
        const bq = f.quality[c * M + best]!;
        const bz = f.cost[c * M + best]!;
        const better =
          lambda === undefined ? q > bq || (q === bq && z < bz) : lambda * q - z > lambda * bq - bz;
        if (better) best = m;
      }
      return f.meta.models[best]!;
    });
  }

  state(): RouterState {
    const f = this.need();
    const M = f.meta.models.length;
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta },
      tensors: {
        centroids: { shape: [f.k, f.meta.dim], data: f.centroids },
        quality: { shape: [f.k, M], data: f.quality },
        cost: { shape: [f.k, M], data: f.cost },
        ...(f.strong ? { strong: { shape: [f.k], data: f.strong } } : {}),
      },
    };
  }

  static fromState(state: RouterState): ClusterRouter {
    const r = new ClusterRouter(ClusterHyperparametersSchema.parse(state.hyperparameters));
    const meta = parseFittedMeta(state);
    const M = meta.models.length;
    const centroids = requireTensor(state, "centroids");
    const k = centroids.shape[0]!;
    const quality = requireTensor(state, "quality");
    const cost = requireTensor(state, "cost");
    const strong = state.tensors["strong"];
    const bad = (field: string, want: string): RouterlabError =>
      new RouterlabError(`cluster state: ${field} is not ${want}`, { file: "model file", field });
    if (centroids.data.length !== k * meta.dim) throw bad("centroids", `[${k}, ${meta.dim}]`);
    if (quality.data.length !== k * M) throw bad("quality", `[${k}, ${M}]`);
    if (cost.data.length !== k * M) throw bad("cost", `[${k}, ${M}]`);
    if ((meta.setting === "binary") !== (strong !== undefined) || (strong && strong.data.length !== k))
      throw bad("strong", meta.setting === "binary" ? `[${k}]` : "absent in the multi setting");
    r.fitted = {
      meta,
      centroids: centroids.data,
      k,
      quality: quality.data,
      cost: cost.data,
      strong: strong?.data,
    };
    return r;
  }
}

export const clusterEntry: RegisteredRouter = defineRouter({
  kind: "cluster",
  description:
    "Cluster router (Avengers-Pro family): seeded spherical k-means++ over embeddings, per-cluster per-model mean quality and cost, pick by willingness to pay",
  hyperparameters: ClusterHyperparametersSchema,
  seeded: true,
  gatewayFormat: null,
  notServableReason:
    "the gateway has no cluster strategy; a 1-NN KNN over the centroids would reproduce the decisions at one fixed λ only, and no export test proves it yet",
  create: (hp) => new ClusterRouter(hp),
  fromState: (state) => ClusterRouter.fromState(state),
});
