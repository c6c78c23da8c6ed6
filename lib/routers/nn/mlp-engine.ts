/**
 * MLP training engine in plain TypeScript (`js`), after mf-engine.ts: forward, hand-written backward and torch's Adam
 * for the gateway MLP (Linear + activation per hidden layer, a final Linear), loss = torch
 * `CrossEntropyLoss(weight=w)` (Σ w_y·ce / Σ w_y). Every product runs in TypeScript loops; the default `ort` engine
 * (mlp-ort.ts) runs the same step as one onnxruntime graph. All buffers are allocated once; bias and activation are
 * applied in one pass over each product. Parameters are float32 as in torch, Adam moments float64 (mf-engine's
 * `Adam`); parity with torch to 1e-5 over a few Adam steps and byte-identical reruns are checked in
 * tests/routers/mlp.test.ts.
 */
import type { TrainingEngine } from "./common";
import type { Activation } from "./gateway";
import { Adam } from "./mf-engine";
import { nnInto, ntInto, tnInto } from "./matmul";

export interface MlpBatch {
  /** nb x D rows, row-major. */
  x: Float32Array;
  /** Class index per row. */
  y: Int32Array;
  /**
   * Quality-regression loss only (`MlpEngineInit.loss = "quality"`): nb x C observed quality per model in [0, 1],
   * NaN = not observed (masked out of the loss).
   */
  quality?: Float32Array;
  nb: number;
}

/** Loss: the weighted mean cross-entropy (or the quality loss). Tensors: every layer's weight, then every bias. */
export type MlpEngine = TrainingEngine<MlpBatch>;

export interface MlpEngineInit {
  /** [input, ...hidden, classes]. */
  dims: readonly number[];
  activation: Activation;
  /** Per layer, `[out, in]` row-major. */
  weights: readonly Float32Array[];
  biases: readonly Float32Array[];
  classWeights: Float32Array;
  learningRate: number;
  /** Largest batch `run` will see (training batch or the whole validation split). */
  maxBatch: number;
  /**
   * `softmax` (default): weighted softmax cross-entropy on the class labels. `quality`: one sigmoid per output,
   * binary cross-entropy against each model's observed quality (mean over observed entries), so σ(z_m) is model m's
   * predicted quality; class weights are not used.
   */
  loss?: "softmax" | "quality";
}

/**
 * Mean binary cross-entropy of σ(z) against the observed quality over the batch's observed entries, and its
 * gradient (σ(z) − q) / count into gz (0 where quality is NaN). Written in the stable form
 * max(z, 0) − z·q + log(1 + e^{−|z|}).
 */
export function qualityLoss(z: Float32Array, batch: MlpBatch, C: number, gz: Float32Array): number {
  const q = batch.quality;
  if (!q) throw new Error("mlp engine: the quality loss needs batch.quality");
  let count = 0;
  for (let i = 0; i < batch.nb * C; i++) if (!Number.isNaN(q[i]!)) count++;
  const denom = Math.max(count, 1);
  let loss = 0;
  for (let i = 0; i < batch.nb * C; i++) {
    const t = q[i]!;
    if (Number.isNaN(t)) {
      gz[i] = 0;
      continue;
    }
    const v = z[i]!;
    loss += Math.max(v, 0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
    gz[i] = (1 / (1 + Math.exp(-v)) - t) / denom;
  }
  return loss / denom;
}

/**
 * Weighted mean softmax cross-entropy of the logits z (nb x C), torch's `CrossEntropyLoss(weight=cw)`:
 * Σ w_y·ce / Σ w_y, in float64; with `gz`, its gradient w.r.t. the logits too.
 */
export function softmaxLoss(
  z: Float32Array,
  y: Int32Array,
  nb: number,
  C: number,
  cw: Float32Array,
  gz?: Float32Array,
): number {
  let wSum = 0;
  for (let i = 0; i < nb; i++) wSum += cw[y[i]!]!;
  const denom = Math.max(wSum, 1e-12);
  let loss = 0;
  for (let i = 0; i < nb; i++) {
    const o = i * C;
    let mx = z[o]!;
    for (let c = 1; c < C; c++) if (z[o + c]! > mx) mx = z[o + c]!;
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[o + c]! - mx);
    const lse = mx + Math.log(s);
    const yi = y[i]!;
    const w = cw[yi]!;
    loss += w * (lse - z[o + yi]!);
    if (gz)
      for (let c = 0; c < C; c++) gz[o + c] = (w * (Math.exp(z[o + c]! - lse) - (c === yi ? 1 : 0))) / denom;
  }
  return loss / denom;
}

/** out[i, j] = act(pre[i, j] + bias[j]) over `rows` rows (bias and activation fused in one pass). */
function biasActivate(
  pre: Float32Array,
  rows: number,
  n: number,
  bias: Float32Array,
  act: Activation | null,
  out: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) {
      const v = pre[o + j]! + bias[j]!;
      out[o + j] =
        act === null || act === "identity"
          ? v
          : act === "relu"
            ? v > 0
              ? v
              : 0
            : act === "tanh"
              ? Math.tanh(v)
              : 1 / (1 + Math.exp(-v));
    }
  }
}

/** g[i] *= act'(h[i]) given the activation's output h (torch's backward formulas in terms of the output). */
function activationGrad(act: Activation, h: Float32Array, g: Float32Array, len: number): void {
  switch (act) {
    case "relu":
      for (let i = 0; i < len; i++) if (!(h[i]! > 0)) g[i] = 0;
      return;
    case "tanh":
      for (let i = 0; i < len; i++) g[i] = g[i]! * (1 - h[i]! * h[i]!);
      return;
    case "logistic":
      for (let i = 0; i < len; i++) g[i] = g[i]! * (h[i]! * (1 - h[i]!));
      return;
    case "identity":
      return;
  }
}

/**
 * What both hand-written MLP engines (js here, ort in mlp-ort.ts) hold: the layer widths, float32 copies of the
 * weights and biases that torch's Adam updates in place, the class weights and the loss kind.
 */
export abstract class MlpParameters {
  protected readonly dims: readonly number[];
  protected readonly L: number;
  protected readonly W: Float32Array[];
  protected readonly b: Float32Array[];
  protected readonly cw: Float32Array;
  protected readonly lossKind: "softmax" | "quality";
  private readonly optW: Adam[];
  private readonly optB: Adam[];
  private t = 0;

  protected constructor(init: MlpEngineInit) {
    this.dims = init.dims;
    this.L = init.dims.length - 1;
    this.W = init.weights.map((w) => Float32Array.from(w));
    this.b = init.biases.map((b) => Float32Array.from(b));
    this.cw = Float32Array.from(init.classWeights);
    this.lossKind = init.loss ?? "softmax";
    this.optW = this.W.map((p) => new Adam(p, init.learningRate, 0));
    this.optB = this.b.map((p) => new Adam(p, init.learningRate, 0));
  }

  /** One Adam step on every layer, from the layers' weight and bias gradients. */
  protected adamStep(gW: (l: number) => Float32Array, gb: (l: number) => Float32Array): void {
    this.t++;
    for (let l = 0; l < this.L; l++) {
      this.optW[l]!.step(gW(l), this.t);
      this.optB[l]!.step(gb(l), this.t);
    }
  }

  snapshot(): Float32Array[] {
    return [...this.W, ...this.b].map((t) => Float32Array.from(t));
  }
}

export class JsMlpEngine extends MlpParameters implements MlpEngine {
  readonly name = "js";
  private readonly act: Activation;
  // scratch, sized for maxBatch
  /** acts[l]: input of layer l (acts[0] unused: the batch's x). */
  private readonly acts: Float32Array[];
  private readonly pre: Float32Array[];
  /** gA[l]: gradient w.r.t. layer l's output (pre-activation), nb x dims[l+1]. */
  private readonly gA: Float32Array[];
  private readonly gH: Float32Array;
  private readonly gW: Float32Array[];
  private readonly gb: Float32Array[];

  constructor(init: MlpEngineInit) {
    super(init);
    const { dims, maxBatch: B } = init;
    this.act = init.activation;
    const maxWidth = Math.max(...dims);
    this.acts = dims.map((d, l) => new Float32Array(l === 0 ? 0 : B * d));
    this.pre = dims.map((d) => new Float32Array(B * d));
    this.gA = dims.slice(1).map((d) => new Float32Array(B * d));
    this.gH = new Float32Array(B * maxWidth);
    this.gW = this.W.map((w) => new Float32Array(w.length));
    this.gb = this.b.map((b) => new Float32Array(b.length));
  }

  run(batch: MlpBatch, z: Float32Array, train: boolean): number {
    const { dims, L, W, b } = this;
    const { x, y, nb } = batch;
    // forward
    let input = x;
    for (let l = 0; l < L; l++) {
      const k = dims[l]!;
      const n = dims[l + 1]!;
      const out = l === L - 1 ? z : this.acts[l + 1]!;
      const act = l === L - 1 ? null : this.act;
      if (act === null || act === "identity") {
        ntInto(input, nb, k, W[l]!, n, out, b[l]);
      } else {
        const p = this.pre[l + 1]!;
        ntInto(input, nb, k, W[l]!, n, p);
        biasActivate(p, nb, n, b[l]!, act, out);
      }
      input = out;
    }
    const C = dims[L]!;
    const gz = this.gA[L - 1]!;
    const loss =
      this.lossKind === "quality" ? qualityLoss(z, batch, C, gz) : softmaxLoss(z, y, nb, C, this.cw, gz);
    if (!train) return loss;
    this.backward(x, nb);
    return loss;
  }

  private backward(x: Float32Array, nb: number): void {
    const { dims, L, W } = this;
    for (let l = L - 1; l >= 0; l--) {
      const k = dims[l]!;
      const n = dims[l + 1]!;
      const g = this.gA[l]!;
      const h = l === 0 ? x : this.acts[l]!;
      // weight gradient [n, k] = g^T · h
      tnInto(g, nb, n, h, k, this.gW[l]!);
      const gb = this.gb[l]!;
      gb.fill(0);
      for (let i = 0; i < nb; i++) for (let j = 0; j < n; j++) gb[j] = gb[j]! + g[i * n + j]!;
      if (l === 0) continue;
      // input gradient [nb, k] = g · W, then through the previous activation
      const prev = this.gA[l - 1]!;
      nnInto(g, nb, n, W[l]!, k, this.gH);
      prev.set(this.gH.subarray(0, nb * k));
      activationGrad(this.act, h, prev, nb * k);
    }
    this.adamStep(
      (l) => this.gW[l]!,
      (l) => this.gb[l]!,
    );
  }

  dispose(): void {
    // nothing held outside the JS heap
  }
}
