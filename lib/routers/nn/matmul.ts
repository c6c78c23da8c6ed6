/**
 * The row-major float32 products the TypeScript training engines (mlp-engine.ts, mf-engine.ts without a native
 * gemm) run, in scalar loops. Each output element sums its terms in increasing inner index, whatever the loop
 * order, so a product's result does not depend on which engine asks for it.
 */
/** Y[m, n] = A[m, k] · B[n, k]^T (+ bias[n]), row-major, four accumulators. */
export function ntInto(
  a: Float32Array,
  m: number,
  k: number,
  b: Float32Array,
  n: number,
  out: Float32Array,
  bias?: Float32Array,
): void {
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ao = i * k;
    for (let j = 0; j < n; j++) {
      const bo = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let d = 0;
      for (; d < k4; d += 4) {
        s0 += a[ao + d]! * b[bo + d]!;
        s1 += a[ao + d + 1]! * b[bo + d + 1]!;
        s2 += a[ao + d + 2]! * b[bo + d + 2]!;
        s3 += a[ao + d + 3]! * b[bo + d + 3]!;
      }
      for (; d < k; d++) s0 += a[ao + d]! * b[bo + d]!;
      out[i * n + j] = s0 + s1 + s2 + s3 + (bias ? bias[j]! : 0);
    }
  }
}

/** Y[m, n] = A[k, m]^T · B[k, n]: Y[r, :] = Σ_i A[i, r] · B[i, :]. */
export function tnInto(
  a: Float32Array,
  k: number,
  m: number,
  b: Float32Array,
  n: number,
  out: Float32Array,
): void {
  rowCombinationsInto(a, 1, m, m, k, b, n, out);
}

/** Y[m, n] = A[m, k] · B[k, n]. */
export function nnInto(
  a: Float32Array,
  m: number,
  k: number,
  b: Float32Array,
  n: number,
  out: Float32Array,
): void {
  rowCombinationsInto(a, k, 1, m, k, b, n, out);
}

/**
 * out[r, :] = Σ_t A(r, t) · B[t, :] for t = 0..k-1 in order, with A(r, t) = a[r·rowStride + t·colStride]
 * (zero terms skipped): the two products above, A read row-major or transposed.
 */
function rowCombinationsInto(
  a: Float32Array,
  rowStride: number,
  colStride: number,
  m: number,
  k: number,
  b: Float32Array,
  n: number,
  out: Float32Array,
): void {
  out.fill(0, 0, m * n);
  for (let r = 0; r < m; r++) {
    const oo = r * n;
    for (let t = 0; t < k; t++) {
      const g = a[r * rowStride + t * colStride]!;
      if (g === 0) continue;
      const bo = t * n;
      for (let c = 0; c < n; c++) out[oo + c] = out[oo + c]! + g * b[bo + c]!;
    }
  }
}
