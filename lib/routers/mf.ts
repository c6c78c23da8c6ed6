/**
 * Matrix-factorisation router of RouteLLM / the gateway (gateway-contract.md §6.3): a model table `P`
 * `[num_models, latent]`, `text_proj` `[latent, text_dim]` and `classifier` `[1, latent]`, no biases, rows of `P`
 * L2-normalised. Trained on (winner, loser) pairs with binary cross-entropy on
 * `classifier((P̂_win − P̂_lose) ⊙ text_proj(e + noise))` and Adam with torch's L2-style `weight_decay`
 * (`grad + wd·θ`), by default on a hand-written TypeScript engine (nn/mf-engine.ts), or on TensorFlow.js.
 * Inference is the gateway's formula in plain TypeScript (nn/gateway.ts).
 *
 * Pairs: from `task.quality` when present (every model pair with different quality on a query; equal quality is
 * skipped, or trained towards 0.5 with `ties: "half"`), otherwise from the labels (the label model beats every
 * other model; binary: strong beats weak iff label 1).
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { createRng, shuffled } from "../util/random";
import type { RegisteredRouter } from "./define";
import { checkQueries } from "./checks";
import { parseStateMeta } from "./common";
import { defineRouter } from "./define";
import type { EpochMetrics, TrainCallbacks } from "./nn/common";
import {
  EpochMetricsSchema,
  EpochTrainer,
  epochLoopFields,
  initialTensor,
  normalInit,
  runEpochs,
  splitRows,
  trainerFields,
  trainerMetaFields,
  uniformInit,
} from "./nn/common";
import type { MfWeights } from "./nn/gateway";
import { sigmoid } from "../util/logistic";
import { mfScores, rowArgmax } from "./nn/gateway";
import type { MfBatch, MfEngine } from "./nn/mf-engine";
import { JsMfEngine } from "./nn/mf-engine";
import { TfMfEngine } from "./nn/mf-tf";
import { ortGemm } from "./native/gemm";
import { tfReady } from "./nn/tf";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

/** RouteLLM's MF defaults: latent 128, Adam lr 3e-4, weight decay 1e-5, embedding noise 0.1. */
export const MfHyperparametersSchema = z.strictObject({
  latentDim: z.int().positive().default(128),
  learningRate: z.number().positive().default(3e-4),
  weightDecay: z.number().nonnegative().default(1e-5),
  /** Std of the Gaussian noise added to each training embedding (0 = none). */
  noise: z.number().nonnegative().default(0.1),
  ...epochLoopFields({ epochs: 10, patience: 0 }),
  /** Pairs with equal quality: skipped, or trained towards 0.5. */
  ties: z.enum(["skip", "half"]).default("skip"),
  ...trainerFields,
});
export type MfHyperparameters = z.infer<typeof MfHyperparametersSchema>;

const MfMetaSchema = z.object({
  ...trainerMetaFields,
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

export class MfRouter extends EpochTrainer<MfHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof MfHyperparametersSchema> = {}) {
    super("mf", MfHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask, callbacks: TrainCallbacks = {}): Promise<void> {
    const X = queries.X;
    const hp = this.hp;
    this.checkFit(queries, task);
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

    const B = hp.batchSize;
    const engineInit = {
      numModels: M,
      latentDim: K,
      textDim: D,
      maxBatch: B,
      ...init,
      learningRate: hp.learningRate,
      weightDecay: hp.weightDecay,
    };
    const engine: MfEngine =
      hp.engine === "tfjs"
        ? new TfMfEngine(engineInit, await tfReady())
        : new JsMfEngine(engineInit, hp.engine === "ort" ? await ortGemm() : undefined);
    const batch: MfBatch = {
      x: new Float32Array(B * D),
      win: new Int32Array(B),
      lose: new Int32Array(B),
      target: new Float32Array(B),
      nb: 0,
    };
    const z = new Float32Array(B);
    const fillBatch = (
      p: Pairs,
      order: readonly number[],
      from: number,
      to: number,
      noisy: boolean,
    ): void => {
      const xBuf = batch.x;
      batch.nb = to - from;
      for (let i = from; i < to; i++) {
        const pi = order[i]!;
        const r = p.q[pi]!;
        const off = (i - from) * D;
        batch.win[i - from] = p.win[pi]!;
        batch.lose[i - from] = p.lose[pi]!;
        batch.target[i - from] = p.target[pi]!;
        xBuf.set(X.data.subarray(r * D, r * D + D), off);
        if (noisy && noiseTable.length > 0) {
          const start = rng.int(tableSize);
          for (let d = 0; d < D; d++) xBuf[off + d] = xBuf[off + d]! + noiseTable[start + d]!;
        }
      }
    };
    /** Runs every batch of `p` in `order`; returns the mean loss and the pairwise accuracy (ties excluded). */
    const pass = async (
      p: Pairs,
      order: readonly number[],
      train: boolean,
    ): Promise<{ loss: number; accuracy: number }> => {
      let lossSum = 0;
      let correct = 0;
      let decided = 0;
      for (let from = 0; from < order.length; from += B) {
        const to = Math.min(order.length, from + B);
        fillBatch(p, order, from, to, train);
        lossSum += (await engine.run(batch, z, train)) * batch.nb;
        for (let i = 0; i < batch.nb; i++) {
          if (batch.target[i] === 0.5) continue;
          decided++;
          if (z[i]! > 0) correct++;
        }
      }
      return { loss: lossSum / order.length, accuracy: decided > 0 ? correct / decided : 0 };
    };

    let order = Array.from({ length: train.q.length }, (_, i) => i);
    const valOrder = Array.from({ length: val.q.length }, (_, i) => i);
    try {
      const { history, weights } = await runEpochs({
        epochs: hp.epochs,
        patience: hp.patience,
        keepBestWithoutPatience: false,
        runEpoch: async () => {
          // Each epoch reshuffles the previous epoch's order (seeded).
          order = shuffled(order, rng);
          const tr = await pass(train, order, true);
          return { ...tr, val: val.q.length > 0 ? await pass(val, valOrder, false) : undefined };
        },
        snapshot: () => engine.snapshot(),
        onEpoch: callbacks.onEpoch,
      });
      const [Pw, Ww, cw] = weights;
      this.fitted = {
        setting: task.kind,
        taskModels: [...task.models],
        weights: { numModels: M, latentDim: K, textDim: D, P: Pw!, textProj: Ww!, classifier: cw! },
        pairs: all.q.length,
        history,
        backend: engine.name,
      };
    } finally {
      engine.dispose();
    }
  }

  /** Gateway scores δ (rows x num_models, order = idx_to_model = the task's models). */
  deltas(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries({ X }, f.weights.textDim);
    return mfScores(f.weights, X);
  }

  predict(queries: Queries): string[] {
    const X = queries.X;
    const f = this.need();
    return Array.from(rowArgmax(this.deltas(X), X.rows, f.weights.numModels), (i) => f.taskModels[i]!);
  }

  score(queries: Queries): RouterScores {
    const X = queries.X;
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
    const meta = parseStateMeta(state, MfMetaSchema);
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
      backend: meta.backend,
    };
    return r;
  }
}

export const mfEntry: RegisteredRouter = defineRouter({
  kind: "mf",
  description:
    "RouteLLM/gateway bilinear matrix factorisation (P, text_proj, classifier) trained on winner/loser pairs",
  hyperparameters: MfHyperparametersSchema,
  seeded: true,
  gatewayFormat: "torch-mf",
  create: (hp) => new MfRouter(hp),
  fromState: (state) => MfRouter.fromState(state),
});
