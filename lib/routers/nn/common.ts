/** Pieces shared by the MLP and MF trainers: seeded torch-style initialisation, splits, batches, epoch metrics. */
import { z } from "zod";
import type { EmbeddingMatrix } from "../../embed/types";
import type { Rng } from "../../util/random";
import { shuffled } from "../../util/random";
import { RouterlabError } from "../../util/errors";

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
