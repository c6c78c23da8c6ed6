/**
 * Group-prior KNN router (multi-model setting): a model's predicted quality on a query is its mean observed quality
 * over the training queries of the query's group (task, subject), smoothed towards the model's overall mean with
 * `smoothing` pseudo-queries, plus `residualWeight` times the mean residual (observed quality minus that group prior)
 * of the query's k nearest training neighbours (cosine, the KNN kind's exact search). A query with no group, or a
 * group unseen in training, gets the overall mean as its prior.
 *
 * Why: on LLMRouter's data the task explains most of what is predictable (a per-task mean alone beats every
 * embedding-only router), and the neighbours add what the embedding knows within a task. docs/evaluation.md has the
 * training-split cross-validation behind the defaults. `predict` is the argmax of the predicted quality (ties: the
 * lowest model index).
 */
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseStateMeta, requireTensor } from "./common";
import type { RegisteredRouter } from "./define";
import { clusterMeans } from "./cluster";
import { Estimator, defineRouter } from "./define";
import { KnnRouter } from "./knn";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";
import { rowArgmax } from "./nn/gateway";

export const GroupKnnHyperparametersSchema = z.strictObject({
  /** Neighbours whose residuals are averaged (at most the number of training queries). */
  k: z.int().positive().default(80),
  /** Weight of the neighbours' mean residual: 0 = the group prior alone, 1 = prior plus the full residual. */
  residualWeight: z.number().min(0).max(1).default(0.5),
  /** Pseudo-queries at the model's overall mean added to every group's mean. */
  smoothing: z.number().nonnegative().default(1),
  /** Queries per onnxruntime call of the neighbour search. */
  batchSize: z.int().positive().default(256),
});
export type GroupKnnHyperparameters = z.infer<typeof GroupKnnHyperparametersSchema>;

const GroupKnnMetaSchema = z.object({
  setting: z.literal("multi"),
  models: z.array(z.string()).min(1),
  dim: z.int().nonnegative(),
  groups: z.array(z.string()),
});

interface Fitted {
  meta: FittedMeta;
  /** Training group names; row g of `prior` belongs to groups[g], the last row is the overall mean. */
  groups: string[];
  prior: Float32Array;
  /** KNN over the training embeddings whose per-model "quality" is the residual quality − group prior. */
  residuals: KnnRouter;
}

/** Per-group smoothed per-model means (NaN skipped), then the overall mean as the last row. */
function groupPriors(
  quality: Float64Array,
  M: number,
  rowGroup: Int32Array,
  G: number,
  smoothing: number,
): Float32Array {
  const out = new Float32Array((G + 1) * M);
  if (G > 0) out.set(clusterMeans(quality, M, rowGroup, G, smoothing));
  out.set(clusterMeans(quality, M, new Int32Array(rowGroup.length), 1, 0), G * M);
  return out;
}

export class GroupKnnRouter extends Estimator<GroupKnnHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof GroupKnnHyperparametersSchema> = {}) {
    super("group-knn", GroupKnnHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { readsQuality: true });
    if (task.kind !== "multi" || !task.quality)
      throw new RouterlabError("group-knn learns the multi-model setting from observed quality", {
        file: "task",
        field: task.kind !== "multi" ? "kind" : "quality",
      });
    const n = queries.X.rows;
    const M = task.models.length;
    const groups = [...new Set(queries.groups ?? [])].sort();
    const index = new Map(groups.map((g, i) => [g, i]));
    const rowGroup = Int32Array.from({ length: n }, (_, i) =>
      queries.groups ? index.get(queries.groups[i]!)! : groups.length,
    );
    const prior = groupPriors(task.quality, M, rowGroup, groups.length, this.hp.smoothing);
    const residual = new Float64Array(n * M);
    for (let i = 0; i < n; i++)
      for (let m = 0; m < M; m++)
        residual[i * M + m] = task.quality[i * M + m]! - prior[rowGroup[i]! * M + m]!;
    const residuals = new KnnRouter({ k: this.hp.k, batchSize: this.hp.batchSize });
    await residuals.fit(queries, { ...task, quality: residual });
    this.fitted = { meta: fittedMeta(queries.X, task), groups, prior, residuals };
  }

  async score(queries: Queries): Promise<RouterScores> {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const M = f.meta.models.length;
    const G = f.groups.length;
    const index = new Map(f.groups.map((g, i) => [g, i]));
    const w = this.hp.residualWeight;
    // the neighbour search only matters when the residual is weighted in
    const r = w === 0 ? null : (await f.residuals.score(queries)).perModel;
    const perModel = new Float64Array(queries.X.rows * M);
    for (let i = 0; i < queries.X.rows; i++) {
      const g = index.get(queries.groups?.[i] ?? "") ?? G;
      for (let m = 0; m < M; m++) perModel[i * M + m] = f.prior[g * M + m]! + (r ? w * r[i * M + m]! : 0);
    }
    return { models: f.meta.models, perModel };
  }

  async predict(queries: Queries): Promise<string[]> {
    const { models, perModel } = await this.score(queries);
    return Array.from(rowArgmax(perModel, queries.X.rows, models.length), (m) => models[m]!);
  }

  state(): RouterState {
    const f = this.need();
    const knn = f.residuals.state();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, groups: f.groups },
      tensors: {
        prior: { shape: [f.groups.length + 1, f.meta.models.length], data: f.prior },
        ...knn.tensors,
      },
    };
  }

  static fromState(state: RouterState): GroupKnnRouter {
    const r = new GroupKnnRouter(GroupKnnHyperparametersSchema.parse(state.hyperparameters));
    const meta = parseStateMeta(state, GroupKnnMetaSchema);
    const M = meta.models.length;
    const prior = requireTensor(state, "prior");
    if (prior.data.length !== (meta.groups.length + 1) * M)
      throw new RouterlabError(`group-knn state: prior is not [${meta.groups.length + 1}, ${M}]`, {
        file: "model file",
        field: "prior",
      });
    const knnTensors = Object.fromEntries(Object.entries(state.tensors).filter(([name]) => name !== "prior"));
    const residuals = KnnRouter.fromState({
      kind: "knn",
      hyperparameters: { k: r.hp.k, batchSize: r.hp.batchSize },
      meta: { setting: meta.setting, models: meta.models, dim: meta.dim },
      tensors: knnTensors,
    });
    r.fitted = {
      meta: { setting: meta.setting, models: meta.models, dim: meta.dim },
      groups: meta.groups,
      prior: prior.data,
      residuals,
    };
    return r;
  }
}

export const groupKnnEntry: RegisteredRouter = defineRouter({
  kind: "group-knn",
  description:
    "Group-prior KNN (multi-model): per-group per-model mean quality plus the k nearest neighbours' mean residual",
  hyperparameters: GroupKnnHyperparametersSchema,
  settings: ["multi"],
  gatewayFormat: null,
  notServableReason:
    "the gateway routes on the embedding alone and has no query group (task) to look a prior up by; evaluation-only",
  create: (hp) => new GroupKnnRouter(hp),
  fromState: (state) => GroupKnnRouter.fromState(state),
});
