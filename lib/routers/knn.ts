import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import type { IvfIndex } from "./ann";
import { buildIvf, ivfFromTensors, ivfSearch, ivfTensors, pushTopK } from "./ann";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, requireTensor, scoresFromProba } from "./common";
import { Estimator, defineRouter } from "./define";
import { matrixTensor, topkInnerProduct } from "./native/topk";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

/**
 * k-nearest-neighbour router with scikit-learn semantics: `KNeighborsClassifier(algorithm="brute",
 * metric="cosine")`, i.e. distances 1 - cos computed in float32 on L2-normalised rows, clipped to
 * [0, 2]; the k smallest distances (equal distances: lower training index first); uniform votes
 * (scipy `mode`) or 1/d weights (sklearn `weighted_mode`, and a zero distance makes the exactly
 * matching points weigh 1, the rest 0); vote ties go to the smallest class (lowest model index).
 *
 * Two exact back ends giving the same neighbours: onnxruntime MatMul+TopK (BLAS-speed, what `predict` and
 * `score` use) and pure TypeScript (`kneighborsJs`, the reference). `index: {type: "ivf"}` adds an approximate
 * inverted-file index (seeded spherical k-means) that `predict` and `score` then use instead.
 *
 * Multi-model setting: `predict` is still the gateway's vote over the best-model labels, but `score` is each model's
 * predicted quality, the (vote-weighted) mean of the neighbours' observed quality of that model. Vote shares are
 * P(model m is the cheapest best), not quality: used as quality in a willingness-to-pay sweep they starve the
 * expensive models (a strong model that is right wherever a cheap one is right never gets the label).
 */
export const KnnHyper = z.strictObject({
  k: z.number().int().positive().default(10),
  weights: z.enum(["uniform", "distance"]).default("uniform"),
  /** Queries per onnxruntime call (memory: batch x stored points x 4 bytes). */
  batchSize: z.number().int().positive().default(256),
  index: z
    .discriminatedUnion("type", [
      z.strictObject({ type: z.literal("exact") }),
      z.strictObject({
        type: z.literal("ivf"),
        /** Number of lists (k-means centroids); default round(sqrt(n)). */
        nlist: z.number().int().positive().optional(),
        nprobe: z.number().int().positive().default(8),
        iterations: z.number().int().positive().default(10),
        /** Points used to train the centroids (a seeded sample). */
        trainSample: z.number().int().positive().default(50000),
        seed: z.number().int().nonnegative().default(0),
      }),
    ])
    .default({ type: "exact" }),
});
export type KnnHyperparameters = z.infer<typeof KnnHyper>;

/** Neighbours of a batch: row-major n x k distances (float32 values) and training indices. */
export interface Neighbours {
  readonly k: number;
  readonly dist: Float32Array;
  readonly ind: Int32Array;
}

/**
 * L2-normalises rows in float32 as scikit-learn's `normalize` does (norm = sqrt of the sum of
 * squares, rounded to float32; zero rows stay zero).
 */
export function normalizeRows(X: EmbeddingMatrix): Float32Array {
  const { rows, dim, data } = X;
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const o = i * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[o + d]! * data[o + d]!;
    const norm = Math.fround(Math.sqrt(Math.fround(s)));
    if (norm === 0) continue;
    for (let d = 0; d < dim; d++) out[o + d] = Math.fround(data[o + d]! / norm);
  }
  return out;
}

/** float32 cosine distance from a float32 similarity, as sklearn: 1 - S, clipped to [0, 2]. */
export function cosineDistance(s: number): number {
  const d = Math.fround(1 - s);
  return d < 0 ? 0 : d > 2 ? 2 : d;
}

/** numpy's pairwise summation (float64) of a[0..n), as used by `np.sum` along a contiguous axis. */
export function numpyPairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = r[j]! + a[start + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpyPairwiseSum(a, start, n2) + numpyPairwiseSum(a, start + n2, n - n2);
}

/** Requested k values already reported as capped (each is logged once per process, not once per fold). */
const reportedCaps = new Set<number>();

/** k capped at the number of training rows (scikit-learn would refuse k > rows at predict time). */
function cappedK(k: number, rows: number): number {
  if (k <= rows) return k;
  if (!reportedCaps.has(k)) {
    reportedCaps.add(k);
    process.stderr.write(
      `knn: k = ${k} exceeds the ${rows} training rows; using k = ${rows} (logged once)\n`,
    );
  }
  return rows;
}

interface KnnFitted {
  meta: FittedMeta;
  X: Float32Array;
  y: Int32Array;
  n: number;
  /** The k in use: the hyperparameter, capped at the training rows. */
  k: number;
  ivf?: IvfIndex;
  /** Multi setting: observed quality n x M (NaN = missing), for `score`. */
  quality?: Float32Array;
  /** Per-model mean training quality: the score when no neighbour has an observed quality. */
  meanQuality?: Float64Array;
}

export class KnnRouter extends Estimator<KnnHyperparameters, KnnFitted> implements Router {
  constructor(hp: z.input<typeof KnnHyper> = {}) {
    super("knn", KnnHyper, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    const X = queries.X;
    checkTraining(queries, task);
    const k = cappedK(this.hp.k, X.rows);
    const Xn = normalizeRows(X);
    const meta = fittedMeta(X, task);
    const idx = this.hp.index;
    const ivf =
      idx.type === "ivf"
        ? await buildIvf(Xn, X.rows, X.dim, {
            nlist: idx.nlist ?? Math.max(1, Math.round(Math.sqrt(X.rows))),
            iterations: idx.iterations,
            trainSample: idx.trainSample,
            seed: idx.seed,
          })
        : undefined;
    const quality = task.kind === "multi" && task.quality ? Float32Array.from(task.quality) : undefined;
    this.fitted = {
      meta,
      X: Xn,
      y: Int32Array.from(task.labels),
      n: X.rows,
      k,
      ivf,
      quality,
      meanQuality: quality ? columnMeans(quality, meta.models.length) : undefined,
    };
  }

  /** Exact neighbours, pure TypeScript (float64 dot products rounded to float32). */
  kneighborsJs(X: EmbeddingMatrix): Neighbours {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const k = f.k;
    const Q = normalizeRows(X);
    const dim = X.dim;
    const dist = new Float32Array(X.rows * k);
    const ind = new Int32Array(X.rows * k);
    const bd = new Float64Array(k);
    const bi = new Int32Array(k);
    const T = f.X;
    for (let q = 0; q < X.rows; q++) {
      const qo = q * dim;
      let count = 0;
      for (let i = 0; i < f.n; i++) {
        const o = i * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += Q[qo + d]! * T[o + d]!;
        count = pushTopK(bd, bi, count, k, cosineDistance(Math.fround(s)), i);
      }
      for (let j = 0; j < k; j++) {
        dist[q * k + j] = bd[j]!;
        ind[q * k + j] = bi[j]!;
      }
    }
    return { k, dist, ind };
  }

  /** Exact neighbours with onnxruntime (sgemm + TopK), batched. */
  async kneighborsOnnx(X: EmbeddingMatrix): Promise<Neighbours> {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const k = f.k;
    const dim = X.dim;
    const Q = normalizeRows(X);
    const stored = matrixTensor(f.X, f.n, dim);
    const dist = new Float32Array(X.rows * k);
    const ind = new Int32Array(X.rows * k);
    const bd = new Float64Array(k);
    const bi = new Int32Array(k);
    const batch = this.hp.batchSize;
    for (let start = 0; start < X.rows; start += batch) {
      const rows = Math.min(batch, X.rows - start);
      let pending = Array.from({ length: rows }, (_, r) => r);
      // Extra candidates so that float32 rounding of 1 - S cannot hide distance ties at the k-th place.
      let K = Math.min(f.n, k + 8);
      while (pending.length > 0) {
        const sub = new Float32Array(pending.length * dim);
        pending.forEach((r, i) => sub.set(Q.subarray((start + r) * dim, (start + r + 1) * dim), i * dim));
        const { values, indices } = await topkInnerProduct(sub, pending.length, dim, stored, K);
        const again: number[] = [];
        pending.forEach((r, i) => {
          let count = 0;
          for (let j = 0; j < K; j++) {
            count = pushTopK(bd, bi, count, k, cosineDistance(values[i * K + j]!), indices[i * K + j]!);
          }
          // The last candidate ties with the k-th distance: more tied points may lie beyond K.
          if (K < f.n && cosineDistance(values[i * K + K - 1]!) <= bd[k - 1]!) {
            again.push(r);
            return;
          }
          const q = start + r;
          for (let j = 0; j < k; j++) {
            dist[q * k + j] = bd[j]!;
            ind[q * k + j] = bi[j]!;
          }
        });
        pending = again;
        K = Math.min(f.n, K * 4);
      }
    }
    return { k, dist, ind };
  }

  /** Approximate neighbours through the IVF index (requires `index: {type: "ivf"}`). */
  kneighborsAnn(X: EmbeddingMatrix, nprobe?: number): Neighbours {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const idx = this.hp.index;
    if (!f.ivf || idx.type !== "ivf")
      throw new RouterlabError("this KNN router has no approximate index (index.type: ivf)");
    const k = f.k;
    const Q = normalizeRows(X);
    const dist = new Float32Array(X.rows * k);
    const ind = new Int32Array(X.rows * k);
    for (let q = 0; q < X.rows; q++) {
      const r = ivfSearch(f.ivf, f.X, Q.subarray(q * X.dim, (q + 1) * X.dim), k, nprobe ?? idx.nprobe);
      dist.set(r.dist, q * k);
      ind.set(r.ind, q * k);
    }
    return { k, dist, ind };
  }

  /** Votes: predicted model index per query and per-model probabilities (N x M). */
  vote(nb: Neighbours): { pred: Int32Array; proba: Float64Array } {
    const f = this.need();
    const M = f.meta.models.length;
    const k = nb.k;
    const n = nb.dist.length / k;
    const pred = new Int32Array(n);
    const proba = new Float64Array(n * M);
    const w = new Float64Array(k);
    const template = new Float64Array(k);
    const distance = this.hp.weights === "distance";
    for (let q = 0; q < n; q++) {
      if (distance) {
        let zero = false;
        for (let j = 0; j < k; j++) if (nb.dist[q * k + j] === 0) zero = true;
        for (let j = 0; j < k; j++) {
          const d = nb.dist[q * k + j]!;
          w[j] = zero ? (d === 0 ? 1 : 0) : Math.fround(1 / d);
        }
      } else w.fill(1);
      let best = -1;
      let bestCount = 0;
      let total = 0;
      for (let c = 0; c < M; c++) {
        let any = false;
        for (let j = 0; j < k; j++) {
          const hit = f.y[nb.ind[q * k + j]!] === c;
          template[j] = hit ? w[j]! : 0;
          any ||= hit;
        }
        if (!any) continue;
        const count = numpyPairwiseSum(template, 0, k);
        proba[q * M + c] = count;
        total += count;
        if (count > bestCount) {
          best = c;
          bestCount = count;
        }
      }
      if (best < 0) throw new RouterlabError("all neighbours of a query have zero weight");
      pred[q] = best;
      for (let c = 0; c < M; c++) proba[q * M + c] = proba[q * M + c]! / total;
    }
    return { pred, proba };
  }

  /** Vote weights of one query's k neighbours (uniform, or 1/d with sklearn's zero-distance rule). */
  private weightsOf(nb: Neighbours, q: number, w: Float64Array): void {
    const k = nb.k;
    if (this.hp.weights !== "distance") {
      w.fill(1);
      return;
    }
    let zero = false;
    for (let j = 0; j < k; j++) if (nb.dist[q * k + j] === 0) zero = true;
    for (let j = 0; j < k; j++) {
      const d = nb.dist[q * k + j]!;
      w[j] = zero ? (d === 0 ? 1 : 0) : Math.fround(1 / d);
    }
  }

  /** Multi setting: per-model weighted mean of the neighbours' observed quality (N x M). */
  neighbourQuality(nb: Neighbours): Float64Array {
    const f = this.need();
    const quality = f.quality!;
    const mean = f.meanQuality!;
    const M = f.meta.models.length;
    const k = nb.k;
    const n = nb.dist.length / k;
    const out = new Float64Array(n * M);
    const w = new Float64Array(k);
    for (let q = 0; q < n; q++) {
      this.weightsOf(nb, q, w);
      for (let m = 0; m < M; m++) {
        let s = 0;
        let ws = 0;
        for (let j = 0; j < k; j++) {
          const y = quality[nb.ind[q * k + j]! * M + m]!;
          if (Number.isNaN(y) || w[j] === 0) continue;
          s += w[j]! * y;
          ws += w[j]!;
        }
        out[q * M + m] = ws > 0 ? s / ws : mean[m]!;
      }
    }
    return out;
  }

  /** Exact neighbours on onnxruntime, or approximate ones through the IVF index when the kind has one. */
  private async neighbours(X: EmbeddingMatrix): Promise<Neighbours> {
    return this.hp.index.type === "ivf" ? this.kneighborsAnn(X) : this.kneighborsOnnx(X);
  }

  async predict(queries: Queries): Promise<string[]> {
    const models = this.need().meta.models;
    return Array.from(this.vote(await this.neighbours(queries.X)).pred, (c) => models[c]!);
  }

  async score(queries: Queries): Promise<RouterScores> {
    const nb = await this.neighbours(queries.X);
    if (this.need().quality) return { models: this.need().meta.models, perModel: this.neighbourQuality(nb) };
    return scoresFromProba(this.need().meta, this.vote(nb).proba);
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      // the k in use, so the reloaded router and the exported KNeighborsClassifier query as many neighbours
      hyperparameters: { ...this.hp, k: f.k },
      meta: { ...f.meta, n: f.n },
      tensors: {
        X: { shape: [f.n, f.meta.dim], data: f.X },
        y: { shape: [f.n], data: Float32Array.from(f.y) },
        ...(f.ivf ? ivfTensors(f.ivf) : {}),
        ...(f.quality ? { quality: { shape: [f.n, f.meta.models.length], data: f.quality } } : {}),
      },
    };
  }

  static fromState(state: RouterState): KnnRouter {
    const r = new KnnRouter(KnnHyper.parse(state.hyperparameters));
    const meta = parseFittedMeta(state);
    const X = requireTensor(state, "X");
    const y = requireTensor(state, "y");
    const n = y.data.length;
    if (X.shape[0] !== n || X.shape[1] !== meta.dim) {
      throw new RouterlabError(
        `knn state: X has shape [${X.shape.join(", ")}], expected [${n}, ${meta.dim}]`,
        {
          file: "model file",
          field: "X",
        },
      );
    }
    const quality = state.tensors["quality"];
    if (quality && (meta.setting !== "multi" || quality.data.length !== n * meta.models.length)) {
      throw new RouterlabError(
        `knn state: quality has shape [${quality.shape.join(", ")}], expected [${n}, ${meta.models.length}] in the multi setting`,
        { file: "model file", field: "quality" },
      );
    }
    r.fitted = {
      meta,
      X: X.data,
      y: Int32Array.from(y.data),
      n,
      k: Math.min(r.hp.k, n),
      ivf: state.tensors["ivf_centroids"] ? ivfFromTensors(state) : undefined,
      quality: quality?.data,
      meanQuality: quality ? columnMeans(quality.data, meta.models.length) : undefined,
    };
    return r;
  }
}

/** Mean of each column of an n x M matrix over its non-NaN entries (0 for an all-NaN column). */
function columnMeans(a: Float32Array, M: number): Float64Array {
  const sum = new Float64Array(M);
  const count = new Float64Array(M);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!)) continue;
    sum[i % M]! += a[i]!;
    count[i % M]! += 1;
  }
  return sum.map((s, m) => (count[m]! > 0 ? s / count[m]! : 0));
}

export const knnEntry = defineRouter({
  kind: "knn",
  description:
    "k nearest neighbours, cosine (scikit-learn KNeighborsClassifier(algorithm='brute') semantics)",
  hyperparameters: KnnHyper,
  gatewayFormat: "sklearn-knn",
  create: (hp) => new KnnRouter(hp),
  fromState: (s) => KnnRouter.fromState(s),
});
