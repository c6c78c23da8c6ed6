/**
 * Centroid router: the gateway's default strategy (contract §6.6, `CentroidClassifier`) with centroids learned from
 * binary labels. Scored exactly as the gateway does: `e` divided by its norm (float32), `s = e·S`, `c = e·C`;
 * complex (= strong) iff `|c − s| < 0.06` or `c > s`, i.e. iff `c − s > −0.06`.
 *
 * Fit: u = the unit mean of the strong-labelled ("complex") embeddings, v = that of the weak ones ("simple"), g = the
 * unit mean of all of them. Because the 0.06 margin is fixed at serving time, the share is moved through the
 * centroids with a one-parameter family in the plane of the two class means:
 *
 *     w(λ) = u − v − λ·g,   C(λ) = h + w/2,   S(λ) = h − w/2,   h ⟂ w, ‖h‖² = 1 − ‖w‖²/4, h along (u + v) ⟂ w
 *
 * so C and S are unit vectors with C − S = w(λ), and λ = 0 gives exactly the class means (C = u, S = v). The gateway
 * then sends a query to complex iff e·(u − v) − λ·e·g > −0.06, i.e. iff λ < λ_e = (e·(u − v) + 0.06) / (e·g)
 * (queries have e·g > 0: they all lie on the side of the corpus mean). λ_e is therefore the router's score: a
 * threshold on it is a member of the family, chosen by calibration like any other threshold, and λ is the one
 * hyperparameter (`lambda`). `strongProbability` = σ(λ_e − λ), which is >= 0.5 exactly when the query goes complex.
 * |w| must stay <= 2 for unit centroids to exist.
 */
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, requireTensor, strongScores, tensor } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter, parseHyperparameters } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

/** The gateway's fixed `confidence_threshold` (contract §6.6). */
export const CENTROID_MARGIN = 0.06;

export const CentroidHyperparametersSchema = z.strictObject({
  /** Position in the family: 0 = the class means; larger = fewer queries complex. */
  lambda: z.number().default(0),
});
export type CentroidHyperparameters = z.infer<typeof CentroidHyperparametersSchema>;

interface Fitted {
  meta: FittedMeta;
  /** The float32 means the model file stores; u, v, g are their unit float64 versions. */
  stored: { complex: Float32Array; simple: Float32Array; corpus: Float32Array };
  u: Float64Array;
  v: Float64Array;
  g: Float64Array;
}

function fittedFrom(meta: FittedMeta, stored: Fitted["stored"]): Fitted {
  const u = (x: Float32Array): Float64Array => unit(Float64Array.from(x));
  return { meta, stored, u: u(stored.complex), v: u(stored.simple), g: u(stored.corpus) };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, off = 0): number => {
  let s = 0;
  for (let j = 0; j < b.length; j++) s += a[off + j]! * b[j]!;
  return s;
};
const unit = (x: Float64Array): Float64Array => {
  const n = Math.sqrt(dot(x, x));
  if (!(n > 0)) throw new RouterlabError("centroid: a class mean is the zero vector");
  return x.map((v) => v / n);
};

/** The unit centroid pair with C − S = w and C + S along `m`'s component orthogonal to w. */
export function centroidPair(
  w: Float64Array,
  m: Float64Array,
): { complex: Float64Array; simple: Float64Array } {
  const ww = dot(w, w);
  if (ww > 4)
    throw new RouterlabError(
      `centroid: |C − S| would be ${Math.sqrt(ww).toFixed(3)} > 2, no unit centroid pair exists for this lambda`,
      { file: "hyperparameters", field: "lambda" },
    );
  const k = dot(m, w) / ww;
  const hDir = unit(m.map((v, j) => v - k * w[j]!));
  const hNorm = Math.sqrt(1 - ww / 4);
  return {
    complex: hDir.map((v, j) => hNorm * v + w[j]! / 2),
    simple: hDir.map((v, j) => hNorm * v - w[j]! / 2),
  };
}

/**
 * The gateway's rule (contract §6.6) on one embedding: normalised in float32 as numpy does for a float32 vector,
 * dot products in float64 against the (float64) centroids.
 */
export function centroidIsComplex(
  e: ArrayLike<number>,
  complex: ArrayLike<number>,
  simple: ArrayLike<number>,
  off = 0,
): boolean {
  const d = complex.length;
  let nn = 0;
  for (let j = 0; j < d; j++) nn += e[off + j]! * e[off + j]!;
  const norm = Math.fround(Math.sqrt(nn));
  let s = 0;
  let c = 0;
  for (let j = 0; j < d; j++) {
    const x = Math.fround(e[off + j]! / norm);
    s += x * simple[j]!;
    c += x * complex[j]!;
  }
  const confidence = Math.abs(c - s);
  return confidence < CENTROID_MARGIN || c > s;
}

export class CentroidRouter extends Estimator<CentroidHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof CentroidHyperparametersSchema> = {}) {
    super("centroid", CentroidHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { binaryOnly: this.kind });
    const X = queries.X;
    const d = X.dim;
    const sum = [new Float64Array(d), new Float64Array(d)];
    const all = new Float64Array(d);
    for (let i = 0; i < X.rows; i++) {
      const off = i * d;
      let nn = 0;
      for (let j = 0; j < d; j++) nn += X.data[off + j]! ** 2;
      const n = Math.sqrt(nn);
      const acc = sum[task.labels[i] === 1 ? 1 : 0]!;
      for (let j = 0; j < d; j++) {
        const x = X.data[off + j]! / n;
        acc[j] = acc[j]! + x;
        all[j] = all[j]! + x;
      }
    }
    // Kept as the float32 numbers the model file stores, so a reloaded router serves the very same centroids.
    const f32 = (x: Float64Array): Float32Array => Float32Array.from(unit(x));
    this.fitted = fittedFrom(fittedMeta(X, task), {
      complex: f32(sum[1]!),
      simple: f32(sum[0]!),
      corpus: f32(all),
    });
    await Promise.resolve();
  }

  /** The unit centroids the gateway serves at this router's lambda (or another one). */
  centroids(lambda = this.hp.lambda): { complex: Float64Array; simple: Float64Array } {
    const f = this.need();
    const w = f.u.map((x, j) => x - f.v[j]! - lambda * f.g[j]!);
    return centroidPair(
      w,
      f.u.map((x, j) => x + f.v[j]!),
    );
  }

  /** Per query, the family parameter at which it switches to simple: complex iff lambda < λ_e. */
  switchLambda(queries: Queries): Float64Array {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const X = queries.X;
    const diff = f.u.map((x, j) => x - f.v[j]!);
    const out = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      const off = r * X.dim;
      const n = Math.sqrt(dot(X.data, X.data.subarray(off, off + X.dim), off));
      const eg = dot(X.data, f.g, off) / n;
      out[r] = (dot(X.data, diff, off) / n + CENTROID_MARGIN) / Math.max(eg, 1e-9);
    }
    return out;
  }

  predict(queries: Queries): string[] {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const X = queries.X;
    const { complex, simple } = this.centroids();
    const [weak, strong] = f.meta.models as [string, string];
    return Array.from({ length: X.rows }, (_, r) =>
      centroidIsComplex(X.data, complex, simple, r * X.dim) ? strong : weak,
    );
  }

  score(queries: Queries): RouterScores {
    const f = this.need();
    const lam = this.switchLambda(queries);
    return strongScores(
      f.meta.models,
      lam.map((l) => 1 / (1 + Math.exp(-(l - this.hp.lambda)))),
    );
  }

  /** The same centroids at another point of the family. */
  withLambda(lambda: number): CentroidRouter {
    const r = new CentroidRouter({ ...this.hp, lambda });
    r.fitted = this.need();
    return r;
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta },
      tensors: {
        complex_mean: tensor(f.stored.complex, [f.stored.complex.length]),
        simple_mean: tensor(f.stored.simple, [f.stored.simple.length]),
        corpus_mean: tensor(f.stored.corpus, [f.stored.corpus.length]),
      },
    };
  }

  static fromState(state: RouterState): CentroidRouter {
    const r = new CentroidRouter(
      parseHyperparameters("centroid", CentroidHyperparametersSchema, state.hyperparameters),
    );
    const meta = parseFittedMeta(state);
    const get = (name: string): Float32Array => {
      const t = requireTensor(state, name);
      if (t.data.length !== meta.dim)
        throw new RouterlabError(`centroid state: ${name} must have ${meta.dim} values`, {
          file: "model file",
          field: name,
        });
      return t.data;
    };
    r.fitted = fittedFrom(meta, {
      complex: get("complex_mean"),
      simple: get("simple_mean"),
      corpus: get("corpus_mean"),
    });
    return r;
  }
}

export const centroidEntry: RegisteredRouter = defineRouter({
  kind: "centroid",
  description:
    "The gateway's centroid routing (simple/complex unit centroids, fixed 0.06 margin biased to complex) with centroids learned from binary labels; the share moves along a one-parameter family in the plane of the class means",
  hyperparameters: CentroidHyperparametersSchema,
  create: (hp) => new CentroidRouter(hp),
  settings: ["binary"],
  gatewayFormat: "centroid-npy",
  fromState: (state) => CentroidRouter.fromState(state),
});
