/**
 * The `ort` MLP engine: one onnxruntime run per training step. The whole forward pass, the softmax cross-entropy
 * gradient and the backward pass (every weight and bias gradient) are one graph built for the router's layers
 * (onnx-writer.ts), so a step costs one session call instead of one per product (each call is a round trip through
 * the event loop, ~65 µs, as much as a small product). Adam stays in TypeScript (mf-engine's `Adam`, float64
 * moments, as in the `js` engine): inside the graph it was slower (13 element-wise nodes per tensor, and fresh
 * output buffers for parameters and moments each step). The loss is computed from the logits in float64, as in
 * mlp-engine.ts.
 * One intra-op thread: the products are small (64 x 384 x 128) and the machine is shared.
 */
import * as ort from "onnxruntime-node";
import type { Activation } from "./gateway";
import type { MlpBatch, MlpEngine, MlpEngineInit } from "./mlp-engine";
import { MlpParameters, qualityLoss, softmaxLoss } from "./mlp-engine";
import type { OnnxGraph, OnnxNode } from "./onnx-writer";
import { encodeModel } from "./onnx-writer";

const ACTIVATION_OP: Record<Activation, string> = {
  relu: "Relu",
  tanh: "Tanh",
  logistic: "Sigmoid",
  identity: "Identity",
};

/**
 * Inputs X [N, D], S [N, 1] (w_y / Σ w), T [N, C] (one-hot · S), W{l} [out, in], B{l} [out]; outputs Z (logits) and,
 * with `train`, GW{l} and GB{l}: the gradients of Σ_i S_i · ce_i (torch's weighted-mean CrossEntropyLoss).
 * With the `quality` loss the output gradient is σ(Z) · S − T with S [N, C] = mask / count and T = quality · S: the
 * gradient of the mean binary cross-entropy over the observed entries (mlp-engine.ts `qualityLoss`).
 */
export function mlpStepGraph(
  dims: readonly number[],
  activation: Activation,
  train: boolean,
  loss: "softmax" | "quality" = "softmax",
): OnnxGraph {
  const L = dims.length - 1;
  const C = dims[L]!;
  const nodes: OnnxNode[] = [];
  const h = (l: number): string => (l === 0 ? "X" : `H${l}`);
  for (let l = 0; l < L; l++) {
    const pre = l === L - 1 ? "Z" : `P${l + 1}`;
    nodes.push({ op: "Gemm", inputs: [h(l), `W${l}`, `B${l}`], outputs: [pre], attributes: { transB: 1 } });
    if (l < L - 1) nodes.push({ op: ACTIVATION_OP[activation], inputs: [pre], outputs: [h(l + 1)] });
  }
  const outputs = [{ name: "Z", shape: ["N", C] }];
  if (train) {
    nodes.push(
      loss === "softmax"
        ? { op: "Softmax", inputs: ["Z"], outputs: ["Pr"], attributes: { axis: 1 } }
        : { op: "Sigmoid", inputs: ["Z"], outputs: ["Pr"] },
      { op: "Mul", inputs: ["Pr", "S"], outputs: ["PrS"] },
      { op: "Sub", inputs: ["PrS", "T"], outputs: [`G${L - 1}`] },
    );
    for (let l = L - 1; l >= 0; l--) {
      const g = `G${l}`;
      nodes.push(
        { op: "Gemm", inputs: [g, h(l)], outputs: [`GW${l}`], attributes: { transA: 1 } },
        { op: "ReduceSum", inputs: [g, "axis0"], outputs: [`GB${l}`], attributes: { keepdims: 0 } },
      );
      if (l === 0) continue;
      const gh = `GH${l}`;
      const hl = h(l);
      const prev = `G${l - 1}`;
      nodes.push({ op: "MatMul", inputs: [g, `W${l}`], outputs: [gh] });
      // the activation's derivative in terms of its output, as torch's backward formulas
      switch (activation) {
        case "relu":
          nodes.push(
            { op: "Greater", inputs: [hl, "zero"], outputs: [`${hl}pos`] },
            { op: "Where", inputs: [`${hl}pos`, gh, "zero"], outputs: [prev] },
          );
          break;
        case "tanh":
          nodes.push(
            { op: "Mul", inputs: [hl, hl], outputs: [`${hl}sq`] },
            { op: "Sub", inputs: ["one", `${hl}sq`], outputs: [`${hl}d`] },
            { op: "Mul", inputs: [gh, `${hl}d`], outputs: [prev] },
          );
          break;
        case "logistic":
          nodes.push(
            { op: "Sub", inputs: ["one", hl], outputs: [`${hl}c`] },
            { op: "Mul", inputs: [hl, `${hl}c`], outputs: [`${hl}d`] },
            { op: "Mul", inputs: [gh, `${hl}d`], outputs: [prev] },
          );
          break;
        case "identity":
          nodes.push({ op: "Identity", inputs: [gh], outputs: [prev] });
          break;
      }
    }
    for (let l = 0; l < L; l++)
      outputs.push(
        { name: `GW${l}`, shape: [dims[l + 1]!, dims[l]!] },
        { name: `GB${l}`, shape: [dims[l + 1]!] },
      );
  }
  const inputs = [
    { name: "X", shape: ["N", dims[0]!] },
    ...(train
      ? [
          { name: "S", shape: ["N", loss === "softmax" ? 1 : C] },
          { name: "T", shape: ["N", C] },
        ]
      : []),
    ...dims.slice(1).flatMap((n, l) => [
      { name: `W${l}`, shape: [n, dims[l]!] },
      { name: `B${l}`, shape: [n] },
    ]),
  ];
  return {
    name: train ? "mlp_train_step" : "mlp_forward",
    inputs,
    outputs,
    initializers: train
      ? [
          { name: "axis0", dims: [1], data: BigInt64Array.of(0n) },
          // the constants the activation's derivative uses (an unused initializer draws an onnxruntime warning)
          ...(L > 1 && activation === "relu" ? [{ name: "zero", dims: [], data: Float32Array.of(0) }] : []),
          ...(L > 1 && (activation === "tanh" || activation === "logistic")
            ? [{ name: "one", dims: [], data: Float32Array.of(1) }]
            : []),
        ]
      : [],
    nodes,
  };
}

function session(graph: OnnxGraph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(graph), {
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
}

export class OrtMlpEngine extends MlpParameters implements MlpEngine {
  readonly name = "ort";
  private readonly params: Record<string, ort.Tensor> = {};
  private readonly s: Float32Array;
  private readonly tgt: Float32Array;
  private readonly sessions: Promise<[ort.InferenceSession, ort.InferenceSession]>;

  constructor(init: MlpEngineInit) {
    super(init);
    const { dims, maxBatch } = init;
    // the tensors wrap the parameter arrays, which Adam updates in place
    for (let l = 0; l < this.L; l++) {
      this.params[`W${l}`] = new ort.Tensor("float32", this.W[l]!, [dims[l + 1]!, dims[l]!]);
      this.params[`B${l}`] = new ort.Tensor("float32", this.b[l]!, [dims[l + 1]!]);
    }
    this.s = new Float32Array(this.lossKind === "softmax" ? maxBatch : maxBatch * dims[this.L]!);
    this.tgt = new Float32Array(maxBatch * dims[this.L]!);
    this.sessions = Promise.all([
      session(mlpStepGraph(dims, init.activation, false)),
      session(mlpStepGraph(dims, init.activation, true, this.lossKind)),
    ]);
    // a failed creation is reported by the first run; do not let it go unhandled meanwhile
    this.sessions.catch(() => undefined);
  }

  async run(batch: MlpBatch, z: Float32Array, train: boolean): Promise<number> {
    const { dims, L } = this;
    const { x, nb } = batch;
    const C = dims[L]!;
    const [forward, step] = await this.sessions;
    const feeds: Record<string, ort.Tensor> = {
      ...this.params,
      X: new ort.Tensor("float32", x.subarray(0, nb * dims[0]!), [nb, dims[0]!]),
    };
    if (train) {
      const sCols = this.lossKind === "softmax" ? 1 : C;
      if (this.lossKind === "softmax") this.softmaxWeights(batch, C);
      else this.qualityWeights(batch, C);
      feeds.S = new ort.Tensor("float32", this.s.subarray(0, nb * sCols), [nb, sCols]);
      feeds.T = new ort.Tensor("float32", this.tgt.subarray(0, nb * C), [nb, C]);
    }
    const out = await (train ? step : forward).run(feeds);
    z.set((out.Z!.data as Float32Array).subarray(0, nb * C));
    const loss =
      this.lossKind === "softmax"
        ? softmaxLoss(z, batch.y, batch.nb, C, this.cw)
        : this.qualityLossValue(batch, z, C);
    if (!train) return loss;
    this.adamStep(
      (l) => out[`GW${l}`]!.data as Float32Array,
      (l) => out[`GB${l}`]!.data as Float32Array,
    );
    return loss;
  }

  /** S_i = w_{y_i} / Σ w and T = one-hot · S (torch's weighted-mean cross-entropy). */
  private softmaxWeights(batch: MlpBatch, C: number): void {
    const { y, nb } = batch;
    const { cw, s, tgt } = this;
    let wSum = 0;
    for (let i = 0; i < nb; i++) wSum += cw[y[i]!]!;
    const denom = Math.max(wSum, 1e-12);
    tgt.fill(0, 0, nb * C);
    for (let i = 0; i < nb; i++) {
      s[i] = cw[y[i]!]! / denom;
      tgt[i * C + y[i]!] = s[i]!;
    }
  }

  /** S = observed / count and T = quality · S (0 where the quality is not observed). */
  private qualityWeights(batch: MlpBatch, C: number): void {
    const q = batch.quality;
    if (!q) throw new Error("mlp engine: the quality loss needs batch.quality");
    const { s, tgt } = this;
    const n = batch.nb * C;
    let count = 0;
    for (let i = 0; i < n; i++) if (!Number.isNaN(q[i]!)) count++;
    const denom = Math.max(count, 1);
    for (let i = 0; i < n; i++) {
      const observed = !Number.isNaN(q[i]!);
      s[i] = observed ? 1 / denom : 0;
      tgt[i] = observed ? q[i]! / denom : 0;
    }
  }

  /** The mean binary cross-entropy over the observed entries (its gradient came from the graph). */
  private qualityLossValue(batch: MlpBatch, z: Float32Array, C: number): number {
    const scratch = new Float32Array(batch.nb * C);
    return qualityLoss(z, batch, C, scratch);
  }

  dispose(): void {
    void this.sessions.then(([a, b]) => Promise.all([a.release(), b.release()])).catch(() => undefined);
  }
}
