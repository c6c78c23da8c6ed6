/**
 * A small, real-data-derived routing score that needs no embeddings: logistic regression on group
 * (subject) one-hot plus a few text-shape features, fitted by full-batch gradient descent, optionally
 * out-of-fold (k-fold). Used to check evaluation and calibration on real data when no trained router is
 * at hand; it is a baseline, not a product router.
 */
import { createRng, shuffled } from "../util/random";

export function textFeatures(text: string): number[] {
  const len = text.length;
  let digits = 0;
  let upper = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) upper++;
  }
  const lines = text.split("\n").length;
  const words = text.split(/\s+/).filter(Boolean).length;
  return [
    Math.log1p(len),
    digits / Math.max(1, len),
    upper / Math.max(1, len),
    Math.log1p(lines),
    Math.log1p(words),
    /[=+*/^]/.test(text) ? 1 : 0,
  ];
}

function designMatrix(
  texts: readonly string[],
  groups: readonly string[] | undefined,
): {
  X: Float64Array;
  d: number;
} {
  const groupNames = groups ? [...new Set(groups)].sort() : [];
  const gi = new Map(groupNames.map((g, i) => [g, i]));
  const base = texts.map(textFeatures);
  const nf = base[0]?.length ?? 0;
  // Standardise the text features.
  const mean = new Array<number>(nf).fill(0);
  const sd = new Array<number>(nf).fill(0);
  for (const f of base) f.forEach((v, j) => (mean[j]! += v / base.length));
  for (const f of base) f.forEach((v, j) => (sd[j]! += (v - mean[j]!) ** 2 / base.length));
  const d = 1 + nf + groupNames.length;
  const X = new Float64Array(texts.length * d);
  base.forEach((f, i) => {
    X[i * d] = 1;
    f.forEach((v, j) => (X[i * d + 1 + j] = (v - mean[j]!) / (Math.sqrt(sd[j]!) || 1)));
    if (groups) X[i * d + 1 + nf + gi.get(groups[i]!)!] = 1;
  });
  return { X, d };
}

function fitLogistic(
  X: Float64Array,
  d: number,
  y: ArrayLike<number>,
  rows: readonly number[],
  iterations: number,
  l2: number,
): Float64Array {
  const w = new Float64Array(d);
  const grad = new Float64Array(d);
  const lr = 0.5;
  for (let it = 0; it < iterations; it++) {
    grad.fill(0);
    for (const i of rows) {
      let z = 0;
      for (let j = 0; j < d; j++) z += X[i * d + j]! * w[j]!;
      const err = 1 / (1 + Math.exp(-z)) - y[i]!;
      for (let j = 0; j < d; j++) grad[j]! += err * X[i * d + j]!;
    }
    for (let j = 0; j < d; j++) w[j]! -= lr * (grad[j]! / rows.length + (j > 0 ? l2 * w[j]! : 0));
  }
  return w;
}

function predict(X: Float64Array, d: number, w: Float64Array, i: number): number {
  let z = 0;
  for (let j = 0; j < d; j++) z += X[i * d + j]! * w[j]!;
  return 1 / (1 + Math.exp(-z));
}

export interface FeatureScoreOptions {
  /** k-fold out-of-fold scores when > 1 (each query scored by a model that never saw it). */
  folds?: number;
  seed?: number;
  iterations?: number;
  l2?: number;
  /** Explicit folds (e.g. the pipeline's de-duplicated, stratified k-fold); overrides `folds`. */
  splits?: readonly { train: readonly number[]; test: readonly number[] }[];
}

/** P(label = 1 | features) per query; labels are 0/1 (e.g. "strong model wins"). */
export function featureScores(
  texts: readonly string[],
  groups: readonly string[] | undefined,
  labels: ArrayLike<number>,
  opts: FeatureScoreOptions = {},
): Float64Array {
  const n = texts.length;
  const { X, d } = designMatrix(texts, groups);
  const iterations = opts.iterations ?? 150;
  const l2 = opts.l2 ?? 1e-3;
  const out = new Float64Array(n);
  const all = Array.from({ length: n }, (_, i) => i);
  if (opts.splits) {
    for (const split of opts.splits) {
      const w = fitLogistic(X, d, labels, split.train, iterations, l2);
      for (const i of split.test) out[i] = predict(X, d, w, i);
    }
    return out;
  }
  const k = opts.folds ?? 1;
  if (k <= 1) {
    const w = fitLogistic(X, d, labels, all, iterations, l2);
    for (let i = 0; i < n; i++) out[i] = predict(X, d, w, i);
    return out;
  }
  const order = shuffled(all, createRng(opts.seed ?? 0));
  for (let f = 0; f < k; f++) {
    const test = order.filter((_, r) => r % k === f);
    const train = order.filter((_, r) => r % k !== f);
    const w = fitLogistic(X, d, labels, train, iterations, l2);
    for (const i of test) out[i] = predict(X, d, w, i);
  }
  return out;
}
