import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../../embed/types";
import { trainingDataOf } from "../../routers/model-file";
import type { RouterState } from "../../routers/types";
import { RouterlabError } from "../../util/errors";
import { decidePickle } from "../bundle-decode";
import { runSklearnExport, type SklearnEstimator } from "../sklearn-step";
import { requireMeta } from "./state";
import type { ExportFormat, FormatContext } from "./types";

/**
 * scikit-learn pickles for the gateway's KNN and SVM strategies, written by the pinned Python step
 * (lib/export/sklearn-step.ts) from the training rows. The step reloads the pickle and refuses to write it unless
 * its decisions equal routerlab's on every evaluation query, so that reload is the gateway-exact scorer.
 */
interface SklearnFlavour {
  readonly estimator: SklearnEstimator;
  readonly id: string;
  readonly description: string;
  trainingRows(state: RouterState, ctx: FormatContext): { X: EmbeddingMatrix; labels: readonly string[] };
  hyperparameters(state: RouterState): Record<string, unknown>;
  /** Why a calibrated threshold cannot be stored in this pickle. */
  readonly operatingPointRefusal: string;
}

const Models = z.object({ models: z.array(z.string()) });

function sklearnFormat(f: SklearnFlavour): ExportFormat {
  return {
    id: f.id,
    gatewayKind: f.estimator,
    description: f.description,
    writes: (stem) => [`${stem}.pkl`],
    env: (signed) => [
      "LLMROUTER_ALLOW_PICKLE_MODELS=true",
      "LLMROUTER_ENFORCE_SIGNED_MODELS=true",
      ...(signed ? ["LLMROUTER_STRICT_PICKLE_MODE=true"] : []),
    ],
    needsMlImage: true,
    operatingPoint: { refusal: f.operatingPointRefusal },
    rescore: (files, X) => decidePickle(f.estimator, files, X),
    build(state, ctx) {
      const { models } = requireMeta(
        state,
        Models,
        ctx.where,
        "meta.models",
        "router state has no meta.models",
      );
      const train = f.trainingRows(state, ctx);
      if (train.X.rows !== train.labels.length)
        throw new RouterlabError(`${train.X.rows} training embeddings but ${train.labels.length} labels`, {
          file: ctx.where,
        });
      const out = path.join(ctx.outDir, `${ctx.stem}.pkl`);
      runSklearnExport({
        kind: f.estimator,
        train: train.X,
        labels: train.labels,
        hyperparameters: f.hyperparameters(state),
        probes: ctx.evalX,
        expected: ctx.expected,
        classOrder: models,
        out,
        versions: ctx.sklearnVersions,
        log: ctx.log,
      });
      return {
        files: [{ name: `${ctx.stem}.pkl`, bytes: readFileSync(out), served: true }],
        labels: [...new Set(train.labels)],
        decisions: ctx.expected, // checked inside the step, against the reloaded pickle
      };
    },
  };
}

const KnnHp = z.object({
  k: z.number().default(10),
  weights: z.enum(["uniform", "distance"]).default("uniform"),
});
const SvmHp = z.object({ C: z.number().default(1), kernel: z.string().default("rbf") });

export const sklearnKnnFormat = sklearnFormat({
  estimator: "knn",
  id: "sklearn-knn",
  description: "scikit-learn KNeighborsClassifier pickle (llmrouter-knn)",
  operatingPointRefusal:
    "a KNN router's score is a share of neighbour votes, and the gateway's pickle only calls predict (the " +
    "distance-weighted majority): no parameter of the fitted KNeighborsClassifier moves that cut",
  trainingRows(state, ctx) {
    const X = state.tensors.X;
    const y = state.tensors.y;
    if (!X || !y) throw new RouterlabError("knn state has no stored points", { file: ctx.where, field: "X" });
    const models = Models.parse(state.meta).models;
    return {
      X: { data: X.data, rows: X.shape[0]!, dim: X.shape[1]! },
      labels: Array.from(y.data, (v) => models[v]!),
    };
  },
  hyperparameters(state) {
    const h = KnnHp.parse(state.hyperparameters);
    return { n_neighbors: h.k, weights: h.weights, metric: "cosine", algorithm: "brute" };
  },
});

export const sklearnSvmFormat = sklearnFormat({
  estimator: "svm",
  id: "sklearn-svm",
  description: "scikit-learn SVC pickle, refitted from the training rows (llmrouter-svm)",
  operatingPointRefusal:
    "the SVC pickle is refitted by scikit-learn and the gateway calls predict, whose intercept lives in libsvm's " +
    "private state; routerlab does not show that a moved intercept reproduces `score >= t` on every probe, so it " +
    "does not bake one",
  trainingRows(state, ctx) {
    const t = ctx.train ?? trainingDataOf(state);
    if (!t)
      throw new RouterlabError(
        "an SVM export needs the training rows (scikit-learn refits the SVC), and this model file keeps none",
        { file: ctx.where, field: "training.X" },
        "retrain with `routerlab train` (it stores them for SVMs), or pass --train <embeddings.f32> --train-labels <labels.json>",
      );
    return t;
  },
  hyperparameters(state) {
    const h = SvmHp.parse(state.hyperparameters);
    return { C: h.C, kernel: h.kernel, gamma: Number(state.meta.gamma) || "scale" };
  },
});
