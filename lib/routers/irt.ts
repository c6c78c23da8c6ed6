/**
 * IRT router (item response theory on top of matrix factorisation, the family behind the strongest academic
 * entries on the RouterArena leaderboard): the probability that model m answers query q well is
 *
 *   P(m, q) = σ(ability_m + ⟨V_m, W·e_q⟩ − difficulty(q)),   difficulty(q) = ⟨h, e_q⟩
 *
 * with a per-model ability, a per-model latent vector `V_m`, a projection `W` of the embedding `e_q`, and a linear
 * difficulty head `h`, so the difficulty generalises to queries never seen in training. MF trains on winner/loser
 * pairs, where a per-query difficulty cancels; IRT trains per answer instead: mean binary cross-entropy of P(m, q)
 * against every observed quality (NaN = not answered, masked), mini-batches of queries, Adam with torch's L2-style
 * `weight_decay` (the MF engine's `Adam`), seeded shuffles and initialisation, float64 throughout (products are small:
 * latent 32 x 384, all in TypeScript), optional early stopping on a seeded validation split of the queries.
 *
 * Multi-model setting only: `score().perModel` is P(m, q), each model's predicted quality, for the willingness-to-pay
 * sweep; `predict` picks the best predicted quality (ties: the lower model index). A task without quality trains on
 * the label as quality (1 for the label model, 0 for the others). Scoring reads the float32 tensors `state()` saves.
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sigmoid } from "../util/logistic";
import { createRng, shuffled } from "../util/random";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { answerQuality, fittedMeta, parseStateMeta, requireTensor } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter } from "./define";
import type { EpochMetrics, TrainCallbacks } from "./nn/common";
import { EpochMetricsSchema, initialTensor, runEpochs, splitRows, uniformInit } from "./nn/common";
import { rowArgmax } from "./nn/gateway";
import { Adam } from "./nn/mf-engine";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const IrtHyperparametersSchema = z.strictObject({
  /** Width of the model vectors and of the embedding projection. */
  latentDim: z.int().positive().default(32),
  learningRate: z.number().positive().default(1e-3),
  /**
   * torch `Adam(weight_decay=…)` semantics (gradient `+ wd·θ`) on every tensor. 3e-4: the best mean held-out AIQ of
   * 5-fold CV on LLMRouter's training split over 1e-4..3e-3 (`bench/irt-cv.ts`, docs/routers.md).
   */
  weightDecay: z.number().nonnegative().default(3e-4),
  /** Queries per mini-batch (each contributes all its observed answers). */
  batchSize: z.int().positive().default(64),
  epochs: z.int().positive().default(30),
  /** Share of the queries (seeded) held out for val metrics and early stopping; 0 = none. */
  validationFraction: z.number().min(0).max(0.5).default(0.1),
  /** Stop after this many epochs without a lower val loss and restore the best weights; 0 = never stop early. */
  patience: z.int().nonnegative().default(4),
  inputDim: z.int().positive().optional(),
  seed: z.int().default(0),
});
export type IrtHyperparameters = z.infer<typeof IrtHyperparametersSchema>;

/** The IRT parameters: ability [M], model vectors V [M, K], projection W [K, D], difficulty head h [D]. */
export interface IrtParams<T extends Float32Array | Float64Array = Float64Array> {
  numModels: number;
  latentDim: number;
  textDim: number;
  ability: T;
  V: T;
  W: T;
  h: T;
}

/** A batch: `x` rows x D embeddings, `y` rows x M observed quality in [0, 1] (NaN = missing). */
export interface IrtBatch {
  x: Float32Array | Float64Array;
  y: Float64Array;
  rows: number;
}

const IRT_TENSORS = ["ability", "V", "W", "h"] as const;

/** Logits z[r, m] = ability_m + ⟨V_m, W·x_r⟩ − ⟨h, x_r⟩ (rows x M); `proj` receives W·x_r (rows x K). */
export function irtLogits<T extends Float32Array | Float64Array>(
  p: IrtParams<T>,
  x: ArrayLike<number>,
  rows: number,
  proj: Float64Array = new Float64Array(rows * p.latentDim),
): Float64Array {
  const { numModels: M, latentDim: K, textDim: D } = p;
  const z = new Float64Array(rows * M);
  for (let r = 0; r < rows; r++) {
    const xo = r * D;
    let diff = 0;
    for (let d = 0; d < D; d++) diff += p.h[d]! * x[xo + d]!;
    for (let k = 0; k < K; k++) {
      const wo = k * D;
      let s = 0;
      for (let d = 0; d < D; d++) s += p.W[wo + d]! * x[xo + d]!;
      proj[r * K + k] = s;
    }
    for (let m = 0; m < M; m++) {
      let s = p.ability[m]! - diff;
      for (let k = 0; k < K; k++) s += p.V[m * K + k]! * proj[r * K + k]!;
      z[r * M + m] = s;
    }
  }
  return z;
}

/** Stable binary cross-entropy with logits: `max(z,0) − z·t + log(1 + e^−|z|)`. */
function bce(z: number, t: number): number {
  return Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
}

/**
 * The training loss of a batch, the mean BCE over its observed answers (weight decay excluded: Adam adds it), its
 * logits, and, when `grad` is given, the gradient of that loss with respect to each parameter written into it.
 */
export function irtLossAndGradient(
  p: IrtParams,
  b: IrtBatch,
  grad?: IrtParams,
): { loss: number; observed: number; correct: number; z: Float64Array } {
  const { numModels: M, latentDim: K, textDim: D } = p;
  const proj = new Float64Array(b.rows * K);
  const z = irtLogits(p, b.x, b.rows, proj);
  let observed = 0;
  for (let i = 0; i < b.rows * M; i++) if (!Number.isNaN(b.y[i]!)) observed++;
  let loss = 0;
  let correct = 0;
  const g = new Float64Array(b.rows * M);
  for (let i = 0; i < b.rows * M; i++) {
    const y = b.y[i]!;
    if (Number.isNaN(y)) continue;
    loss += bce(z[i]!, y);
    if (z[i]! > 0 === y >= 0.5) correct++;
    g[i] = (sigmoid(z[i]!) - y) / observed;
  }
  if (grad) {
    grad.ability.fill(0);
    grad.V.fill(0);
    grad.W.fill(0);
    grad.h.fill(0);
    const gProj = new Float64Array(K);
    for (let r = 0; r < b.rows; r++) {
      const xo = r * D;
      gProj.fill(0);
      let gDiff = 0;
      for (let m = 0; m < M; m++) {
        const gz = g[r * M + m]!;
        if (gz === 0) continue;
        grad.ability[m] = grad.ability[m]! + gz;
        gDiff -= gz;
        for (let k = 0; k < K; k++) {
          grad.V[m * K + k] = grad.V[m * K + k]! + gz * proj[r * K + k]!;
          gProj[k] = gProj[k]! + gz * p.V[m * K + k]!;
        }
      }
      for (let d = 0; d < D; d++) grad.h[d] = grad.h[d]! + gDiff * b.x[xo + d]!;
      for (let k = 0; k < K; k++) {
        const gk = gProj[k]!;
        if (gk === 0) continue;
        const wo = k * D;
        for (let d = 0; d < D; d++) grad.W[wo + d] = grad.W[wo + d]! + gk * b.x[xo + d]!;
      }
    }
  }
  return { loss: observed > 0 ? loss / observed : 0, observed, correct, z };
}

function zeroParams(M: number, K: number, D: number): IrtParams {
  return {
    numModels: M,
    latentDim: K,
    textDim: D,
    ability: new Float64Array(M),
    V: new Float64Array(M * K),
    W: new Float64Array(K * D),
    h: new Float64Array(D),
  };
}

function toFloat32(p: IrtParams): IrtParams<Float32Array> {
  return {
    numModels: p.numModels,
    latentDim: p.latentDim,
    textDim: p.textDim,
    ability: Float32Array.from(p.ability),
    V: Float32Array.from(p.V),
    W: Float32Array.from(p.W),
    h: Float32Array.from(p.h),
  };
}

const IrtMetaSchema = z.object({
  setting: z.literal("multi"),
  models: z.array(z.string()).min(2),
  dim: z.int().positive(),
  latent_dim: z.int().positive(),
  answers: z.int().nonnegative(),
  history: z.array(EpochMetricsSchema),
});

interface Fitted {
  meta: FittedMeta;
  weights: IrtParams<Float32Array>;
  /** Observed (query, model) answers trained on. */
  answers: number;
  history: EpochMetrics[];
}

export class IrtRouter extends Estimator<IrtHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof IrtHyperparametersSchema> = {}) {
    super("irt", IrtHyperparametersSchema, hp);
  }

  get history(): readonly EpochMetrics[] {
    return this.fitted?.history ?? [];
  }

  async fit(queries: Queries, task: RoutingTask, callbacks: TrainCallbacks = {}): Promise<void> {
    const X = queries.X;
    const hp = this.hp;
    checkTraining(queries, task, { expectedDim: hp.inputDim, readsQuality: true });
    if (task.kind !== "multi")
      throw new RouterlabError(
        "the irt router learns the multi-model setting only (per-model quality of every answer)",
        { file: "training data", field: "routing.setting" },
        "use routing.setting: multi, or a binary kind (mf, mlp, knn)",
      );
    const M = task.models.length;
    const K = hp.latentDim;
    const D = X.dim;
    const quality = answerQuality(task, X.rows);
    for (let i = 0; i < quality.length; i++) {
      const y = quality[i]!;
      if (!Number.isNaN(y) && !(y >= 0 && y <= 1))
        throw new RouterlabError(
          `quality ${y} at row ${Math.floor(i / M)}, model '${task.models[i % M]}' is outside [0, 1]`,
          { file: "training data", path: `quality[${Math.floor(i / M)}][${i % M}]` },
          "the irt router reads quality as the probability of a good answer",
        );
    }
    const rng = createRng(hp.seed);
    const { train, val } = splitRows(X.rows, hp.validationFraction, rng);
    const answered = (rows: readonly number[]): number[] =>
      rows.filter((r) => quality.subarray(r * M, (r + 1) * M).some((y) => !Number.isNaN(y)));
    const trainRows = answered(train);
    const valRows = answered(val);
    if (trainRows.length === 0)
      throw new RouterlabError(
        "no training query has an observed answer quality (all NaN after the validation split)",
        { file: "training data", field: "quality" },
      );

    // Abilities start at each model's logit mean quality (clamped), model vectors ~ N(0, 1/K), the projection as
    // nn.Linear, the difficulty head at 0: the first predictions are the per-model means.
    const given = callbacks.initialTensors;
    const ability0 = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      let s = 0;
      let c = 0;
      for (const r of trainRows) {
        const y = quality[r * M + m]!;
        if (Number.isNaN(y)) continue;
        s += y;
        c++;
      }
      const mean = Math.min(0.99, Math.max(0.01, c > 0 ? s / c : 0.5));
      ability0[m] = Math.log(mean / (1 - mean));
    }
    const V0 = new Float32Array(M * K);
    for (let i = 0; i < V0.length; i++) V0[i] = rng.normal() / Math.sqrt(K);
    const p = zeroParams(M, K, D);
    p.ability.set(initialTensor("ability", ability0, given));
    p.V.set(initialTensor("V", V0, given));
    p.W.set(initialTensor("W", uniformInit(K * D, D, rng), given));
    p.h.set(initialTensor("h", new Float32Array(D), given));
    const grad = zeroParams(M, K, D);
    const opt = IRT_TENSORS.map((name) => new Adam(p[name], hp.learningRate, hp.weightDecay));

    const B = hp.batchSize;
    const xBuf = new Float32Array(B * D);
    const yBuf = new Float64Array(B * M);
    const batchOf = (rows: readonly number[], from: number, to: number): IrtBatch => {
      for (let i = from; i < to; i++) {
        const r = rows[i]!;
        xBuf.set(X.data.subarray(r * D, (r + 1) * D), (i - from) * D);
        yBuf.set(quality.subarray(r * M, (r + 1) * M), (i - from) * M);
      }
      const n = to - from;
      return { x: xBuf.subarray(0, n * D), y: yBuf.subarray(0, n * M), rows: n };
    };
    let step = 0;
    /** One pass over `rows` (training: an Adam step per batch); mean BCE per answer and answer accuracy. */
    const pass = (rows: readonly number[], training: boolean): { loss: number; accuracy: number } => {
      let lossSum = 0;
      let observed = 0;
      let correct = 0;
      for (let from = 0; from < rows.length; from += B) {
        const to = Math.min(rows.length, from + B);
        const res = irtLossAndGradient(p, batchOf(rows, from, to), training ? grad : undefined);
        lossSum += res.loss * res.observed;
        observed += res.observed;
        correct += res.correct;
        if (training) {
          step++;
          IRT_TENSORS.forEach((name, i) => opt[i]!.step(grad[name], step));
        }
      }
      return { loss: observed > 0 ? lossSum / observed : 0, accuracy: observed > 0 ? correct / observed : 0 };
    };

    let order = trainRows.slice();
    const asTensors = (w: IrtParams<Float32Array>): Float32Array[] => IRT_TENSORS.map((name) => w[name]);
    const { history, weights } = await runEpochs({
      epochs: hp.epochs,
      patience: hp.patience,
      keepBestWithoutPatience: false,
      runEpoch: async () => {
        order = shuffled(order, rng);
        const tr = pass(order, true);
        const v = valRows.length > 0 ? pass(valRows, false) : undefined;
        // one yield per epoch, so a long fit does not starve the event loop (progress bars, signals)
        await new Promise<void>((resolve) => setImmediate(resolve));
        return { ...tr, ...(v ? { val: v } : {}) };
      },
      snapshot: () => asTensors(toFloat32(p)),
      ...(callbacks.onEpoch ? { onEpoch: callbacks.onEpoch } : {}),
    });
    let answers = 0;
    for (const r of trainRows.concat(valRows))
      for (let m = 0; m < M; m++) if (!Number.isNaN(quality[r * M + m]!)) answers++;
    this.fitted = {
      meta: fittedMeta(X, task),
      weights: {
        numModels: M,
        latentDim: K,
        textDim: D,
        ability: weights[0]!,
        V: weights[1]!,
        W: weights[2]!,
        h: weights[3]!,
      },
      answers,
      history,
    };
  }

  /** P(model answers well) per query and model (rows x M, the task's model order), from the float32 weights. */
  probabilities(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const z = irtLogits(f.weights, X.data, X.rows);
    for (let i = 0; i < z.length; i++) z[i] = sigmoid(z[i]!);
    return z;
  }

  /** Each query's predicted difficulty ⟨h, e_q⟩ (higher = every model less likely to answer well). */
  difficulty(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries({ X }, f.meta.dim);
    const D = X.dim;
    return Float64Array.from({ length: X.rows }, (_, r) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += f.weights.h[d]! * X.data[r * D + d]!;
      return s;
    });
  }

  score(queries: Queries): RouterScores {
    const f = this.need();
    return { models: f.meta.models, perModel: this.probabilities(queries.X) };
  }

  predict(queries: Queries): string[] {
    const f = this.need();
    const M = f.meta.models.length;
    const best = rowArgmax(this.probabilities(queries.X), queries.X.rows, M);
    return Array.from(best, (i) => f.meta.models[i]!);
  }

  state(): RouterState {
    const f = this.need();
    const w = f.weights;
    const M = w.numModels;
    const K = w.latentDim;
    const D = w.textDim;
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, latent_dim: K, answers: f.answers, history: f.history },
      tensors: {
        ability: { shape: [M], data: w.ability },
        V: { shape: [M, K], data: w.V },
        W: { shape: [K, D], data: w.W },
        h: { shape: [D], data: w.h },
      },
    };
  }

  static fromState(state: RouterState): IrtRouter {
    const r = new IrtRouter(IrtHyperparametersSchema.parse(state.hyperparameters));
    const meta = parseStateMeta(state, IrtMetaSchema);
    const M = meta.models.length;
    const K = meta.latent_dim;
    const D = meta.dim;
    const get = (name: (typeof IRT_TENSORS)[number], n: number): Float32Array => {
      const t = requireTensor(state, name);
      if (t.data.length !== n)
        throw new RouterlabError(`irt state: tensor ${name} has ${t.data.length} values, expected ${n}`, {
          file: "model file",
          field: name,
        });
      return t.data;
    };
    r.fitted = {
      meta: { setting: meta.setting, models: meta.models, dim: D },
      weights: {
        numModels: M,
        latentDim: K,
        textDim: D,
        ability: get("ability", M),
        V: get("V", M * K),
        W: get("W", K * D),
        h: get("h", D),
      },
      answers: meta.answers,
      history: meta.history,
    };
    return r;
  }
}

export const irtEntry: RegisteredRouter = defineRouter({
  kind: "irt",
  description:
    "IRT router: σ(ability_m + ⟨model vector, projected embedding⟩ − difficulty(query)), trained per answer on observed quality",
  hyperparameters: IrtHyperparametersSchema,
  seeded: true,
  settings: ["multi"],
  gatewayFormat: null,
  notServableReason:
    "the gateway has no IRT strategy (its inference-only llmrouter-* adapters load KNN, SVM, MLP, MF and ELO files), and no file of those fits exactly: the MF file has no per-model bias for the ability term",
  create: (hp) => new IrtRouter(hp),
  fromState: (state) => IrtRouter.fromState(state),
});
