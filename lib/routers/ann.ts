import { RouterlabError } from "../util/errors";
import { createRng, shuffled } from "../util/random";
import { requireTensor } from "./common";
import { matrixTensor, topkInnerProduct } from "./native/topk";
import type { RouterState } from "./types";

/**
 * Approximate nearest neighbours for unit vectors: an inverted-file index (IVF). Centroids come from
 * seeded spherical k-means on a sample (assignment by onnxruntime sgemm+TopK); each stored point
 * belongs to its nearest centroid's list. A query scans the `nprobe` lists whose centroids are
 * closest. Distances and tie order are the exact path's (float32 1 - cos, then lower index).
 */
export interface IvfIndex {
  readonly nlist: number;
  readonly dim: number;
  readonly centroids: Float32Array;
  /** Point indices grouped by list; list l is order[offsets[l] .. offsets[l+1]). */
  readonly order: Int32Array;
  readonly offsets: Int32Array;
  /** The stored vectors in `order` (contiguous per list), rebuilt on load. */
  readonly packed: Float32Array;
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

function pack(X: Float32Array, dim: number, order: Int32Array): Float32Array {
  const packed = new Float32Array(order.length * dim);
  order.forEach((p, i) => packed.set(X.subarray(p * dim, (p + 1) * dim), i * dim));
  return packed;
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
      for (let d = 0; d < dim; d++) sums[c * dim + d] += sample[i * dim + d]!;
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
  return { nlist, dim, centroids, order, offsets, packed: pack(X, dim, order) };
}

/** k nearest (float32 cosine distance, ties to lower index) among the points of the nprobe closest lists. */
export function ivfSearch(
  ivf: IvfIndex,
  _X: Float32Array,
  q: Float32Array,
  k: number,
  nprobe: number,
): { dist: Float32Array; ind: Int32Array } {
  const { dim, nlist, centroids, packed, order, offsets } = ivf;
  const probe = Math.min(nprobe, nlist);
  const cs = new Float64Array(nlist);
  for (let c = 0; c < nlist; c++) {
    let s = 0;
    const o = c * dim;
    for (let d = 0; d < dim; d++) s += q[d]! * centroids[o + d]!;
    cs[c] = s;
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
    for (let p = offsets[l]!; p < offsets[l + 1]!; p++) {
      const o = p * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[d]! * packed[o + d]!;
      let dd = Math.fround(1 - Math.fround(s));
      dd = dd < 0 ? 0 : dd > 2 ? 2 : dd;
      const idx = order[p]!;
      if (count === k) {
        const ld = bd[k - 1]!;
        if (dd > ld || (dd === ld && idx > bi[k - 1]!)) continue;
      } else count++;
      let j = count - 1;
      while (j > 0) {
        const pd = bd[j - 1]!;
        if (pd < dd || (pd === dd && bi[j - 1]! < idx)) break;
        bd[j] = pd;
        bi[j] = bi[j - 1]!;
        j--;
      }
      bd[j] = dd;
      bi[j] = idx;
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
  return { nlist: c.shape[0]!, dim, centroids: c.data, order, offsets, packed: pack(X.data, dim, order) };
}
