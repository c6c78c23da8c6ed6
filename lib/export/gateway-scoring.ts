/**
 * The gateway's decision rules (gateway-contract.md §6), in TypeScript, so an export can check that the files it
 * writes make the same decisions routerlab made. Sums run in float64 over float32 weights.
 */

import type { EmbeddingMatrix } from "../embed/types";
import { argmaxFirst, mfScores as nnMfScores, mlpLogits as nnMlpLogits } from "../routers/nn/gateway";
import type {
  Activation,
  LinearLayer,
  MfWeights as NnMfWeights,
  MlpWeights as NnMlpWeights,
} from "../routers/nn/gateway";

// One definition of the layer type, the activations, the first-index argmax and the MLP/MF forward passes, shared
// with the routers' own inference: an export checks its files with the very code routerlab predicts with.
export { ACTIVATIONS } from "../routers/nn/gateway";
export type { Activation, LinearLayer };

export interface MlpWeights extends NnMlpWeights {
  readonly inputDim: number;
  readonly hiddenLayerSizes: readonly number[];
  /** hiddenLayerSizes.length + 1 layers; the last one outputs one logit per label. */
  readonly layers: readonly LinearLayer[];
  /** Label of each output index: exact `litellm_params.model` strings. */
  readonly labels: readonly string[];
}

/** The MF tensors; the number of models is `labels.length`. */
export interface MfWeights extends Omit<NnMfWeights, "numModels"> {
  readonly labels: readonly string[];
}

/** One embedding as a 1-row matrix for the routers' batch forward passes. */
function oneRow(e: Float32Array): EmbeddingMatrix {
  return { data: e, rows: 1, dim: e.length };
}

export function mlpLogits(m: MlpWeights, e: Float32Array): Float64Array {
  return nnMlpLogits(m, oneRow(e));
}

export function mlpDecide(m: MlpWeights, e: Float32Array): string {
  const idx = argmaxFirst(mlpLogits(m, e));
  return m.labels[idx] ?? String(idx);
}

export function mfScores(m: MfWeights, e: Float32Array): Float64Array {
  return nnMfScores({ ...m, numModels: m.labels.length }, oneRow(e));
}

export function mfDecide(m: MfWeights, e: Float32Array): string {
  const idx = argmaxFirst(mfScores(m, e));
  return m.labels[idx] ?? String(idx);
}

/** ELO: the highest rating, ties to the first key in file order. */
export function eloDecide(ratings: ReadonlyArray<readonly [string, number]>): string {
  let best = 0;
  for (let i = 1; i < ratings.length; i++) if (ratings[i]![1] > ratings[best]![1]) best = i;
  return ratings[best]![0];
}

/**
 * KNN parity with sklearn's `KNeighborsClassifier(metric="cosine", weights="distance", algorithm="brute")`
 * (§6.1). `classes` must be sorted as sklearn sorts them; `y` indexes into it.
 */
export function knnDecide(
  points: Float32Array,
  dim: number,
  y: Int32Array,
  classes: readonly string[],
  k: number,
  e: ArrayLike<number>,
): string {
  const n = y.length;
  let en = 0;
  for (let j = 0; j < dim; j++) en += e[j]! ** 2;
  en = Math.sqrt(en);
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let pn = 0;
    for (let j = 0; j < dim; j++) {
      const v = points[i * dim + j]!;
      dot += v * e[j]!;
      pn += v * v;
    }
    dist[i] = 1 - dot / (Math.sqrt(pn) * en);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => dist[a]! - dist[b]! || a - b);
  const nn = order.slice(0, Math.min(k, n));
  const w = new Float64Array(classes.length);
  const zero = nn.filter((i) => dist[i]! <= 0);
  if (zero.length > 0) for (const i of zero) w[y[i]!]! += 1;
  else for (const i of nn) w[y[i]!]! += 1 / dist[i]!;
  return classes[argmaxFirst(w)]!;
}
