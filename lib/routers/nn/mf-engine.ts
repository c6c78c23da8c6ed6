/**
 * MF training engine in plain TypeScript: forward, hand-written backward and torch's Adam (L2 `weight_decay`) for
 * the tiny bilinear model `z = classifier · ((P̂_win − P̂_lose) ⊙ text_proj · x)`, `P̂` = rows of `P` divided by
 * `max(‖P_m‖, 1e-12)` (F.normalize), loss = mean BCE-with-logits. Per step the cost is two `B x K x D` products
 * (the projection and its weight gradient): with a `Gemm` (native/gemm.ts, onnxruntime's sgemm) they run
 * natively, otherwise in scalar TypeScript loops (~50x slower); everything else (normalisation, pair logits,
 * backward, Adam) is TypeScript. tfjs-wasm spent most of its time in per-op dispatch for tensors this small.
 * `text_proj` is float32 (as torch); `P`, `classifier` and the optimiser moments are float64. Parity with torch is
 * checked to 1e-5 over a few Adam steps in tests/routers/mf.test.ts.
 */
import type { Gemm } from "../native/gemm";
import type { TrainingEngine } from "./common";
import { ntInto, tnInto } from "./matmul";

export interface MfBatch {
  /** nb x D embeddings (noise already added), row-major. */
  x: Float32Array;
  win: Int32Array;
  lose: Int32Array;
  target: Float32Array;
  nb: number;
}

/** Loss: the mean BCE; a train step adds the L2 weight decay. Tensors: [P, text_proj, classifier]. */
export type MfEngine = TrainingEngine<MfBatch>;

export interface MfEngineInit {
  numModels: number;
  latentDim: number;
  textDim: number;
  maxBatch: number;
  P: Float32Array;
  W: Float32Array;
  c: Float32Array;
  learningRate: number;
  weightDecay: number;
}

const EPS_NORM = 1e-12;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS_ADAM = 1e-8;

/** Stable `max(z,0) − z·t + log(1 + e^−|z|)`. */
function bce(z: number, t: number): number {
  return Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
}

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  constructor(
    private readonly p: Float64Array | Float32Array,
    private readonly lr: number,
    private readonly wd: number,
  ) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }

  /** torch.optim.Adam's (single-tensor) update with `grad += wd · θ`; `t` is the 1-based step. */
  step(g: Float64Array | Float32Array, t: number): void {
    const { p, m, v, wd } = this;
    const bc1 = 1 - BETA1 ** t;
    const bc2Sqrt = Math.sqrt(1 - BETA2 ** t);
    const stepSize = this.lr / bc1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + wd * p[i]!;
      const mi = m[i]! + (1 - BETA1) * (gi - m[i]!);
      const vi = v[i]! * BETA2 + (1 - BETA2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + EPS_ADAM);
    }
  }
}

export class JsMfEngine implements MfEngine {
  readonly name: string;
  private readonly M: number;
  private readonly K: number;
  private readonly D: number;
  private readonly P: Float64Array;
  private readonly W: Float32Array;
  private readonly c: Float64Array;
  private readonly opt: Adam[];
  private t = 0;
  // scratch
  private readonly Pn: Float64Array;
  private readonly norms: Float64Array;
  private readonly rawNorms: Float64Array;
  private proj: Float32Array;
  private readonly gProj: Float32Array;
  private readonly gz: Float64Array;
  private readonly gPn: Float64Array;
  private readonly gP: Float64Array;
  private gW: Float32Array;
  private readonly gc: Float64Array;

  constructor(
    init: MfEngineInit,
    private readonly gemm?: Gemm,
  ) {
    this.name = gemm ? "ort" : "js";
    const { numModels: M, latentDim: K, textDim: D, maxBatch: B } = init;
    this.M = M;
    this.K = K;
    this.D = D;
    this.P = Float64Array.from(init.P);
    this.W = Float32Array.from(init.W);
    this.c = Float64Array.from(init.c);
    this.opt = [this.P, this.W, this.c].map((p) => new Adam(p, init.learningRate, init.weightDecay));
    this.Pn = new Float64Array(M * K);
    this.norms = new Float64Array(M);
    this.rawNorms = new Float64Array(M);
    this.proj = new Float32Array(B * K);
    this.gProj = new Float32Array(B * K);
    this.gz = new Float64Array(B);
    this.gPn = new Float64Array(M * K);
    this.gP = new Float64Array(M * K);
    this.gW = new Float32Array(K * D);
    this.gc = new Float64Array(K);
  }

  private normalise(): void {
    const { P, Pn, K } = this;
    for (let m = 0; m < this.M; m++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += P[m * K + k]! * P[m * K + k]!;
      const raw = Math.sqrt(s);
      const n = Math.max(raw, EPS_NORM);
      this.rawNorms[m] = raw;
      this.norms[m] = n;
      for (let k = 0; k < K; k++) Pn[m * K + k] = P[m * K + k]! / n;
    }
  }

  async run(b: MfBatch, z: Float32Array, train: boolean): Promise<number> {
    const { K, D, Pn, c } = this;
    const { x, win, lose, target, nb } = b;
    this.normalise();
    if (this.gemm) this.proj = await this.gemm.nt(x, nb, D, this.W, K);
    else ntInto(x, nb, D, this.W, K, this.proj);
    const proj = this.proj;
    let loss = 0;
    for (let i = 0; i < nb; i++) {
      const wo = win[i]! * K;
      const lo = lose[i]! * K;
      const po = i * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += c[k]! * (Pn[wo + k]! - Pn[lo + k]!) * proj[po + k]!;
      z[i] = s;
      loss += bce(s, target[i]!);
      this.gz[i] = (1 / (1 + Math.exp(-s)) - target[i]!) / nb;
    }
    loss /= nb;
    if (!train) return loss;

    const { gz, gProj, gPn, gP, gc } = this;
    gPn.fill(0);
    gc.fill(0);
    for (let i = 0; i < nb; i++) {
      const g = gz[i]!;
      const wo = win[i]! * K;
      const lo = lose[i]! * K;
      const po = i * K;
      for (let k = 0; k < K; k++) {
        const diff = Pn[wo + k]! - Pn[lo + k]!;
        const p = proj[po + k]!;
        gc[k] = gc[k]! + g * diff * p;
        const gd = g * c[k]! * p;
        gPn[wo + k] = gPn[wo + k]! + gd;
        gPn[lo + k] = gPn[lo + k]! - gd;
        gProj[po + k] = g * c[k]! * diff;
      }
    }
    // gW[k, :] = Σ_i gProj[i, k] · x[i, :]
    if (this.gemm) this.gW = await this.gemm.tn(gProj, nb, K, x, D);
    else tnInto(this.gProj, nb, K, x, D, this.gW);
    const gW = this.gW;
    // through F.normalize: (g − P̂ (P̂·g)) / ‖P‖ above eps, g / eps below (clamp_min passes no gradient)
    for (let m = 0; m < this.M; m++) {
      const o = m * K;
      const n = this.norms[m]!;
      if (this.rawNorms[m]! > EPS_NORM) {
        let dot = 0;
        for (let k = 0; k < K; k++) dot += Pn[o + k]! * gPn[o + k]!;
        for (let k = 0; k < K; k++) gP[o + k] = (gPn[o + k]! - Pn[o + k]! * dot) / n;
      } else {
        for (let k = 0; k < K; k++) gP[o + k] = gPn[o + k]! / n;
      }
    }
    this.t++;
    this.opt[0]!.step(gP, this.t);
    this.opt[1]!.step(gW, this.t);
    this.opt[2]!.step(gc, this.t);
    return loss;
  }

  snapshot(): Float32Array[] {
    return [Float32Array.from(this.P), Float32Array.from(this.W), Float32Array.from(this.c)];
  }

  dispose(): void {
    // nothing held outside the JS heap
  }
}
