/**
 * Matrix-factorisation router of RouteLLM / the gateway (gateway-contract.md §6.3): a model table `P`
 * `[num_models, latent]`, `text_proj` `[latent, text_dim]` and `classifier` `[1, latent]`, no biases, rows of `P`
 * L2-normalised. Trained on (winner, loser) pairs with binary cross-entropy on
 * `classifier((P̂_win − P̂_lose) ⊙ text_proj(e + noise))` and Adam with torch's L2-style `weight_decay`
 * (implemented as `½·wd·‖θ‖²` added to the loss, whose gradient is exactly torch's `grad + wd·θ`), on TensorFlow.js.
 * Inference is the gateway's formula in plain TypeScript (nn/gateway.ts).
 *
 * Pairs: from `task.quality` when present (every model pair with different quality on a query; equal quality is
 * skipped, or trained towards 0.5 with `ties: "half"`), otherwise from the labels (the label model beats every
 * other model; binary: strong beats weak iff label 1).
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { createRng } from "../util/random";
import type { RegisteredRouter } from "./define";
import { defineRouter } from "./define";
import type { EpochMetrics, TrainCallbacks } from "./nn/common";
import { EpochMetricsSchema, initialTensor, normalInit, splitRows, uniformInit } from "./nn/common";
import type { MfWeights } from "./nn/gateway";
import { mfScores, rowArgmax, sigmoid } from "./nn/gateway";
import { tf, tfReady } from "./nn/tf";
import type { Router, RouterScores, RouterState, RoutingTask } from "./types";
import { validateTask } from "./validate";

/** RouteLLM's MF defaults: latent 128, Adam lr 3e-4, weight decay 1e-5, embedding noise 0.1. */
export const MfHyperparametersSchema = z.strictObject({
  latentDim: z.int().positive().default(128),
  learningRate: z.number().positive().default(3e-4),
  weightDecay: z.number().nonnegative().default(1e-5),
  /** Std of the Gaussian noise added to each training embedding (0 = none). */
  noise: z.number().nonnegative().default(0.1),
  batchSize: z.int().positive().default(64),
  epochs: z.int().positive().default(10),
  /** Share of the queries (seeded) whose pairs are held out for val metrics and early stopping; 0 = none. */
  validationFraction: z.number().min(0).max(0.5).default(0.1),
  /** Stop after this many epochs without a lower val loss and restore the best weights; 0 = never stop early. */
  patience: z.int().nonnegative().default(0),
  /** Pairs with equal quality: skipped, or trained towards 0.5. */
  ties: z.enum(["skip", "half"]).default("skip"),
  inputDim: z.int().positive().optional(),
  seed: z.int().default(0),
});
export type MfHyperparameters = z.infer<typeof MfHyperparametersSchema>;

const MfMetaSchema = z.object({
  setting: z.enum(["multi", "binary"]),
  taskModels: z.array(z.string()),
  idx_to_model: z.record(z.string(), z.string()),
  latent_dim: z.int(),
  text_dim: z.int(),
  num_models: z.int(),
  pairs: z.int(),
  history: z.array(EpochMetricsSchema),
});

/** (query row, winner, loser, target) training pairs. */
export interface Pairs {
  q: Int32Array;
  win: Int32Array;
  lose: Int32Array;
  target: Float32Array;
}

/** Builds the (winner, loser) pairs of a task (see the file comment). */
export function buildPairs(task: RoutingTask, rows: number, ties: "skip" | "half"): Pairs {
  const q: number[] = [];
  const win: number[] = [];
  const lose: number[] = [];
  const target: number[] = [];
  const M = task.models.length;
  const push = (r: number, w: number, l: number, t: number): void => {
    q.push(r);
    win.push(w);
    lose.push(l);
    target.push(t);
  };
  for (let r = 0; r < rows; r++) {
    if (task.quality) {
      for (let a = 0; a < M; a++) {
        for (let b = a + 1; b < M; b++) {
          const qa = task.quality[r * M + a]!;
          const qb = task.quality[r * M + b]!;
          if (!Number.isFinite(qa) || !Number.isFinite(qb)) continue;
          if (qa > qb) push(r, a, b, 1);
          else if (qb > qa) push(r, b, a, 1);
          else if (ties === "half") push(r, a, b, 0.5);
        }
      }
    } else if (task.kind === "binary") {
      if (task.labels[r] === 1) push(r, 1, 0, 1);
      else push(r, 0, 1, 1);
    } else {
      const w = task.labels[r]!;
      for (let m = 0; m < M; m++) if (m !== w) push(r, w, m, 1);
    }
  }
  return {
    q: Int32Array.from(q),
    win: Int32Array.from(win),
    lose: Int32Array.from(lose),
    target: Float32Array.from(target),
  };
}

function selectPairs(p: Pairs, keep: (q: number) => boolean): Pairs {
  const idx: number[] = [];
  for (let i = 0; i < p.q.length; i++) if (keep(p.q[i]!)) idx.push(i);
  return {
    q: Int32Array.from(idx, (i) => p.q[i]!),
    win: Int32Array.from(idx, (i) => p.win[i]!),
    lose: Int32Array.from(idx, (i) => p.lose[i]!),
    target: Float32Array.from(idx, (i) => p.target[i]!),
  };
}

interface Fitted {
  setting: "multi" | "binary";
  taskModels: string[];
  weights: MfWeights;
  pairs: number;
  history: EpochMetrics[];
  backend: string;
}

/** Largest size of the seeded Gaussian table the training noise is drawn from (random offsets per row and step). */
const NOISE_TABLE = 1 << 22;

export class MfRouter implements Router {
  readonly kind = "mf";
  readonly hp: MfHyperparameters;
  private fitted: Fitted | undefined;

  constructor(hp: Partial<MfHyperparameters> = {}) {
    this.hp = MfHyperparametersSchema.parse(hp);
  }

  get hyperparameters(): Record<string, unknown> {
    return { ...this.hp };
  }

  get history(): readonly EpochMetrics[] {
    return this.fitted?.history ?? [];
  }

  async fit(X: EmbeddingMatrix, task: RoutingTask, callbacks: TrainCallbacks = {}): Promise<void> {
    const hp = this.hp;
    validateTask(X, task, { expectedDim: hp.inputDim });
    const all = buildPairs(task, X.rows, hp.ties);
    if (all.q.length === 0)
      throw new RouterlabError(
        "no (winner, loser) pairs: every query has equal or missing quality for all models",
        { file: "training data", field: "quality" },
        'use ties: "half" or check the quality matrix',
      );
    const rng = createRng(hp.seed);
    const split = splitRows(X.rows, hp.validationFraction, rng);
    const isVal = new Uint8Array(X.rows);
    for (const r of split.val) isVal[r] = 1;
    const train = selectPairs(all, (q) => isVal[q] === 0);
    const val = selectPairs(all, (q) => isVal[q] === 1);
    if (train.q.length === 0)
      throw new RouterlabError("no training pairs left after the validation split", {
        file: "training data",
      });

    const M = task.models.length;
    const K = hp.latentDim;
    const D = X.dim;
    const given = callbacks.initialTensors;
    const init = {
      P: initialTensor("P.weight", normalInit(M * K, rng), given),
      W: initialTensor("text_proj.weight", uniformInit(K * D, D, rng), given),
      c: initialTensor("classifier.weight", uniformInit(K, K, rng), given),
    };
    const tableSize = Math.min(NOISE_TABLE, Math.max(1 << 16, train.q.length * D));
    const noiseTable = new Float32Array(hp.noise > 0 ? tableSize + D : 0);
    for (let i = 0; i < noiseTable.length; i++) noiseTable[i] = rng.normal() * hp.noise;

    const backend = await tfReady();
    const P = tf.variable(tf.tensor2d(init.P, [M, K]));
    const W = tf.variable(tf.tensor2d(init.W, [K, D]));
    const c = tf.variable(tf.tensor2d(init.c, [1, K]));
    const vars = [P, W, c];
    const optimizer = tf.train.adam(hp.learningRate, 0.9, 0.999, 1e-8);

    const logitsOf = (x: tf.Tensor2D, win: tf.Tensor1D, lose: tf.Tensor1D): tf.Tensor1D => {
      const norm = tf.maximum(tf.norm(P, "euclidean", 1, true), 1e-12);
      const Pn = tf.div(P, norm);
      // (onehot(win) − onehot(lose)) · P̂ instead of gather: wasm has no UnsortedSegmentSum for gather's gradient.
      // (tfjs-wasm 4.22 returns zeros for oneHot(..., "float32"): build int32 and cast.)
      const sel = tf.cast(tf.sub(tf.oneHot(win, M), tf.oneHot(lose, M)), "float32");
      const diff = tf.matMul(sel, Pn);
      const proj = tf.matMul(x, W, false, true);
      return tf.sum(tf.mul(tf.mul(diff, proj), c), 1);
    };
    /** Mean binary cross-entropy with logits, numerically stable form. */
    const bceOf = (z: tf.Tensor1D, t: tf.Tensor1D): tf.Scalar =>
      tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));

    const B = hp.batchSize;
    const xBuf = new Float32Array(B * D);
    const fillBatch = (p: Pairs, order: Int32Array, from: number, to: number, noisy: boolean): void => {
      for (let i = from; i < to; i++) {
        const r = p.q[order[i]!]!;
        const off = (i - from) * D;
        xBuf.set(X.data.subarray(r * D, r * D + D), off);
        if (noisy && noiseTable.length > 0) {
          const start = rng.int(tableSize);
          for (let d = 0; d < D; d++) xBuf[off + d] = xBuf[off + d]! + noiseTable[start + d]!;
        }
      }
    };
    const pick = (a: Int32Array | Float32Array, order: Int32Array, from: number, to: number): number[] =>
      Array.from(order.subarray(from, to), (i) => a[i]!);

    const evaluate = (p: Pairs): { loss: number; accuracy: number } => {
      const order = Int32Array.from({ length: p.q.length }, (_, i) => i);
      let lossSum = 0;
      let correct = 0;
      let decided = 0;
      for (let from = 0; from < order.length; from += B) {
        const to = Math.min(order.length, from + B);
        const nb = to - from;
        fillBatch(p, order, from, to, false);
        const tArr = pick(p.target, order, from, to);
        tf.tidy(() => {
          const z = logitsOf(
            tf.tensor2d(xBuf.subarray(0, nb * D), [nb, D]),
            tf.tensor1d(pick(p.win, order, from, to), "int32"),
            tf.tensor1d(pick(p.lose, order, from, to), "int32"),
          );
          lossSum += bceOf(z, tf.tensor1d(tArr)).dataSync()[0]! * nb;
          const zv = z.dataSync();
          for (let i = 0; i < nb; i++) {
            if (tArr[i] === 0.5) continue;
            decided++;
            if (zv[i]! > 0) correct++;
          }
        });
      }
      return { loss: lossSum / p.q.length, accuracy: decided > 0 ? correct / decided : 0 };
    };

    const history: EpochMetrics[] = [];
    const snapshot = (): Float32Array[] => vars.map((v) => Float32Array.from(v.dataSync()));
    let best: { loss: number; weights: Float32Array[] } | undefined;
    let sinceBest = 0;
    const nTrain = train.q.length;
    const order = Int32Array.from({ length: nTrain }, (_, i) => i);
    const wd = hp.weightDecay;
    try {
      for (let epoch = 1; epoch <= hp.epochs; epoch++) {
        const started = performance.now();
        for (let i = nTrain - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          const t = order[i]!;
          order[i] = order[j]!;
          order[j] = t;
        }
        let lossSum = 0;
        let correct = 0;
        let decided = 0;
        for (let from = 0; from < nTrain; from += B) {
          const to = Math.min(nTrain, from + B);
          const nb = to - from;
          fillBatch(train, order, from, to, true);
          const tArr = pick(train.target, order, from, to);
          tf.tidy(() => {
            const x = tf.tensor2d(xBuf.subarray(0, nb * D), [nb, D]);
            const win = tf.tensor1d(pick(train.win, order, from, to), "int32");
            const lose = tf.tensor1d(pick(train.lose, order, from, to), "int32");
            const t = tf.tensor1d(tArr);
            const { grads } = tf.variableGrads(() => {
              const z = logitsOf(x, win, lose);
              const bce = bceOf(z, t);
              lossSum += bce.dataSync()[0]! * nb;
              const zv = z.dataSync();
              for (let i = 0; i < nb; i++) {
                if (tArr[i] === 0.5) continue;
                decided++;
                if (zv[i]! > 0) correct++;
              }
              if (wd === 0) return bce;
              const l2 = tf.addN([tf.sum(tf.square(P)), tf.sum(tf.square(W)), tf.sum(tf.square(c))]);
              return tf.add(bce, tf.mul(l2, 0.5 * wd));
            }, vars);
            optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
          });
        }
        const v = val.q.length > 0 ? evaluate(val) : undefined;
        const m: EpochMetrics = {
          epoch,
          loss: lossSum / nTrain,
          accuracy: decided > 0 ? correct / decided : 0,
          val_loss: v ? v.loss : null,
          val_accuracy: v ? v.accuracy : null,
          seconds: (performance.now() - started) / 1000,
        };
        history.push(m);
        callbacks.onEpoch?.(m);
        if (v && hp.patience > 0) {
          if (!best || v.loss < best.loss) {
            best = { loss: v.loss, weights: snapshot() };
            sinceBest = 0;
          } else if (++sinceBest >= hp.patience) break;
        }
      }
      const [Pw, Ww, cw] = best ? best.weights : snapshot();
      this.fitted = {
        setting: task.kind,
        taskModels: [...task.models],
        weights: { numModels: M, latentDim: K, textDim: D, P: Pw!, textProj: Ww!, classifier: cw! },
        pairs: all.q.length,
        history,
        backend,
      };
    } finally {
      vars.forEach((v) => v.dispose());
      optimizer.dispose();
    }
  }

  private need(): Fitted {
    if (!this.fitted)
      throw new RouterlabError("the MF router is not fitted: call fit() or load a model file first");
    return this.fitted;
  }

  /** Gateway scores δ (rows x num_models, order = idx_to_model = the task's models). */
  deltas(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    if (X.dim !== f.weights.textDim)
      throw new RouterlabError(
        `embedding dim ${X.dim} does not match the router's text_dim ${f.weights.textDim}`,
        {
          file: "embeddings",
          field: "dim",
        },
      );
    for (let i = 0; i < X.data.length; i++)
      if (!Number.isFinite(X.data[i]!))
        throw new RouterlabError(`embedding row ${Math.floor(i / X.dim)} has a non-finite value`, {
          file: "embeddings",
        });
    return mfScores(f.weights, X);
  }

  predict(X: EmbeddingMatrix): string[] {
    const f = this.need();
    return Array.from(rowArgmax(this.deltas(X), X.rows, f.weights.numModels), (i) => f.taskModels[i]!);
  }

  score(X: EmbeddingMatrix): RouterScores {
    const f = this.need();
    const perModel = this.deltas(X);
    if (f.setting === "binary") {
      // models are [weak, strong]: RouteLLM's win rate σ(δ_strong − δ_weak)
      const strongProbability = new Float64Array(X.rows);
      for (let r = 0; r < X.rows; r++)
        strongProbability[r] = sigmoid(perModel[r * 2 + 1]! - perModel[r * 2]!);
      return { models: f.taskModels, perModel, strongProbability };
    }
    return { models: f.taskModels, perModel };
  }

  /** The gateway companion JSON (`<stem>.json`, contract §6.3): every key written, no nulls. */
  companion(): Record<string, unknown> {
    const f = this.need();
    return {
      latent_dim: f.weights.latentDim,
      text_dim: f.weights.textDim,
      num_models: f.weights.numModels,
      idx_to_model: Object.fromEntries(f.taskModels.map((m, i) => [String(i), m])),
      model_to_idx: Object.fromEntries(f.taskModels.map((m, i) => [m, i])),
    };
  }

  state(): RouterState {
    const f = this.need();
    const w = f.weights;
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: {
        setting: f.setting,
        taskModels: f.taskModels,
        idx_to_model: this.companion().idx_to_model,
        latent_dim: w.latentDim,
        text_dim: w.textDim,
        num_models: w.numModels,
        pairs: f.pairs,
        history: f.history,
        backend: f.backend,
      },
      tensors: {
        "P.weight": { shape: [w.numModels, w.latentDim], data: w.P },
        "text_proj.weight": { shape: [w.latentDim, w.textDim], data: w.textProj },
        "classifier.weight": { shape: [1, w.latentDim], data: w.classifier },
      },
    };
  }

  static fromState(state: RouterState): MfRouter {
    const r = new MfRouter(MfHyperparametersSchema.parse(state.hyperparameters));
    const meta = MfMetaSchema.parse(state.meta);
    const get = (name: string, n: number): Float32Array => {
      const t = state.tensors[name];
      if (!t || t.data.length !== n)
        throw new RouterlabError(`MF state: tensor ${name} missing or not ${n} values`, {
          file: "model file",
          field: name,
        });
      return t.data;
    };
    const { num_models: M, latent_dim: K, text_dim: D } = meta;
    r.fitted = {
      setting: meta.setting,
      taskModels: meta.taskModels,
      weights: {
        numModels: M,
        latentDim: K,
        textDim: D,
        P: get("P.weight", M * K),
        textProj: get("text_proj.weight", K * D),
        classifier: get("classifier.weight", K),
      },
      pairs: meta.pairs,
      history: meta.history,
      backend: typeof state.meta.backend === "string" ? state.meta.backend : "unknown",
    };
    return r;
  }
}

export const mfEntry: RegisteredRouter = defineRouter({
  kind: "mf",
  description:
    "RouteLLM/gateway bilinear matrix factorisation (P, text_proj, classifier) trained on winner/loser pairs",
  hyperparameters: MfHyperparametersSchema,
  create: (hp) => new MfRouter(hp),
  fromState: (state) => MfRouter.fromState(state),
});
