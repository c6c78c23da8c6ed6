/**
 * A faithful TypeScript port of the C-SVC part of libsvm as shipped in scikit-learn 1.8
 * (`sklearn/svm/src/libsvm/svm.cpp`): the SMO `Solver` with the WSS3 second-order working-set
 * selection, shrinking (every min(l, 1000) iterations, with the one-time unshrink and gradient
 * reconstruction), kernel values cached as float32 (`Qfloat`) with the diagonal in float64,
 * `calculate_rho`, one-vs-one training over classes sorted ascending, and libsvm's decision values
 * and voting. Kernel evaluations are float64 dot products (sklearn feeds SVC float64 data).
 */
import { gramBlock } from "./native/gram";

export type KernelSpec = { type: "rbf"; gamma: number } | { type: "linear" };

const TAU = 1e-12;
const LOWER = 0;
const UPPER = 1;
const FREE = 2;

/** Row-major float64 view of the points of one subproblem plus lazily computed float32 kernel rows. */
export class KernelRows {
  private readonly rows: (Float32Array | undefined)[];
  readonly diag: Float64Array;
  private readonly sq: Float64Array;

  constructor(
    private readonly x: Float64Array,
    private readonly l: number,
    private readonly dim: number,
    private readonly kernel: KernelSpec,
    full?: Float32Array,
  ) {
    this.rows = new Array<Float32Array | undefined>(l);
    if (full) for (let a = 0; a < l; a++) this.rows[a] = full.subarray(a * l, (a + 1) * l);
    this.sq = new Float64Array(l);
    for (let i = 0; i < l; i++) this.sq[i] = this.dot(i, i);
    this.diag = new Float64Array(l);
    for (let i = 0; i < l; i++) this.diag[i] = this.k(i, i);
  }

  private dot(a: number, b: number): number {
    const x = this.x;
    const oa = a * this.dim;
    const ob = b * this.dim;
    let s = 0;
    for (let d = 0; d < this.dim; d++) s += x[oa + d]! * x[ob + d]!;
    return s;
  }

  /** Kernel value from a precomputed dot product (same formula as k). */
  fromDot(a: number, b: number, dot: number): number {
    if (this.kernel.type === "linear") return dot;
    return Math.exp(-this.kernel.gamma * (this.sq[a]! + this.sq[b]! - 2 * dot));
  }

  k(a: number, b: number): number {
    if (this.kernel.type === "linear") return this.dot(a, b);
    return Math.exp(-this.kernel.gamma * (this.sq[a]! + this.sq[b]! - 2 * this.dot(a, b)));
  }

  /** Kernel row of original point a over all original points, rounded to float32 (symmetric fill). */
  row(a: number): Float32Array {
    let r = this.rows[a];
    if (r) return r;
    r = new Float32Array(this.l);
    for (let b = 0; b < this.l; b++) {
      const other = this.rows[b];
      r[b] = other ? other[a]! : this.k(a, b);
    }
    this.rows[a] = r;
    return r;
  }
}

/** Solves one binary C-SVC subproblem; returns alpha * y (libsvm's sv_coef before filtering) and rho. */
export function solveCSvc(
  K: KernelRows,
  yLabels: Int8Array,
  Cp: number,
  Cn: number,
  eps: number,
  shrinking: boolean,
  maxIter = -1,
): { coef: Float64Array; rho: number; iterations: number } {
  const l = yLabels.length;
  const y = Int8Array.from(yLabels);
  const p = new Float64Array(l).fill(-1);
  const alpha = new Float64Array(l);
  const C = new Float64Array(l);
  for (let i = 0; i < l; i++) C[i] = y[i]! > 0 ? Cp : Cn;
  const status = new Uint8Array(l);
  const updateStatus = (i: number): void => {
    status[i] = alpha[i]! >= C[i]! ? UPPER : alpha[i]! <= 0 ? LOWER : FREE;
  };
  for (let i = 0; i < l; i++) updateStatus(i);
  // active_set[i] = original index of the variable at position i (libsvm swaps positions when shrinking)
  const orig = new Int32Array(l);
  for (let i = 0; i < l; i++) orig[i] = i;
  const QD = new Float64Array(l);
  for (let i = 0; i < l; i++) QD[i] = K.diag[i]!;
  let activeSize = l;
  let unshrink = false;
  const G = new Float64Array(l);
  const Gbar = new Float64Array(l);

  /** Q_i[k] for positions k: y_i y_k K(orig i, orig k), with K in float32. */
  const qRow = (i: number): { r: Float32Array; yi: number } => ({ r: K.row(orig[i]!), yi: y[i]! });
  const q = (row: { r: Float32Array; yi: number }, k: number): number => {
    const v = row.r[orig[k]!]!;
    return row.yi === y[k]! ? v : -v;
  };

  for (let i = 0; i < l; i++) {
    G[i] = p[i]!;
    Gbar[i] = 0;
  }
  for (let i = 0; i < l; i++) {
    if (status[i] !== LOWER) {
      const Qi = qRow(i);
      const ai = alpha[i]!;
      for (let j = 0; j < l; j++) G[j]! += ai * q(Qi, j);
      if (status[i] === UPPER) for (let j = 0; j < l; j++) Gbar[j]! += C[i]! * q(Qi, j);
    }
  }

  const swap = (i: number, j: number): void => {
    const s8 = (a: Int8Array | Uint8Array): void => {
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    };
    const s64 = (a: Float64Array): void => {
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    };
    s8(y);
    s8(status);
    s64(G);
    s64(alpha);
    s64(p);
    s64(Gbar);
    s64(C);
    s64(QD);
    const t = orig[i]!;
    orig[i] = orig[j]!;
    orig[j] = t;
  };

  const reconstructGradient = (): void => {
    if (activeSize === l) return;
    let nrFree = 0;
    for (let j = activeSize; j < l; j++) G[j] = Gbar[j]! + p[j]!;
    for (let j = 0; j < activeSize; j++) if (status[j] === FREE) nrFree++;
    if (nrFree * l > 2 * activeSize * (l - activeSize)) {
      for (let i = activeSize; i < l; i++) {
        const Qi = qRow(i);
        for (let j = 0; j < activeSize; j++) if (status[j] === FREE) G[i]! += alpha[j]! * q(Qi, j);
      }
    } else {
      for (let i = 0; i < activeSize; i++) {
        if (status[i] === FREE) {
          const Qi = qRow(i);
          const ai = alpha[i]!;
          for (let j = activeSize; j < l; j++) G[j]! += ai * q(Qi, j);
        }
      }
    }
  };

  const beShrunk = (i: number, Gmax1: number, Gmax2: number): boolean => {
    if (status[i] === UPPER) return y[i] === 1 ? -G[i]! > Gmax1 : -G[i]! > Gmax2;
    if (status[i] === LOWER) return y[i] === 1 ? G[i]! > Gmax2 : G[i]! > Gmax1;
    return false;
  };

  const doShrinking = (): void => {
    let Gmax1 = -Infinity;
    let Gmax2 = -Infinity;
    for (let i = 0; i < activeSize; i++) {
      if (y[i] === 1) {
        if (status[i] !== UPPER && -G[i]! >= Gmax1) Gmax1 = -G[i]!;
        if (status[i] !== LOWER && G[i]! >= Gmax2) Gmax2 = G[i]!;
      } else {
        if (status[i] !== UPPER && -G[i]! >= Gmax2) Gmax2 = -G[i]!;
        if (status[i] !== LOWER && G[i]! >= Gmax1) Gmax1 = G[i]!;
      }
    }
    if (!unshrink && Gmax1 + Gmax2 <= eps * 10) {
      unshrink = true;
      reconstructGradient();
      activeSize = l;
    }
    for (let i = 0; i < activeSize; i++) {
      if (beShrunk(i, Gmax1, Gmax2)) {
        activeSize--;
        while (activeSize > i) {
          if (!beShrunk(activeSize, Gmax1, Gmax2)) {
            swap(i, activeSize);
            break;
          }
          activeSize--;
        }
      }
    }
  };

  let outI = -1;
  let outJ = -1;
  const selectWorkingSet = (): boolean => {
    let Gmax = -Infinity;
    let Gmax2 = -Infinity;
    let GmaxIdx = -1;
    let GminIdx = -1;
    let objDiffMin = Infinity;
    for (let t = 0; t < activeSize; t++) {
      if (y[t] === 1) {
        if (status[t] !== UPPER && -G[t]! >= Gmax) {
          Gmax = -G[t]!;
          GmaxIdx = t;
        }
      } else if (status[t] !== LOWER && G[t]! >= Gmax) {
        Gmax = G[t]!;
        GmaxIdx = t;
      }
    }
    const i = GmaxIdx;
    const ri = i !== -1 ? K.row(orig[i]!) : new Float32Array(0);
    const yi = i !== -1 ? y[i]! : 1;
    const QDi = i !== -1 ? QD[i]! : 0;
    for (let j = 0; j < activeSize; j++) {
      if (y[j] === 1) {
        if (status[j] !== LOWER) {
          const gradDiff = Gmax + G[j]!;
          if (G[j]! >= Gmax2) Gmax2 = G[j]!;
          if (gradDiff > 0) {
            const v = ri[orig[j]!]!;
            const quad = QDi + QD[j]! - 2.0 * yi * (yi === 1 ? v : -v);
            const objDiff = quad > 0 ? -(gradDiff * gradDiff) / quad : -(gradDiff * gradDiff) / TAU;
            if (objDiff <= objDiffMin) {
              GminIdx = j;
              objDiffMin = objDiff;
            }
          }
        }
      } else if (status[j] !== UPPER) {
        const gradDiff = Gmax - G[j]!;
        if (-G[j]! >= Gmax2) Gmax2 = -G[j]!;
        if (gradDiff > 0) {
          const v = ri[orig[j]!]!;
          const quad = QDi + QD[j]! + 2.0 * yi * (yi === -1 ? v : -v);
          const objDiff = quad > 0 ? -(gradDiff * gradDiff) / quad : -(gradDiff * gradDiff) / TAU;
          if (objDiff <= objDiffMin) {
            GminIdx = j;
            objDiffMin = objDiff;
          }
        }
      }
    }
    if (Gmax + Gmax2 < eps || GminIdx === -1) return true;
    outI = GmaxIdx;
    outJ = GminIdx;
    return false;
  };

  let iter = 0;
  let counter = Math.min(l, 1000) + 1;
  for (;;) {
    if (maxIter > 0 && iter >= maxIter) break;
    if (--counter === 0) {
      counter = Math.min(l, 1000);
      if (shrinking) doShrinking();
    }
    if (selectWorkingSet()) {
      reconstructGradient();
      activeSize = l;
      if (selectWorkingSet()) break;
      counter = 1;
    }
    iter++;
    const i = outI;
    const j = outJ;
    const Qi = qRow(i);
    const Qj = qRow(j);
    const Ci = C[i]!;
    const Cj = C[j]!;
    const oldAi = alpha[i]!;
    const oldAj = alpha[j]!;
    if (y[i] !== y[j]) {
      let quad = QD[i]! + QD[j]! + 2 * q(Qi, j);
      if (quad <= 0) quad = TAU;
      const delta = (-G[i]! - G[j]!) / quad;
      const diff = alpha[i]! - alpha[j]!;
      alpha[i] = alpha[i]! + delta;
      alpha[j] = alpha[j]! + delta;
      if (diff > 0) {
        if (alpha[j]! < 0) {
          alpha[j] = 0;
          alpha[i] = diff;
        }
      } else if (alpha[i]! < 0) {
        alpha[i] = 0;
        alpha[j] = -diff;
      }
      if (diff > Ci - Cj) {
        if (alpha[i]! > Ci) {
          alpha[i] = Ci;
          alpha[j] = Ci - diff;
        }
      } else if (alpha[j]! > Cj) {
        alpha[j] = Cj;
        alpha[i] = Cj + diff;
      }
    } else {
      let quad = QD[i]! + QD[j]! - 2 * q(Qi, j);
      if (quad <= 0) quad = TAU;
      const delta = (G[i]! - G[j]!) / quad;
      const sum = alpha[i]! + alpha[j]!;
      alpha[i] = alpha[i]! - delta;
      alpha[j] = alpha[j]! + delta;
      if (sum > Ci) {
        if (alpha[i]! > Ci) {
          alpha[i] = Ci;
          alpha[j] = sum - Ci;
        }
      } else if (alpha[j]! < 0) {
        alpha[j] = 0;
        alpha[i] = sum;
      }
      if (sum > Cj) {
        if (alpha[j]! > Cj) {
          alpha[j] = Cj;
          alpha[i] = sum - Cj;
        }
      } else if (alpha[i]! < 0) {
        alpha[i] = 0;
        alpha[j] = sum;
      }
    }
    const dAi = alpha[i]! - oldAi;
    const dAj = alpha[j]! - oldAj;
    {
      const ri = Qi.r;
      const rj = Qj.r;
      const yi = Qi.yi;
      const yj = Qj.yi;
      for (let k = 0; k < activeSize; k++) {
        const o = orig[k]!;
        const yk = y[k]!;
        const qik = yi === yk ? ri[o]! : -ri[o]!;
        const qjk = yj === yk ? rj[o]! : -rj[o]!;
        G[k]! += qik * dAi + qjk * dAj;
      }
    }
    const ui = status[i] === UPPER;
    const uj = status[j] === UPPER;
    updateStatus(i);
    updateStatus(j);
    if (ui !== (status[i] === UPPER)) {
      if (ui) for (let k = 0; k < l; k++) Gbar[k]! -= Ci * q(Qi, k);
      else for (let k = 0; k < l; k++) Gbar[k]! += Ci * q(Qi, k);
    }
    if (uj !== (status[j] === UPPER)) {
      if (uj) for (let k = 0; k < l; k++) Gbar[k]! -= Cj * q(Qj, k);
      else for (let k = 0; k < l; k++) Gbar[k]! += Cj * q(Qj, k);
    }
  }

  // calculate_rho
  let nrFree = 0;
  let ub = Infinity;
  let lb = -Infinity;
  let sumFree = 0;
  for (let i = 0; i < activeSize; i++) {
    const yG = y[i]! * G[i]!;
    if (status[i] === UPPER) {
      if (y[i] === -1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else if (status[i] === LOWER) {
      if (y[i] === 1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else {
      nrFree++;
      sumFree += yG;
    }
  }
  const rho = nrFree > 0 ? sumFree / nrFree : (ub + lb) / 2;
  const coef = new Float64Array(l);
  for (let i = 0; i < l; i++) coef[orig[i]!] = alpha[i]! * y[i]!;
  return { coef, rho, iterations: iter };
}

/** Largest subproblem whose full float32 kernel matrix is precomputed (l^2 * 4 bytes, 400 MB at 10,000). */
export const PRECOMPUTE_MAX_ROWS = 10_000;

/**
 * The full l x l kernel matrix in float32 (libsvm's Qfloat values, without the label signs), with
 * the dot products from onnxruntime's float64 Gemm; undefined above PRECOMPUTE_MAX_ROWS (rows are
 * then computed lazily in TypeScript).
 */
async function precomputeKernel(
  x: Float64Array,
  l: number,
  dim: number,
  kernel: KernelSpec,
): Promise<Float32Array | undefined> {
  if (l > PRECOMPUTE_MAX_ROWS) return undefined;
  const probe = new KernelRows(x, l, dim, kernel);
  const full = new Float32Array(l * l);
  const block = 256;
  for (let start = 0; start < l; start += block) {
    const rows = Math.min(block, l - start);
    const S = await gramBlock(x, l, dim, start, rows);
    for (let r = 0; r < rows; r++) {
      const a = start + r;
      for (let b = 0; b < l; b++) full[a * l + b] = probe.fromDot(a, b, S[r * l + b]!);
    }
  }
  // exact symmetry, as libsvm's kernel is symmetric
  for (let a = 0; a < l; a++) for (let b = 0; b < a; b++) full[b * l + a] = full[a * l + b]!;
  return full;
}

/** A fitted libsvm C-SVC model (one-vs-one over `nClass` sorted classes). */
export interface SvcModel {
  readonly nClass: number;
  /** Class label (task model index) of each libsvm class, ascending. */
  readonly labels: number[];
  readonly dim: number;
  readonly kernel: KernelSpec;
  /** Support vectors grouped by class, row-major float32 (the training inputs, exact). */
  readonly sv: Float32Array;
  /** Number of support vectors per class. */
  readonly nSV: number[];
  /** libsvm sv_coef: (nClass - 1) x totalSV, row-major float64. */
  readonly svCoef: Float64Array;
  /** One rho per class pair (i < j), in libsvm order. */
  readonly rho: Float64Array;
}

export interface SvcParams {
  C: number;
  kernel: KernelSpec;
  tol: number;
  shrinking: boolean;
  maxIter: number;
}

/** svm_train for C-SVC: classes sorted ascending, one-vs-one, support vectors = nonzero coefficients. */
export async function trainSvc(
  X: Float32Array,
  n: number,
  dim: number,
  y: Int32Array,
  params: SvcParams,
): Promise<SvcModel> {
  const labels = [...new Set(y)].sort((a, b) => a - b);
  const nClass = labels.length;
  const members = labels.map((c) => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (y[i] === c) idx.push(i);
    return idx;
  });
  const nonzero = new Uint8Array(n);
  const pairCoef: { i: number; j: number; coef: Float64Array; rho: number }[] = [];
  for (let i = 0; i < nClass; i++) {
    for (let j = i + 1; j < nClass; j++) {
      const idx = members[i]!.concat(members[j]!);
      const l = idx.length;
      const x = new Float64Array(l * dim);
      idx.forEach((p, r) => {
        for (let d = 0; d < dim; d++) x[r * dim + d] = X[p * dim + d]!;
      });
      const yy = new Int8Array(l);
      for (let r = 0; r < l; r++) yy[r] = r < members[i]!.length ? 1 : -1;
      const K = new KernelRows(x, l, dim, params.kernel, await precomputeKernel(x, l, dim, params.kernel));
      const sol = solveCSvc(K, yy, params.C, params.C, params.tol, params.shrinking, params.maxIter);
      sol.coef.forEach((c, r) => {
        if (Math.abs(c) > 0) nonzero[idx[r]!] = 1;
      });
      pairCoef.push({ i, j, coef: sol.coef, rho: sol.rho });
    }
  }
  // Support vectors in class-grouped order; index map from training row to SV position.
  const svIndex = new Int32Array(n).fill(-1);
  const nSV: number[] = [];
  const svRows: number[] = [];
  for (let c = 0; c < nClass; c++) {
    let count = 0;
    for (const p of members[c]!) {
      if (nonzero[p]) {
        svIndex[p] = svRows.length;
        svRows.push(p);
        count++;
      }
    }
    nSV.push(count);
  }
  const total = svRows.length;
  const svCoef = new Float64Array(Math.max(1, nClass - 1) * total);
  const rho = new Float64Array(pairCoef.length);
  pairCoef.forEach(({ i, j, coef, rho: r }, pIdx) => {
    rho[pIdx] = r;
    const ni = members[i]!.length;
    // libsvm: sv_coef[j-1][q] for class i's SVs, sv_coef[i][q] for class j's SVs
    members[i]!.forEach((p, k) => {
      if (nonzero[p]) svCoef[(j - 1) * total + svIndex[p]!] = coef[k]!;
    });
    members[j]!.forEach((p, k) => {
      if (nonzero[p]) svCoef[i * total + svIndex[p]!] = coef[ni + k]!;
    });
  });
  const sv = new Float32Array(total * dim);
  svRows.forEach((p, r) => sv.set(X.subarray(p * dim, (p + 1) * dim), r * dim));
  return { nClass, labels, dim, kernel: params.kernel, sv, nSV, svCoef, rho };
}

/**
 * libsvm svm_predict_values: one-vs-one decision values (n x nPairs, libsvm sign: > 0 favours the
 * lower class) and the voted class label per row (ties: the lower class).
 */
export function svcDecision(
  model: SvcModel,
  X: Float32Array,
  n: number,
): { dec: Float64Array; pred: Int32Array } {
  const { nClass, dim, sv, nSV, svCoef, rho, kernel } = model;
  const total = sv.length / dim;
  const nPairs = (nClass * (nClass - 1)) / 2;
  const dec = new Float64Array(n * nPairs);
  const pred = new Int32Array(n);
  const start = new Int32Array(nClass);
  for (let c = 1; c < nClass; c++) start[c] = start[c - 1]! + nSV[c - 1]!;
  const svSq = new Float64Array(total);
  for (let s = 0; s < total; s++) {
    let a = 0;
    for (let d = 0; d < dim; d++) a += sv[s * dim + d]! * sv[s * dim + d]!;
    svSq[s] = a;
  }
  const kv = new Float64Array(total);
  const vote = new Int32Array(nClass);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let xsq = 0;
    for (let d = 0; d < dim; d++) xsq += X[o + d]! * X[o + d]!;
    for (let s = 0; s < total; s++) {
      let dot = 0;
      const so = s * dim;
      for (let d = 0; d < dim; d++) dot += X[o + d]! * sv[so + d]!;
      kv[s] = kernel.type === "linear" ? dot : Math.exp(-kernel.gamma * (xsq + svSq[s]! - 2 * dot));
    }
    vote.fill(0);
    let p = 0;
    for (let i = 0; i < nClass; i++) {
      for (let j = i + 1; j < nClass; j++) {
        let sum = 0;
        const si = start[i]!;
        const sj = start[j]!;
        for (let k = 0; k < nSV[i]!; k++) sum += svCoef[(j - 1) * total + si + k]! * kv[si + k]!;
        for (let k = 0; k < nSV[j]!; k++) sum += svCoef[i * total + sj + k]! * kv[sj + k]!;
        sum -= rho[p]!;
        dec[r * nPairs + p] = sum;
        if (sum > 0) vote[i]!++;
        else vote[j]!++;
        p++;
      }
    }
    let best = 0;
    for (let c = 1; c < nClass; c++) if (vote[c]! > vote[best]!) best = c;
    pred[r] = model.labels[best]!;
  }
  return { dec, pred };
}
