import { RouterlabError } from "../util/errors";
import { createRng, shuffled } from "../util/random";
import { requireTensor } from "./common";
import { DotsKernel } from "./native/dots-wasm";
import { matrixTensor, topkInnerProduct } from "./native/topk";
import type { RouterState } from "./types";

/**
 * Approximate nearest neighbours for unit vectors: an inverted-file index (IVF). Centroids come from
 * seeded spherical k-means on a sample (assignment by onnxruntime sgemm+TopK); each stored point
 * belongs to its nearest centroid's list. A query scans the `nprobe` lists whose centroids are
 * closest. Distances and tie order are the exact path's (float32 1 - cos, then lower index).
 *
 * Single queries are latency-bound: when the dimension is a multiple of 16 the packed vectors and centroids live
 * in a WebAssembly SIMD kernel's memory (native/dots-wasm.ts, f32x4 dot products, ~20x a scalar JS loop), and the
 * lists are contiguous there; otherwise a scalar float64-accumulated loop is used.
 */
export interface IvfIndex {
  readonly nlist: number;
  readonly dim: number;
  readonly centroids: Float32Array;
  /** Point indices grouped by list; list l is order[offsets[l] .. offsets[l+1]). */
  readonly order: Int32Array;
  readonly offsets: Int32Array;
  /** The stored vectors in `order` (contiguous per list), rebuilt on load (in the kernel's memory when there is one). */
  readonly packed: Float32Array;
  readonly simd?: SimdScratch;
}

interface SimdScratch {
  kernel: DotsKernel;
  centroids: Float32Array;
  q: Float32Array;
  /** max(nlist, longest list) floats. */
  out: Float32Array;
}

export interface IvfOptions {
  nlist: number;
  iterations: number;
  trainSample: number;
  seed: number;
}

async function nearestCentroid(
  points: Float32Array,
  rows: number,
  dim: number,
  centroids: Float32Array,
  nlist: number,
) {
  const out = new Int32Array(rows);
  const C = matrixTensor(centroids, nlist, dim);
  const batch = 4096;
  for (let s = 0; s < rows; s += batch) {
    const r = Math.min(batch, rows - s);
    const { indices } = await topkInnerProduct(points.subarray(s * dim, (s + r) * dim), r, dim, C, 1);
    out.set(indices, s);
  }
  return out;
}

/** The index over X: vectors packed list by list, in SIMD kernel memory when the dimension allows. */
function assemble(
  X: Float32Array,
  dim: number,
  nlist: number,
  centroids: Float32Array,
  order: Int32Array,
  offsets: Int32Array,
): IvfIndex {
  let longest = 0;
  for (let l = 0; l < nlist; l++) longest = Math.max(longest, offsets[l + 1]! - offsets[l]!);
  const outLen = Math.max(nlist, longest);
  const kernel =
    dim % 16 === 0 ? DotsKernel.create(dim + nlist * dim + order.length * dim + outLen + 64) : null;
  const packed = kernel ? kernel.alloc(order.length * dim) : new Float32Array(order.length * dim);
  order.forEach((p, i) => packed.set(X.subarray(p * dim, (p + 1) * dim), i * dim));
  if (!kernel) return { nlist, dim, centroids, order, offsets, packed };
  const simd: SimdScratch = {
    kernel,
    centroids: kernel.alloc(nlist * dim),
    q: kernel.alloc(dim),
    out: kernel.alloc(outLen),
  };
  simd.centroids.set(centroids);
  return { nlist, dim, centroids, order, offsets, packed, simd };
}

export async function buildIvf(X: Float32Array, n: number, dim: number, opts: IvfOptions): Promise<IvfIndex> {
  const nlist = Math.min(opts.nlist, n);
  if (nlist < 1)
    throw new RouterlabError("IVF index needs at least one point", {
      file: "hyperparameters",
      field: "index.nlist",
    });
  const rng = createRng(opts.seed);
  const sampleIdx = shuffled(
    Array.from({ length: n }, (_, i) => i),
    rng,
  ).slice(0, Math.max(nlist, Math.min(n, opts.trainSample)));
  const m = sampleIdx.length;
  const sample = new Float32Array(m * dim);
  sampleIdx.forEach((p, i) => sample.set(X.subarray(p * dim, (p + 1) * dim), i * dim));
  const centroids = sample.slice(0, nlist * dim);
  for (let it = 0; it < opts.iterations; it++) {
    const assign = await nearestCentroid(sample, m, dim, centroids, nlist);
    const sums = new Float64Array(nlist * dim);
    const counts = new Int32Array(nlist);
    for (let i = 0; i < m; i++) {
      const c = assign[i]!;
      counts[c]!++;
      for (let d = 0; d < dim; d++) sums[c * dim + d]! += sample[i * dim + d]!;
    }
    for (let c = 0; c < nlist; c++) {
      if (counts[c] === 0) continue; // empty list: keep the old centroid
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += sums[c * dim + d]! * sums[c * dim + d]!;
      norm = Math.sqrt(norm);
      if (norm === 0) continue;
      for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d]! / norm;
    }
  }
  const assign = await nearestCentroid(X, n, dim, centroids, nlist);
  const counts = new Int32Array(nlist + 1);
  for (let i = 0; i < n; i++) counts[assign[i]! + 1]!++;
  const offsets = new Int32Array(nlist + 1);
  for (let c = 0; c < nlist; c++) offsets[c + 1] = offsets[c]! + counts[c + 1]!;
  const fill = offsets.slice(0, nlist);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[assign[i]!]!++] = i;
  return assemble(X, dim, nlist, centroids, order, offsets);
}

/** k nearest (float32 cosine distance, ties to lower index) among the points of the nprobe closest lists. */
export function ivfSearch(
  ivf: IvfIndex,
  _X: Float32Array,
  q: Float32Array,
  k: number,
  nprobe: number,
): { dist: Float32Array; ind: Int32Array } {
  const { dim, nlist, centroids, packed, order, offsets, simd } = ivf;
  const probe = Math.min(nprobe, nlist);
  let cs: Float32Array | Float64Array;
  if (simd) {
    simd.q.set(q);
    simd.kernel.dots(simd.q, simd.centroids, 0, nlist, dim, simd.out);
    cs = simd.out;
  } else {
    cs = new Float64Array(nlist);
    for (let c = 0; c < nlist; c++) {
      let s = 0;
      const o = c * dim;
      for (let d = 0; d < dim; d++) s += q[d]! * centroids[o + d]!;
      cs[c] = s;
    }
  }
  // top `probe` centroids by similarity (ties: lower list index), by insertion into a short list
  const lists = new Int32Array(probe);
  const ls = new Float64Array(probe).fill(-Infinity);
  let filled = 0;
  for (let c = 0; c < nlist; c++) {
    const v = cs[c]!;
    if (filled === probe && v <= ls[probe - 1]!) continue;
    if (filled < probe) filled++;
    let j = filled - 1;
    while (j > 0 && ls[j - 1]! < v) {
      ls[j] = ls[j - 1]!;
      lists[j] = lists[j - 1]!;
      j--;
    }
    ls[j] = v;
    lists[j] = c;
  }
  const bd = new Float64Array(k).fill(Infinity);
  const bi = new Int32Array(k).fill(-1);
  let count = 0;
  for (const l of lists) {
    const from = offsets[l]!;
    const to = offsets[l + 1]!;
    if (simd) simd.kernel.dots(simd.q, packed, from, to - from, dim, simd.out);
    for (let p = from; p < to; p++) {
      let s: number;
      if (simd) s = simd.out[p - from]!;
      else {
        const o = p * dim;
        s = 0;
        for (let d = 0; d < dim; d++) s += q[d]! * packed[o + d]!;
      }
      let dd = Math.fround(1 - Math.fround(s));
      dd = dd < 0 ? 0 : dd > 2 ? 2 : dd;
      count = pushTopK(bd, bi, count, k, dd, order[p]!);
    }
  }
  if (count < k) {
    throw new RouterlabError(
      `IVF search found only ${count} points in ${probe} lists, fewer than k = ${k}: raise nprobe`,
      {
        file: "hyperparameters",
        field: "index.nprobe",
      },
    );
  }
  return { dist: Float32Array.from(bd), ind: bi };
}

export function ivfTensors(ivf: IvfIndex): RouterState["tensors"] {
  return {
    ivf_centroids: { shape: [ivf.nlist, ivf.dim], data: ivf.centroids },
    ivf_order: { shape: [ivf.order.length], data: Float32Array.from(ivf.order) },
    ivf_offsets: { shape: [ivf.offsets.length], data: Float32Array.from(ivf.offsets) },
  };
}

export function ivfFromTensors(state: RouterState): IvfIndex {
  const c = requireTensor(state, "ivf_centroids");
  const order = Int32Array.from(requireTensor(state, "ivf_order").data);
  const offsets = Int32Array.from(requireTensor(state, "ivf_offsets").data);
  const X = requireTensor(state, "X");
  const dim = c.shape[1]!;
  return assemble(X.data, dim, c.shape[0]!, c.data, order, offsets);
}

/**
 * Inserts candidate (d, idx) into the sorted-by-(d, idx) top list of length k (kept in bd/bi,
 * `count` filled). Returns the new count.
 */
export function pushTopK(
  bd: Float64Array,
  bi: Int32Array,
  count: number,
  k: number,
  d: number,
  idx: number,
): number {
  if (count === k) {
    const ld = bd[k - 1]!;
    if (d > ld || (d === ld && idx > bi[k - 1]!)) return count;
  } else count++;
  let j = count - 1;
  while (j > 0) {
    const pd = bd[j - 1]!;
    if (pd < d || (pd === d && bi[j - 1]! < idx)) break;
    bd[j] = pd;
    bi[j] = bi[j - 1]!;
    j--;
  }
  bd[j] = d;
  bi[j] = idx;
  return count;
}
