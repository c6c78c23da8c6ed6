/**
 * The feature-score baseline: logistic regression on the subject (group) one-hot plus a few text-shape features,
 * fitted by full-batch gradient descent. It reads the query texts, not the embeddings. As a registry kind
 * (`feature-score`) it standardises with its training rows; `featureScores` gives the main job's out-of-fold
 * scores, which standardise with every row (the figures the project has always reported).
 */
import { z } from "zod";
import { createRng, shuffled } from "../util/random";
import { checkQueries, checkTraining } from "./checks";
import { parseFittedMeta, parseStateMeta, requireTensor, strongScores } from "./common";
import type { FittedMeta } from "./common";
import { Estimator, defineRouter } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

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

/** Mean and variance (population) of each text feature over `base`. */
function featureStats(base: readonly number[][]): { mean: number[]; variance: number[] } {
  const nf = base[0]?.length ?? 0;
  const mean = new Array<number>(nf).fill(0);
  const variance = new Array<number>(nf).fill(0);
  for (const f of base) f.forEach((v, j) => (mean[j]! += v / base.length));
  for (const f of base) f.forEach((v, j) => (variance[j]! += (v - mean[j]!) ** 2 / base.length));
  return { mean, variance };
}

/** Rows [1, standardised text features, group one-hot]; a group not in `groupNames` gets no column. */
function designRows(
  base: readonly number[][],
  groups: readonly string[] | undefined,
  groupNames: readonly string[],
  stats: { mean: readonly number[]; variance: readonly number[] },
): { X: Float64Array; d: number } {
  const gi = new Map(groupNames.map((g, i) => [g, i]));
  const nf = stats.mean.length;
  const d = 1 + nf + groupNames.length;
  const X = new Float64Array(base.length * d);
  base.forEach((f, i) => {
    X[i * d] = 1;
    f.forEach((v, j) => (X[i * d + 1 + j] = (v - stats.mean[j]!) / (Math.sqrt(stats.variance[j]!) || 1)));
    const g = groups ? gi.get(groups[i]!) : undefined;
    if (g !== undefined) X[i * d + 1 + nf + g] = 1;
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

function predict(X: Float64Array, d: number, w: ArrayLike<number>, i: number): number {
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

/** P(label = 1 | features) per query, standardised over every row; labels are 0/1 (e.g. "strong model wins"). */
export function featureScores(
  texts: readonly string[],
  groups: readonly string[] | undefined,
  labels: ArrayLike<number>,
  opts: FeatureScoreOptions = {},
): Float64Array {
  const n = texts.length;
  const base = texts.map(textFeatures);
  const { X, d } = designRows(base, groups, groups ? [...new Set(groups)].sort() : [], featureStats(base));
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

export const FeatureScoreHyper = z.strictObject({
  iterations: z.int().positive().default(150),
  l2: z.number().nonnegative().default(1e-3),
});

const FeatureScoreMeta = z.object({
  groupNames: z.array(z.string()),
  mean: z.array(z.number()),
  variance: z.array(z.number()),
});

interface Fitted extends z.infer<typeof FeatureScoreMeta> {
  meta: FittedMeta;
  w: Float32Array;
}

/**
 * The text-aware scorers of P(strong) (feature-score, logreg-emb-features, encoder): binary only, they read the
 * query texts; the fitted state remembers the task.
 */
export abstract class TextScorer<
  H extends Record<string, unknown>,
  F extends { meta: FittedMeta },
> extends Estimator<H, F> {
  /** Checks the training input (texts included); a multi-model task is refused. */
  protected checkFit(queries: Queries, task: RoutingTask): void {
    checkTraining(queries, task, { readsTexts: true, binaryOnly: this.kind });
  }

  /** The fitted state, once the queries (texts included) are checked against it. */
  protected fittedFor(queries: Queries): F {
    const f = this.need();
    checkQueries(queries, f.meta.dim, true);
    return f;
  }
}

/** Binary only: P(strong) from the query text's shape and group. */
export class FeatureScoreRouter
  extends TextScorer<z.infer<typeof FeatureScoreHyper>, Fitted>
  implements Router
{
  constructor(hp: z.input<typeof FeatureScoreHyper> = {}) {
    super("feature-score", FeatureScoreHyper, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    this.checkFit(queries, task);
    const base = queries.texts!.map(textFeatures);
    const stats = featureStats(base);
    const groupNames = queries.groups ? [...new Set(queries.groups)].sort() : [];
    const { X, d } = designRows(base, queries.groups, groupNames, stats);
    const rows = Array.from({ length: base.length }, (_, i) => i);
    const w = fitLogistic(X, d, task.labels, rows, this.hp.iterations, this.hp.l2);
    this.fitted = {
      meta: { setting: "binary", models: task.models.slice(), dim: queries.X.dim },
      groupNames,
      ...stats,
      // float32 as every saved tensor, so a fitted router and its reloaded state score alike
      w: Float32Array.from(w),
    };
    await Promise.resolve();
  }

  score(queries: Queries): RouterScores {
    const f = this.fittedFor(queries);
    const { X, d } = designRows(queries.texts!.map(textFeatures), queries.groups, f.groupNames, f);
    return binaryScores(f.meta.models, X, d, f.w);
  }

  predict(queries: Queries): string[] {
    return predictFromBinary(this.score(queries));
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, groupNames: f.groupNames, mean: f.mean, variance: f.variance },
      tensors: { w: { shape: [f.w.length], data: f.w } },
    };
  }

  static fromState(state: RouterState): FeatureScoreRouter {
    const r = new FeatureScoreRouter(FeatureScoreHyper.parse(state.hyperparameters));
    const m = parseStateMeta(state, FeatureScoreMeta);
    r.fitted = { meta: parseFittedMeta(state), ...m, w: requireTensor(state, "w").data };
    return r;
  }
}

/** Scores [1 - p, p] per row with p = sigmoid(x . w). */
export function binaryScores(
  models: readonly string[],
  X: Float64Array,
  d: number,
  w: ArrayLike<number>,
): RouterScores {
  const n = X.length / d;
  const strongProbability = new Float64Array(n);
  for (let i = 0; i < n; i++) strongProbability[i] = predict(X, d, w, i);
  return strongScores(models, strongProbability);
}

/** Strong iff P(strong) > 0.5. */
export function predictFromBinary(s: RouterScores): string[] {
  return Array.from(s.strongProbability!, (p) => (p > 0.5 ? s.models[1]! : s.models[0]!));
}

export const featureScoreEntry = defineRouter({
  kind: "feature-score",
  description:
    "baseline: logistic regression on the query text's shape and its subject (binary, reads texts)",
  hyperparameters: FeatureScoreHyper,
  readsTexts: true,
  settings: ["binary"],
  gatewayFormat: null,
  notServableReason: "reads hand-made text features the gateway does not compute",
  create: (hp) => new FeatureScoreRouter(hp),
  fromState: (s) => FeatureScoreRouter.fromState(s),
});
