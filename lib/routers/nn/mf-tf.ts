/** The MF training engine on TensorFlow.js (the original engine; `engine: tfjs`). See mf-engine.ts for the maths. */
import type { MfBatch, MfEngine, MfEngineInit } from "./mf-engine";
import { tf, TfEngine } from "./tf";

export class TfMfEngine extends TfEngine implements MfEngine {
  private readonly P: tf.Variable;
  private readonly W: tf.Variable;
  private readonly c: tf.Variable;
  private readonly M: number;
  private readonly D: number;
  private readonly wd: number;

  constructor(init: MfEngineInit, backend: string) {
    super(backend, init.learningRate);
    const { numModels: M, latentDim: K, textDim: D } = init;
    this.M = M;
    this.D = D;
    this.wd = init.weightDecay;
    this.P = tf.variable(tf.tensor2d(init.P, [M, K]));
    this.W = tf.variable(tf.tensor2d(init.W, [K, D]));
    this.c = tf.variable(tf.tensor2d(init.c, [1, K]));
  }

  protected variables(): tf.Variable[] {
    return [this.P, this.W, this.c];
  }

  private logitsOf(x: tf.Tensor2D, win: tf.Tensor1D, lose: tf.Tensor1D): tf.Tensor1D {
    const norm = tf.maximum(tf.norm(this.P, "euclidean", 1, true), 1e-12);
    const Pn = tf.div(this.P, norm);
    // (onehot(win) − onehot(lose)) · P̂ instead of gather: wasm has no UnsortedSegmentSum for gather's gradient.
    // (tfjs-wasm 4.22 returns zeros for oneHot(..., "float32"): build int32 and cast.)
    const sel = tf.cast(tf.sub(tf.oneHot(win, this.M), tf.oneHot(lose, this.M)), "float32");
    const diff = tf.matMul(sel, Pn);
    const proj = tf.matMul(x, this.W, false, true);
    return tf.sum(tf.mul(tf.mul(diff, proj), this.c), 1);
  }

  run(b: MfBatch, z: Float32Array, train: boolean): number {
    const { nb } = b;
    let loss = 0;
    tf.tidy(() => {
      const x = tf.tensor2d(b.x.subarray(0, nb * this.D), [nb, this.D]);
      const win = tf.tensor1d(b.win.subarray(0, nb), "int32");
      const lose = tf.tensor1d(b.lose.subarray(0, nb), "int32");
      const t = tf.tensor1d(b.target.subarray(0, nb));
      const lossOf = (): tf.Scalar => {
        const zt = this.logitsOf(x, win, lose);
        z.set(zt.dataSync());
        // mean binary cross-entropy with logits, numerically stable form
        const bce = tf.mean(tf.add(tf.sub(tf.relu(zt), tf.mul(zt, t)), tf.log1p(tf.exp(tf.neg(tf.abs(zt))))));
        loss = bce.dataSync()[0]!;
        if (!train || this.wd === 0) return bce as tf.Scalar;
        const l2 = tf.addN([tf.sum(tf.square(this.P)), tf.sum(tf.square(this.W)), tf.sum(tf.square(this.c))]);
        return tf.add(bce, tf.mul(l2, 0.5 * this.wd));
      };
      if (!train) {
        lossOf();
        return;
      }
      this.step(lossOf);
    });
    return loss;
  }
}
