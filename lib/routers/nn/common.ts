/** Pieces shared by the MLP and MF trainers: seeded torch-style initialisation, splits, batches, epoch metrics. */
import { z } from "zod";
import type { EmbeddingMatrix } from "../../embed/types";
import type { Rng } from "../../util/random";
import { shuffled } from "../../util/random";
import { RouterlabError } from "../../util/errors";
import { checkTraining } from "../checks";
import { Estimator } from "../define";
import type { Queries, RoutingTask } from "../types";

/**
 * A training engine of the MLP or MF router: `run` writes the batch's logits into `z` and returns its loss
 * (computed before any update), with `train` after one optimiser step on it; `snapshot` copies the current tensors
 * as float32 (the kind's tensor order).
 */
export interface TrainingEngine<Batch> {
  readonly name: string;
  run(b: Batch, z: Float32Array, train: boolean): number | Promise<number>;
  snapshot(): Float32Array[] | Promise<Float32Array[]>;
  dispose(): void;
}

/** One epoch's figures, reported through `onEpoch` and kept in the router's `meta.history`. */
export interface EpochMetrics {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  seconds: number;
}

export interface TrainCallbacks {
  /** Called after every epoch (tracking logs these as step metrics). */
  onEpoch?: (m: EpochMetrics) => void;
  /** Warm start: initial values for some or all tensors, by state_dict key (shapes must match). */
  initialTensors?: Record<string, Float32Array>;
}

/**
 * What the MLP and MF routers share on top of the Estimator base: the per-epoch history of the last fit and the
 * training-input check (the expected embedding width, observed quality read when the task has it).
 */
export abstract class EpochTrainer<
  H extends Record<string, unknown> & { inputDim?: number | undefined },
  F extends { history: EpochMetrics[] },
> extends Estimator<H, F> {
  /** Per-epoch metrics of the last fit. */
  get history(): readonly EpochMetrics[] {
    return this.fitted?.history ?? [];
  }

  protected checkFit(queries: Queries, task: RoutingTask): void {
    checkTraining(queries, task, { expectedDim: this.hp.inputDim, readsQuality: true });
  }
}

/** `init[key]`, replaced by a copy of `override[key]` when given (length checked). */
export function initialTensor(
  key: string,
  init: Float32Array,
  override: Record<string, Float32Array> | undefined,
): Float32Array {
  const o = override?.[key];
  if (!o) return init;
  if (o.length !== init.length)
    throw new RouterlabError(`warm-start tensor ${key} has ${o.length} values, expected ${init.length}`, {
      file: "initialTensors",
      field: key,
    });
  return Float32Array.from(o);
}

/**
 * The epoch-loop hyperparameters the MLP and MF trainers share (what `runEpochs` reads), with each kind's
 * defaults; spread into a kind's schema where they stand (the key order is the saved hyperparameters' order).
 */
export function epochLoopFields(defaults: { epochs: number; patience: number }) {
  return {
    batchSize: z.int().positive().default(64),
    epochs: z.int().positive().default(defaults.epochs),
    /** Share of the training queries held out (seeded) for early stopping and val metrics; 0 = none. */
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    /** Stop after this many epochs without a lower val loss and restore the best weights; 0 = never stop early. */
    patience: z.int().nonnegative().default(defaults.patience),
  };
}

/** The last hyperparameters of both trainers: the expected input width, the seed and the training engine. */
export const trainerFields = {
  /** Expected embedding width (384 for the gateway); unset = accept any. */
  inputDim: z.int().positive().optional(),
  seed: z.int().default(0),
  /**
   * Training engine: the kind's hand-written trainer with its heavy steps on onnxruntime (`ort`, default; see
   * mlp-ort.ts and mf-engine.ts), the same all in TypeScript (`js`, slow), or TensorFlow.js (`tfjs`).
   */
  engine: z.enum(["ort", "js", "tfjs"]).default("ort"),
};

/** What both trainers' saved `meta` starts with: the setting, the task's models and the gateway's class order. */
export const trainerMetaFields = {
  setting: z.enum(["multi", "binary"]),
  taskModels: z.array(z.string()),
  idx_to_model: z.record(z.string(), z.string()),
  /** The engine that trained it; "unknown" when a state lacks it. */
  backend: z.string().catch("unknown"),
};

export const EpochMetricsSchema = z.object({
  epoch: z.number(),
  loss: z.number(),
  accuracy: z.number(),
  val_loss: z.number().nullable(),
  val_accuracy: z.number().nullable(),
  seconds: z.number(),
});

/** `nn.Linear` default init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from a seeded Rng. */
export function uniformInit(n: number, fanIn: number, rng: Rng): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

/** `nn.Embedding` default init: N(0, 1). */
export function normalInit(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** Seeded train/validation split of row indices; `fraction` of the rows (rounded down) go to validation. */
export function splitRows(n: number, fraction: number, rng: Rng): { train: number[]; val: number[] } {
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
  const nVal = fraction > 0 && n >= 4 ? Math.max(1, Math.floor(n * fraction)) : 0;
  return { val: order.slice(0, nVal).sort((a, b) => a - b), train: order.slice(nVal).sort((a, b) => a - b) };
}

/** Copies rows `rows[from..to)` of X into `out` (row-major). */
export function gatherRows(
  X: EmbeddingMatrix,
  rows: readonly number[],
  from: number,
  to: number,
  out: Float32Array,
): void {
  const d = X.dim;
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    out.set(X.data.subarray(r * d, r * d + d), (i - from) * d);
  }
}

/** One epoch's training loss and accuracy, and the validation ones when there is a validation split. */
export interface EpochFigures {
  loss: number;
  accuracy: number;
  val?: { loss: number; accuracy: number };
}

export interface EpochLoop {
  epochs: number;
  /** Stop after this many epochs without a lower val loss (0 = never stop early). */
  patience: number;
  /**
   * Keep the lowest-val-loss weights even with patience 0 (the MLP does; the MF keeps them only while it may stop
   * early, so with patience 0 it ends on the last epoch's weights).
   */
  keepBestWithoutPatience: boolean;
  /** Trains one epoch (its own seeded shuffle included) and evaluates the validation split. */
  runEpoch: () => Promise<EpochFigures>;
  /** The engine's current weights (copies). */
  snapshot: () => Float32Array[] | Promise<Float32Array[]>;
  onEpoch?: (m: EpochMetrics) => void;
}

/**
 * The epoch loop the MLP and MF trainers share: per epoch the metrics (reported through `onEpoch`), the weights of
 * the lowest val loss kept, early stopping after `patience` epochs without a lower one. Returns the history and the
 * weights to keep (the best ones when kept, else the last).
 */
export async function runEpochs(
  loop: EpochLoop,
): Promise<{ history: EpochMetrics[]; weights: Float32Array[] }> {
  const history: EpochMetrics[] = [];
  let best: { loss: number; weights: Float32Array[] } | undefined;
  let sinceBest = 0;
  const tracksBest = loop.keepBestWithoutPatience || loop.patience > 0;
  for (let epoch = 1; epoch <= loop.epochs; epoch++) {
    const started = performance.now();
    const e = await loop.runEpoch();
    const m: EpochMetrics = {
      epoch,
      loss: e.loss,
      accuracy: e.accuracy,
      val_loss: e.val ? e.val.loss : null,
      val_accuracy: e.val ? e.val.accuracy : null,
      seconds: (performance.now() - started) / 1000,
    };
    history.push(m);
    loop.onEpoch?.(m);
    if (e.val && tracksBest) {
      if (!best || e.val.loss < best.loss) {
        best = { loss: e.val.loss, weights: await loop.snapshot() };
        sinceBest = 0;
      } else if (loop.patience > 0 && ++sinceBest >= loop.patience) break;
    }
  }
  return { history, weights: best ? best.weights : await loop.snapshot() };
}
