import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, parseStateMeta, requireTensor } from "./common";
import { Estimator, defineRouter } from "./define";
import type { KernelSpec, SvcModel } from "./libsvm";
import { svcDecision, trainSvc } from "./libsvm";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

/**
 * Support-vector router with scikit-learn `SVC` semantics (libsvm C-SVC, one-vs-one, default
 * tol 1e-3, shrinking on): `kernel` rbf or linear, `C`, `gamma` as a number, "scale"
 * (1 / (n_features * X.var())) or "auto" (1 / n_features). The learned state is libsvm's: support
 * vectors, dual coefficients (kept in float64 in the model file's JSON) and intercepts.
 *
 * Scores: binary: `decision` is sklearn's `decision_function` (> 0 favours the strong model) and
 * P(strong) = sigmoid(decision) (monotone, not calibrated); multi: per-model one-vs-one vote share.
 */
export const SvmHyper = z.strictObject({
  kernel: z.enum(["rbf", "linear"]).default("rbf"),
  C: z.number().positive().finite().default(1),
  gamma: z.union([z.literal("scale"), z.literal("auto"), z.number().positive().finite()]).default("scale"),
  tol: z.number().positive().default(1e-3),
  shrinking: z.boolean().default(true),
  /** -1: no limit (as sklearn). */
  maxIter: z.number().int().default(-1),
});
export type SvmHyperparameters = z.infer<typeof SvmHyper>;

/** sklearn's gamma: "scale" = 1 / (n_features * X.var()) over all values (1 if the variance is 0), "auto" = 1 / n_features. */
export function resolveGamma(gamma: SvmHyperparameters["gamma"], X: EmbeddingMatrix): number {
  if (typeof gamma === "number") return gamma;
  if (gamma === "auto") return 1 / X.dim;
  const d = X.data;
  let mean = 0;
  for (let i = 0; i < d.length; i++) mean += d[i]!;
  mean /= d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i]! - mean) * (d[i]! - mean);
  v /= d.length;
  return v !== 0 ? 1 / (X.dim * v) : 1;
}

const SvmStateMeta = z.object({
  labels: z.array(z.number().int()),
  nSV: z.array(z.number().int().nonnegative()),
  svCoef: z.array(z.number()),
  rho: z.array(z.number()),
  gamma: z.number(),
});

export class SvmRouter
  extends Estimator<SvmHyperparameters, { meta: FittedMeta; model: SvcModel }>
  implements Router
{
  constructor(hp: z.input<typeof SvmHyper> = {}) {
    super("svm", SvmHyper, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    const X = queries.X;
    checkTraining(queries, task);
    const hp = this.hp;
    const kernel: KernelSpec =
      hp.kernel === "linear" ? { type: "linear" } : { type: "rbf", gamma: resolveGamma(hp.gamma, X) };
    const model = await trainSvc(X.data, X.rows, X.dim, task.labels, {
      C: hp.C,
      kernel,
      tol: hp.tol,
      shrinking: hp.shrinking,
      maxIter: hp.maxIter,
    });
    this.fitted = { meta: fittedMeta(X, task), model };
  }

  /** The fitted libsvm model (support vectors, coefficients, intercepts). */
  get model(): SvcModel {
    return this.need().model;
  }

  /**
   * sklearn's decision_function: two classes: n values (> 0 favours the higher class, i.e. the
   * strong model); more: n x nPairs one-vs-one values (decision_function_shape="ovo").
   */
  decisionFunction(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const { dec } = svcDecision(f.model, X.data, X.rows);
    if (f.model.nClass === 2) return dec.map((v) => -v);
    return dec;
  }

  /** Predicted model index per row (libsvm voting, ties to the lower class). */
  predictIndex(X: EmbeddingMatrix): Int32Array {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    return svcDecision(f.model, X.data, X.rows).pred;
  }

  predict(queries: Queries): string[] {
    const models = this.need().meta.models;
    return Array.from(this.predictIndex(queries.X), (c) => models[c]!);
  }

  score(queries: Queries): RouterScores {
    const X = queries.X;
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const { dec } = svcDecision(f.model, X.data, X.rows);
    const M = f.meta.models.length;
    const { nClass, labels } = f.model;
    const perModel = new Float64Array(X.rows * M);
    const nPairs = (nClass * (nClass - 1)) / 2;
    for (let r = 0; r < X.rows; r++) {
      let p = 0;
      for (let i = 0; i < nClass; i++) {
        for (let j = i + 1; j < nClass; j++) {
          const winner = dec[r * nPairs + p]! > 0 ? labels[i]! : labels[j]!;
          perModel[r * M + winner] = perModel[r * M + winner]! + 1 / Math.max(1, nClass - 1);
          p++;
        }
      }
    }
    if (f.meta.setting !== "binary") return { models: f.meta.models, perModel };
    const strongProbability = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      // binary tasks always have both classes (checked at fit): dec[r] > 0 favours the weak model
      const s = 1 / (1 + Math.exp(dec[r]!));
      strongProbability[r] = s;
      perModel[r * M] = 1 - s;
      perModel[r * M + 1] = s;
    }
    return { models: f.meta.models, perModel, strongProbability };
  }

  state(): RouterState {
    const { meta, model } = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: {
        ...meta,
        labels: model.labels,
        nSV: model.nSV,
        svCoef: Array.from(model.svCoef),
        rho: Array.from(model.rho),
        gamma: model.kernel.type === "rbf" ? model.kernel.gamma : 0,
      },
      tensors: { support_vectors: { shape: [model.sv.length / model.dim, model.dim], data: model.sv } },
    };
  }

  static fromState(state: RouterState): SvmRouter {
    const hp = SvmHyper.parse(state.hyperparameters);
    const meta = parseFittedMeta(state);
    const s = parseStateMeta(state, SvmStateMeta);
    const sv = requireTensor(state, "support_vectors");
    const total = s.nSV.reduce((a, b) => a + b, 0);
    if (
      sv.shape[0] !== total ||
      sv.shape[1] !== meta.dim ||
      s.svCoef.length !== Math.max(1, s.labels.length - 1) * total
    ) {
      throw new RouterlabError("svm state: support vectors and coefficients disagree", {
        file: "model file",
        field: "support_vectors",
      });
    }
    const r = new SvmRouter(hp);
    r.fitted = {
      meta,
      model: {
        nClass: s.labels.length,
        labels: s.labels,
        dim: meta.dim,
        kernel: hp.kernel === "linear" ? { type: "linear" } : { type: "rbf", gamma: s.gamma },
        sv: sv.data,
        nSV: s.nSV,
        svCoef: Float64Array.from(s.svCoef),
        rho: Float64Array.from(s.rho),
      },
    };
    return r;
  }
}

export const svmEntry = defineRouter({
  kind: "svm",
  description: "support-vector classifier (libsvm C-SVC, scikit-learn SVC semantics), rbf or linear kernel",
  hyperparameters: SvmHyper,
  keepsTrainingRows: true,
  gatewayFormat: "sklearn-svm",
  create: (hp) => new SvmRouter(hp),
  fromState: (s) => SvmRouter.fromState(s),
});
