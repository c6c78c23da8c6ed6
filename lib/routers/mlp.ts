/**
 * MLP router: exactly the gateway's architecture (gateway-contract.md §6.2): Linear + activation per hidden layer, a
 * final Linear, argmax over classes. Trained with softmax cross-entropy, Adam, mini-batches, optional class weights and
 * early stopping on a seeded validation split, by default with each step (forward, backward) one onnxruntime graph
 * run (nn/mlp-ort.ts), or in plain TypeScript (nn/mlp-engine.ts), or on TensorFlow.js (nn/mlp-tf.ts). Inference (`score`/`predict`) is the
 * gateway's own formula in plain TypeScript (nn/gateway.ts), on the very tensors `state()` exports.
 *
 * Binary setting: two classes with **strong at index 0** and weak at index 1; `P(strong) = σ(z_s − z_w)`; the
 * decision threshold t is baked into the output bias (`b_N[0] −= ln(t/(1−t))`, contract §6.5), so the gateway's
 * argmax reproduces `P(strong) ≥ t`.
 *
 * Multi-model setting with observed quality: a per-model quality head instead of a best-model classifier. Each output
 * is trained with sigmoid binary cross-entropy against that model's observed quality (NaN masked), so `score` gives
 * σ(z_m), model m's predicted quality, and the gateway's argmax picks the best predicted quality. Softmax
 * probabilities of the best-model label are not quality (a strong model that is right wherever a cheap one is right
 * never gets the label) and made the willingness-to-pay sweep starve the strong models. Setting `classWeight`
 * ("balanced" or per model) keeps the best-model softmax classifier.
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { createRng, shuffled } from "../util/random";
import type { EpochMetrics, TrainCallbacks } from "./nn/common";
import {
  EpochMetricsSchema,
  EpochTrainer,
  epochLoopFields,
  gatherRows,
  initialTensor,
  runEpochs,
  splitRows,
  trainerFields,
  trainerMetaFields,
  uniformInit,
} from "./nn/common";
import type { Activation, LinearLayer, MlpWeights } from "./nn/gateway";
import { sigmoid } from "../util/logistic";
import { ACTIVATIONS, argmaxFirst, mlpLogits, rowArgmax } from "./nn/gateway";
import type { MlpBatch, MlpEngine, MlpEngineInit } from "./nn/mlp-engine";
import { JsMlpEngine } from "./nn/mlp-engine";
import { OrtMlpEngine } from "./nn/mlp-ort";
import { TfMlpEngine } from "./nn/mlp-tf";
import { tfReady } from "./nn/tf";
import type { RegisteredRouter } from "./define";
import { checkQueries, resolveModels } from "./checks";
import { parseStateMeta, strongScores } from "./common";
import { defineRouter } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const MlpHyperparametersSchema = z.strictObject({
  /** Hidden widths in order; [] = a single linear layer. */
  hiddenLayerSizes: z.array(z.int().positive()).default([128, 64]),
  activation: z.enum(ACTIVATIONS).default("relu"),
  learningRate: z.number().positive().default(1e-3),
  ...epochLoopFields({ epochs: 50, patience: 5 }),
  /** "none", "balanced" (n / (classes x count), as scikit-learn) or explicit weights by model name (default 1). */
  classWeight: z
    .union([z.literal("none"), z.literal("balanced"), z.record(z.string(), z.number().positive())])
    .default("none"),
  /** Binary setting only: route to strong iff P(strong) >= threshold (baked into the output bias). */
  threshold: z.number().gt(0).lt(1).default(0.5),
  ...trainerFields,
});
export type MlpHyperparameters = z.infer<typeof MlpHyperparametersSchema>;

const MlpMetaSchema = z.object({
  ...trainerMetaFields,
  input_dim: z.int(),
  hidden_layer_sizes: z.array(z.int()),
  num_classes: z.int(),
  activation: z.enum(ACTIVATIONS),
  threshold: z.number(),
  history: z.array(EpochMetricsSchema),
  /** Multi setting: "quality" = per-model sigmoid quality head; absent = softmax over the classes. */
  head: z.literal("quality").optional(),
});

interface Fitted {
  setting: "multi" | "binary";
  /** The task's models ([weak, strong] in the binary setting). */
  taskModels: string[];
  /** Class index -> model label (gateway idx_to_model); binary: [strong, weak]. */
  classes: string[];
  /** Gateway weights, threshold shift included. */
  weights: MlpWeights;
  history: EpochMetrics[];
  backend: string;
  /** Per-model sigmoid quality head (multi setting trained on observed quality). */
  qualityHead: boolean;
}

export class MlpRouter extends EpochTrainer<MlpHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof MlpHyperparametersSchema> = {}) {
    super("mlp", MlpHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask, callbacks: TrainCallbacks = {}): Promise<void> {
    const X = queries.X;
    const hp = this.hp;
    this.checkFit(queries, task);
    const binary = task.kind === "binary";
    const classes = binary ? [task.models[1], task.models[0]] : [...task.models];
    const C = classes.length;
    const n = X.rows;
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) y[i] = binary ? (task.labels[i] === 1 ? 0 : 1) : task.labels[i]!;
    const classWeights = this.classWeights(y, classes);
    // A class weight asks for the best-model classifier (softmax); without one, multi-model tasks with observed
    // quality get the per-model quality head.
    const qualityHead = !binary && task.quality !== undefined && hp.classWeight === "none";
    if (qualityHead && hp.engine === "tfjs")
      throw new RouterlabError(
        "the multi-model quality head trains on the ort or js engine only",
        { file: "hyperparameters", field: "engine" },
        'use engine: "ort" (default), or set classWeight to train the best-model classifier',
      );

    const rng = createRng(hp.seed);
    const { train, val } = splitRows(n, hp.validationFraction, rng);
    if (train.length === 0)
      throw new RouterlabError("no training rows left after the validation split", { file: "training data" });

    const dims = [X.dim, ...hp.hiddenLayerSizes, C];
    const init: LinearLayer[] = [];
    for (let i = 0; i + 1 < dims.length; i++) {
      const inDim = dims[i]!;
      const outDim = dims[i + 1]!;
      init.push({
        inDim,
        outDim,
        weight: initialTensor(
          `layers.${i}.weight`,
          uniformInit(outDim * inDim, inDim, rng),
          callbacks.initialTensors,
        ),
        bias: initialTensor(`layers.${i}.bias`, uniformInit(outDim, inDim, rng), callbacks.initialTensors),
      });
    }

    const B = hp.batchSize;
    const engineInit: MlpEngineInit = {
      dims,
      activation: hp.activation,
      weights: init.map((l) => l.weight),
      biases: init.map((l) => l.bias),
      classWeights,
      learningRate: hp.learningRate,
      maxBatch: Math.max(B, val.length),
      ...(qualityHead ? { loss: "quality" as const } : {}),
    };
    const engine: MlpEngine =
      hp.engine === "tfjs"
        ? new TfMlpEngine(engineInit, await tfReady())
        : hp.engine === "ort"
          ? new OrtMlpEngine(engineInit)
          : new JsMlpEngine(engineInit);
    const batch: MlpBatch = {
      x: new Float32Array(engineInit.maxBatch * X.dim),
      y: new Int32Array(engineInit.maxBatch),
      ...(qualityHead ? { quality: new Float32Array(engineInit.maxBatch * C) } : {}),
      nb: 0,
    };
    const z = new Float32Array(engineInit.maxBatch * C);
    const fillBatch = (rows: readonly number[], from: number, to: number): void => {
      gatherRows(X, rows, from, to, batch.x);
      for (let i = from; i < to; i++) batch.y[i - from] = y[rows[i]!]!;
      if (batch.quality) {
        for (let i = from; i < to; i++)
          batch.quality.set(task.quality!.subarray(rows[i]! * C, (rows[i]! + 1) * C), (i - from) * C);
      }
      batch.nb = to - from;
    };
    const countCorrect = (): number => {
      let correct = 0;
      for (let i = 0; i < batch.nb; i++) if (argmaxFirst(z, i * C, C) === batch.y[i]) correct++;
      return correct;
    };
    /** The whole validation split as one batch: Σ w ce / Σ w over every row. */
    const evaluate = async (): Promise<{ loss: number; accuracy: number }> => {
      fillBatch(val, 0, val.length);
      const loss = await engine.run(batch, z, false);
      return { loss, accuracy: countCorrect() / val.length };
    };

    try {
      const { history, weights: finalWeights } = await runEpochs({
        epochs: hp.epochs,
        patience: hp.patience,
        keepBestWithoutPatience: true,
        runEpoch: async () => {
          // Seeded Fisher-Yates per epoch (util/random), not tfjs' unseeded shuffle.
          const order = shuffled(train, rng);
          let lossSum = 0;
          let correct = 0;
          for (let from = 0; from < order.length; from += B) {
            fillBatch(order, from, Math.min(order.length, from + B));
            lossSum += (await engine.run(batch, z, true)) * batch.nb;
            correct += countCorrect();
          }
          return {
            loss: lossSum / order.length,
            accuracy: correct / order.length,
            val: val.length > 0 ? await evaluate() : undefined,
          };
        },
        snapshot: () => engine.snapshot(),
        onEpoch: callbacks.onEpoch,
      });
      const L = init.length;
      const layers: LinearLayer[] = init.map((l, i) => ({
        inDim: l.inDim,
        outDim: l.outDim,
        weight: finalWeights[i]!,
        bias: finalWeights[L + i]!,
      }));
      if (binary) {
        const last = layers[layers.length - 1]!;
        last.bias[0] = last.bias[0]! - Math.log(hp.threshold / (1 - hp.threshold));
      }
      this.fitted = {
        setting: task.kind,
        taskModels: [...task.models],
        classes,
        weights: { layers, activation: hp.activation },
        history,
        backend: engine.name,
        qualityHead,
      };
    } finally {
      engine.dispose();
    }
  }

  private classWeights(y: Int32Array, classes: string[]): Float32Array {
    const C = classes.length;
    const w = new Float32Array(C).fill(1);
    const cwt = this.hp.classWeight;
    if (cwt === "balanced") {
      const counts = new Array<number>(C).fill(0);
      for (const l of y) counts[l]! += 1;
      for (let c = 0; c < C; c++) w[c] = counts[c]! > 0 ? y.length / (C * counts[c]!) : 0;
    } else if (cwt !== "none") {
      const names = Object.keys(cwt);
      const idx = resolveModels(names, classes, "hyperparameters.classWeight");
      names.forEach((name, i) => (w[idx[i]!] = cwt[name]!));
    }
    return w;
  }

  /** Raw gateway logits (rows x num_classes, class order = idx_to_model). */
  logits(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries({ X }, f.weights.layers[0]!.inDim);
    return mlpLogits(f.weights, X);
  }

  predict(queries: Queries): string[] {
    const X = queries.X;
    const f = this.need();
    const z = this.logits(X);
    const C = f.classes.length;
    return Array.from(rowArgmax(z, X.rows, C), (i) => f.classes[i]!);
  }

  score(queries: Queries): RouterScores {
    const X = queries.X;
    const f = this.need();
    const z = this.logits(X);
    const C = f.classes.length;
    if (f.setting === "binary") {
      const shift = Math.log(this.hp.threshold / (1 - this.hp.threshold));
      const strongProbability = new Float64Array(X.rows);
      for (let r = 0; r < X.rows; r++) strongProbability[r] = sigmoid(z[r * 2]! + shift - z[r * 2 + 1]!);
      return strongScores(f.taskModels, strongProbability);
    }
    const perModel = new Float64Array(X.rows * C);
    if (f.qualityHead) {
      for (let i = 0; i < perModel.length; i++) perModel[i] = sigmoid(z[i]!);
      return { models: f.taskModels, perModel };
    }
    for (let r = 0; r < X.rows; r++) {
      const mx = z[r * C + argmaxFirst(z, r * C, C)]!;
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(z[r * C + c]! - mx);
      for (let c = 0; c < C; c++) perModel[r * C + c] = Math.exp(z[r * C + c]! - mx) / s;
    }
    return { models: f.taskModels, perModel };
  }

  /** The gateway companion JSON (`<stem>.json`, contract §6.2): every key written, no nulls. */
  companion(): Record<string, unknown> {
    const f = this.need();
    return {
      input_dim: f.weights.layers[0]!.inDim,
      hidden_layer_sizes: f.weights.layers.slice(0, -1).map((l) => l.outDim),
      num_classes: f.classes.length,
      activation: f.weights.activation,
      idx_to_model: Object.fromEntries(f.classes.map((m, i) => [String(i), m])),
      model_to_idx: Object.fromEntries(f.classes.map((m, i) => [m, i])),
    };
  }

  state(): RouterState {
    const f = this.need();
    const tensors: RouterState["tensors"] = {};
    f.weights.layers.forEach((l, i) => {
      tensors[`layers.${i}.weight`] = { shape: [l.outDim, l.inDim], data: l.weight };
      tensors[`layers.${i}.bias`] = { shape: [l.outDim], data: l.bias };
    });
    const companion = this.companion();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: {
        setting: f.setting,
        taskModels: f.taskModels,
        idx_to_model: companion.idx_to_model,
        input_dim: companion.input_dim,
        hidden_layer_sizes: companion.hidden_layer_sizes,
        num_classes: companion.num_classes,
        activation: companion.activation,
        threshold: this.hp.threshold,
        history: f.history,
        backend: f.backend,
        ...(f.qualityHead ? { head: "quality" } : {}),
      },
      tensors,
    };
  }

  static fromState(state: RouterState): MlpRouter {
    const r = new MlpRouter(MlpHyperparametersSchema.parse(state.hyperparameters));
    const meta = parseStateMeta(state, MlpMetaSchema);
    const dims = [meta.input_dim, ...meta.hidden_layer_sizes, meta.num_classes];
    const layers: LinearLayer[] = [];
    for (let i = 0; i + 1 < dims.length; i++) {
      const w = state.tensors[`layers.${i}.weight`];
      const b = state.tensors[`layers.${i}.bias`];
      const inDim = dims[i]!;
      const outDim = dims[i + 1]!;
      if (!w || !b || w.data.length !== outDim * inDim || b.data.length !== outDim)
        throw new RouterlabError(`MLP state: layers.${i} missing or not [${outDim}, ${inDim}]`, {
          file: "model file",
          field: `layers.${i}`,
        });
      layers.push({ inDim, outDim, weight: w.data, bias: b.data });
    }
    const classes = Array.from(
      { length: meta.num_classes },
      (_, i) => meta.idx_to_model[String(i)] ?? String(i),
    );
    r.fitted = {
      setting: meta.setting,
      taskModels: meta.taskModels,
      classes,
      weights: { layers, activation: meta.activation as Activation },
      history: meta.history,
      backend: meta.backend,
      qualityHead: meta.head === "quality",
    };
    return r;
  }
}

export const mlpEntry: RegisteredRouter = defineRouter({
  kind: "mlp",
  description:
    "Gateway-architecture MLP (Linear+activation layers, softmax CE, Adam, early stopping), trained on onnxruntime products (or tfjs)",
  hyperparameters: MlpHyperparametersSchema,
  seeded: true,
  singleThreadTraining: true,
  gatewayFormat: "torch-mlp",
  create: (hp) => new MlpRouter(hp),
  fromState: (state) => MlpRouter.fromState(state),
});
