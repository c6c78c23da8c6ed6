import { z } from "zod";
import { BinaryLabelRuleSchema } from "../routers/labels";
import { FeatureLogregSchema } from "./feature-logreg";
import { OutputNameSchema } from "../util/atomic-write";

/** One router of the main job: a registry kind with hyperparameters, under a display name. */
export const RouterSpecSchema = z.strictObject({
  name: OutputNameSchema,
  kind: z.string().min(1),
  hyperparameters: z.record(z.string(), z.unknown()).default({}),
  /** Train on at most this many rows (a seeded sample), e.g. to bound SVM time (O(n^2) kernel). */
  maxTrain: z.int().positive().optional(),
});
export type RouterSpec = z.infer<typeof RouterSpecSchema>;

const DEFAULT_BINARY_ROUTERS: RouterSpec[] = [
  { name: "knn", kind: "knn", hyperparameters: { k: 40, weights: "uniform" } },
  { name: "svm", kind: "svm", hyperparameters: { kernel: "rbf", C: 1, gamma: "scale" }, maxTrain: 2500 },
  {
    name: "mlp",
    kind: "mlp",
    hyperparameters: { hiddenLayerSizes: [128, 64], epochs: 30, patience: 4, classWeight: "balanced" },
  },
  { name: "mf", kind: "mf", hyperparameters: { epochs: 10 } },
  // Embedding-only scorers the gateway serves with a calibrated threshold (as an MLP with no hidden layer; as the
  // centroid pair of its default strategy).
  { name: "logreg", kind: "logreg", hyperparameters: {} },
  { name: "centroid", kind: "centroid", hyperparameters: {} },
  // The query-blind ELO baseline: one choice for every query (out of fold: one score level per fold).
  { name: "elo", kind: "elo", hyperparameters: { resamples: 0 } },
];

const DEFAULT_FEATURE_LOGREG = {
  enabled: true,
  l2Grid: [0.01, 0.1, 1],
  innerFolds: 3,
  innerMaxRows: 3000,
  maxIterations: 300,
};

const DEFAULT_MULTI_ROUTERS: RouterSpec[] = [
  // k by 5-fold CV on the training split over {10, 20, 40, 60, 80, 120, 160} (docs/evaluation.md, "Multi-model quality").
  { name: "knn", kind: "knn", hyperparameters: { k: 80, weights: "uniform" } },
  { name: "mlp", kind: "mlp", hyperparameters: { hiddenLayerSizes: [128, 64], epochs: 30, patience: 4 } },
  { name: "mf", kind: "mf", hyperparameters: { epochs: 10 } },
  { name: "cluster", kind: "cluster", hyperparameters: { k: 32 } },
  // per-answer IRT: 11-22 s to fit on the 5,608 training queries (2 shared cores, load 9-19)
  { name: "irt", kind: "irt", hyperparameters: {} },
  // The task prior plus the neighbours' residual; k and the weight by 5-fold CV on the training split (evaluation.md).
  { name: "group-knn", kind: "group-knn", hyperparameters: { k: 80, residualWeight: 0.5 } },
];

/**
 * The main job (`npm start` / `routerlab run`). Every field has an embedded default, so the job runs
 * with no config file; `--config configs/main.yaml` overrides any of them.
 */
export const MainJobConfigSchema = z.strictObject({
  seed: z.int().nonnegative().default(0),
  /** Keep at most this many rows per dataset (seeded sample): for tests and quick demos. Unset = all. */
  sample: z.int().positive().optional(),
  embedding: z
    .strictObject({ precision: z.enum(["fp32", "int8"]).default("fp32") })
    .default({ precision: "fp32" }),
  binary: z
    .strictObject({
      datasets: z.array(z.enum(["mmlu", "gsm8k", "mt-bench"])).default(["mmlu", "gsm8k", "mt-bench"]),
      folds: z.int().min(2).default(5),
      label: BinaryLabelRuleSchema.default({ rule: "strong_better" }),
      routers: z.array(RouterSpecSchema).min(1).default(DEFAULT_BINARY_ROUTERS),
      bootstrapResamples: z.int().min(100).default(1000),
      /**
       * Worker threads that fit the folds of single-threaded routers (the MLP) side by side. Unset: the
       * number of CPUs, at most 4. Scores do not depend on it.
       */
      foldWorkers: z.int().min(1).optional(),
      /** Logistic regression on embedding + text features, L2 by nested CV (evaluated, not exported). */
      featureLogreg: FeatureLogregSchema.extend({ enabled: z.boolean().default(true) }).default(
        DEFAULT_FEATURE_LOGREG,
      ),
    })
    .default({
      datasets: ["mmlu", "gsm8k", "mt-bench"],
      folds: 5,
      label: { rule: "strong_better" },
      routers: DEFAULT_BINARY_ROUTERS,
      bootstrapResamples: 1000,
      featureLogreg: DEFAULT_FEATURE_LOGREG,
    }),
  multi: z
    .strictObject({
      enabled: z.boolean().default(true),
      routers: z.array(RouterSpecSchema).min(1).default(DEFAULT_MULTI_ROUTERS),
      lambdas: z.int().min(3).default(40),
    })
    .default({ enabled: true, routers: DEFAULT_MULTI_ROUTERS, lambdas: 40 }),
  calibration: z
    .strictObject({
      targetShare: z.number().gt(0).lt(1).default(0.5),
      holdoutFraction: z.number().gt(0).lt(1).default(0.3),
      resamples: z.int().min(100).default(1000),
    })
    .default({ targetShare: 0.5, holdoutFraction: 0.3, resamples: 1000 }),
  tracking: z.strictObject({ experiment: z.string().min(1).default("routerlab-main") }).default({
    experiment: "routerlab-main",
  }),
  /** Output folder (default out/main). */
  outDir: z.string().min(1).optional(),
  /** Reuse trained models from the cache when config, data and embeddings are unchanged. */
  modelCache: z.boolean().default(true),
});
export type MainJobConfig = z.infer<typeof MainJobConfigSchema>;

export function defaultMainJobConfig(): MainJobConfig {
  return MainJobConfigSchema.parse({});
}
