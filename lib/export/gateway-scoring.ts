/**
 * The gateway's decision rules (gateway-contract.md §6), in TypeScript, so an export can check that the files it
 * writes make the same decisions routerlab made. Sums run in float64 over float32 weights.
 */

import { activate, argmaxFirst } from "../routers/nn/gateway";
import type { Activation } from "../routers/nn/gateway";

// One definition of the activations and the first-index argmax, shared with the routers' own inference.
export { ACTIVATIONS } from "../routers/nn/gateway";
export type { Activation };

/** One `nn.Linear`: weight is [out, in] row-major (PyTorch layout), bias is [out]. */
export interface LinearLayer {
  readonly inDim: number;
  readonly outDim: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

export interface MlpWeights {
  readonly inputDim: number;
  readonly hiddenLayerSizes: readonly number[];
  readonly activation: Activation;
  /** hiddenLayerSizes.length + 1 layers; the last one outputs one logit per label. */
  readonly layers: readonly LinearLayer[];
  /** Label of each output index: exact `litellm_params.model` strings. */
  readonly labels: readonly string[];
}

export interface MfWeights {
  readonly textDim: number;
  readonly latentDim: number;
  /** P.weight, [numModels, latentDim]. */
  readonly P: Float32Array;
  /** text_proj.weight, [latentDim, textDim]. */
  readonly textProj: Float32Array;
  /** classifier.weight, [1, latentDim]. */
  readonly classifier: Float32Array;
  readonly labels: readonly string[];
}

export function mlpLogits(m: MlpWeights, e: ArrayLike<number>): Float64Array {
  let x: ArrayLike<number> = e;
  m.layers.forEach((layer, li) => {
    const y = new Float64Array(layer.outDim);
    for (let o = 0; o < layer.outDim; o++) {
      let s = layer.bias[o]!;
      const row = o * layer.inDim;
      for (let k = 0; k < layer.inDim; k++) s += layer.weight[row + k]! * x[k]!;
      y[o] = li < m.layers.length - 1 ? activate(m.activation, s) : s;
    }
    x = y;
  });
  return x as Float64Array;
}

export function mlpDecide(m: MlpWeights, e: ArrayLike<number>): string {
  const idx = argmaxFirst(mlpLogits(m, e));
  return m.labels[idx] ?? String(idx);
}

export function mfScores(m: MfWeights, e: ArrayLike<number>): Float64Array {
  const p = new Float64Array(m.latentDim);
  for (let k = 0; k < m.latentDim; k++) {
    let s = 0;
    const row = k * m.textDim;
    for (let j = 0; j < m.textDim; j++) s += m.textProj[row + j]! * e[j]!;
    p[k] = s;
  }
  const n = m.labels.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let k = 0; k < m.latentDim; k++) norm += m.P[i * m.latentDim + k]! ** 2;
    const d = Math.max(Math.sqrt(norm), 1e-12);
    let s = 0;
    for (let k = 0; k < m.latentDim; k++) s += m.classifier[k]! * (m.P[i * m.latentDim + k]! / d) * p[k]!;
    out[i] = s;
  }
  return out;
}

export function mfDecide(m: MfWeights, e: ArrayLike<number>): string {
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
