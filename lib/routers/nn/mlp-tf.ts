/** The MLP training engine on TensorFlow.js (the original engine; `engine: tfjs`). See mlp-engine.ts for the maths. */
import type { Activation } from "./gateway";
import type { MlpBatch, MlpEngine, MlpEngineInit } from "./mlp-engine";
import { tf, TfEngine } from "./tf";

export class TfMlpEngine extends TfEngine implements MlpEngine {
  private readonly Ws: tf.Variable[];
  private readonly bs: tf.Variable[];
  private readonly cw: tf.Tensor1D;
  private readonly D: number;
  private readonly C: number;
  private readonly act: Activation;

  constructor(init: MlpEngineInit, backend: string) {
    super(backend, init.learningRate);
    const { dims } = init;
    this.D = dims[0]!;
    this.C = dims[dims.length - 1]!;
    this.act = init.activation;
    this.Ws = init.weights.map((w, l) => tf.variable(tf.tensor2d(w, [dims[l + 1]!, dims[l]!])));
    this.bs = init.biases.map((b) => tf.variable(tf.tensor1d(b)));
    this.cw = tf.tensor1d(init.classWeights);
  }

  protected variables(): tf.Variable[] {
    return [...this.Ws, ...this.bs];
  }

  private activate(t: tf.Tensor2D): tf.Tensor2D {
    switch (this.act) {
      case "relu":
        return tf.relu(t);
      case "tanh":
        return tf.tanh(t);
      case "logistic":
        return tf.sigmoid(t);
      case "identity":
        return t;
    }
  }

  private forward(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    for (let i = 0; i < this.Ws.length; i++) {
      h = tf.add(tf.matMul(h, this.Ws[i]!, false, true), this.bs[i]!);
      if (i < this.Ws.length - 1) h = this.activate(h);
    }
    return h;
  }

  /** Weighted mean softmax cross-entropy, torch CrossEntropyLoss(weight=...) semantics: Σ w_y ce / Σ w_y. */
  private lossOf(z: tf.Tensor2D, yb: tf.Tensor1D): tf.Scalar {
    const logp = tf.logSoftmax(z);
    const oneHot = tf.oneHot(yb, this.C);
    const ce = tf.neg(tf.sum(tf.mul(oneHot, logp), 1));
    const w = tf.gather(this.cw, yb);
    return tf.div(tf.sum(tf.mul(ce, w)), tf.maximum(tf.sum(w), 1e-12));
  }

  run(b: MlpBatch, z: Float32Array, train: boolean): number {
    const { nb } = b;
    return tf.tidy(() => {
      const xt = tf.tensor2d(b.x.subarray(0, nb * this.D), [nb, this.D]);
      const yt = tf.tensor1d(b.y.subarray(0, nb), "int32");
      const lossOf = (): tf.Scalar => {
        const zt = this.forward(xt);
        z.set(zt.dataSync());
        return this.lossOf(zt, yt);
      };
      if (!train) return lossOf().dataSync()[0]!;
      return this.step(lossOf).dataSync()[0]!;
    });
  }

  override dispose(): void {
    this.cw.dispose();
    super.dispose();
  }
}
