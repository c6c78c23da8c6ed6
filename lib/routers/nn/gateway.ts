/**
 * The RouteIQ gateway's scoring formulas for the MLP and MF routers (gateway-contract.md §6.2, §6.3), reproduced
 * exactly: these functions are routerlab's inference path, so a number computed here is the number production
 * computes. Weights are float32 row-major `[out, in]` exactly as in the gateway's state_dict; sums are accumulated in
 * float64 (torch accumulates float32 products; the difference is far below 1e-5 on unit-norm inputs).
 */
import type { EmbeddingMatrix } from "../../embed/types";

export const ACTIVATIONS = ["relu", "tanh", "logistic", "identity"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** One `nn.Linear`: weight `[out, in]` row-major, bias `[out]`. */
export interface LinearLayer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly inDim: number;
  readonly outDim: number;
}

export interface MlpWeights {
  /** layers[0..N-1] hidden, layers[N] the output layer. */
  readonly layers: readonly LinearLayer[];
  readonly activation: Activation;
}

export interface MfWeights {
  readonly numModels: number;
  readonly latentDim: number;
  readonly textDim: number;
  /** `P.weight` `[num_models, latent_dim]`. */
  readonly P: Float32Array;
  /** `text_proj.weight` `[latent_dim, text_dim]`. */
  readonly textProj: Float32Array;
  /** `classifier.weight` `[1, latent_dim]`. */
  readonly classifier: Float32Array;
}

export function activate(act: Activation, v: number): number {
  switch (act) {
    case "relu":
      return v > 0 ? v : 0;
    case "tanh":
      return Math.tanh(v);
    case "logistic":
      return 1 / (1 + Math.exp(-v));
    case "identity":
      return v;
  }
}

/** Index of the largest value, the first one on ties (torch.argmax / numpy.argmax semantics for finite values). */
export function argmaxFirst(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  let bestValue = values[offset]!;
  for (let i = 1; i < length; i++) {
    const v = values[offset + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** MLP logits `z` (rows x num_classes, row-major): `x = act(W_i x + b_i)` per hidden layer, then `W_N x + b_N`. */
export function mlpLogits(w: MlpWeights, X: EmbeddingMatrix): Float64Array {
  const first = w.layers[0];
  if (!first) throw new Error("MLP has no layers");
  if (X.dim !== first.inDim) throw new Error(`embedding dim ${X.dim} != MLP input_dim ${first.inDim}`);
  const last = w.layers[w.layers.length - 1]!;
  const out = new Float64Array(X.rows * last.outDim);
  const maxWidth = Math.max(...w.layers.map((l) => Math.max(l.inDim, l.outDim)));
  let cur = new Float64Array(maxWidth);
  let nxt = new Float64Array(maxWidth);
  for (let r = 0; r < X.rows; r++) {
    const base = r * X.dim;
    for (let k = 0; k < X.dim; k++) cur[k] = X.data[base + k]!;
    for (let li = 0; li < w.layers.length; li++) {
      const L = w.layers[li]!;
      const hidden = li < w.layers.length - 1;
      for (let o = 0; o < L.outDim; o++) {
        let s = 0;
        const wo = o * L.inDim;
        for (let k = 0; k < L.inDim; k++) s += L.weight[wo + k]! * cur[k]!;
        s += L.bias[o]!;
        nxt[o] = hidden ? activate(w.activation, s) : s;
      }
      const t = cur;
      cur = nxt;
      nxt = t;
    }
    for (let o = 0; o < last.outDim; o++) out[r * last.outDim + o] = cur[o]!;
  }
  return out;
}

/** MF scores `δ_m = Σ_k c_k · P̂_m[k] · (text_proj · e)[k]` (rows x num_models, row-major). */
export function mfScores(w: MfWeights, X: EmbeddingMatrix): Float64Array {
  if (X.dim !== w.textDim) throw new Error(`embedding dim ${X.dim} != MF text_dim ${w.textDim}`);
  const { numModels: M, latentDim: K, textDim: D } = w;
  // Fold classifier and the row-normalised P into one [M, K] matrix: c_k * P̂_m[k].
  const cp = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    let n2 = 0;
    for (let k = 0; k < K; k++) n2 += w.P[m * K + k]! * w.P[m * K + k]!;
    const norm = Math.max(Math.sqrt(n2), 1e-12);
    for (let k = 0; k < K; k++) cp[m * K + k] = (w.classifier[k]! * w.P[m * K + k]!) / norm;
  }
  const out = new Float64Array(X.rows * M);
  const p = new Float64Array(K);
  for (let r = 0; r < X.rows; r++) {
    const base = r * D;
    for (let k = 0; k < K; k++) {
      let s = 0;
      const wk = k * D;
      for (let d = 0; d < D; d++) s += w.textProj[wk + d]! * X.data[base + d]!;
      p[k] = s;
    }
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += cp[m * K + k]! * p[k]!;
      out[r * M + m] = s;
    }
  }
  return out;
}

/** Per-row argmax (first on ties) of a rows x cols matrix. */
export function rowArgmax(values: Float64Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = argmaxFirst(values, r * cols, cols);
  return out;
}
