/**
 * Logistic regression on the query embedding plus hand-made text features (shape, numbers, arithmetic cue words)
 * and the subject one-hot, features standardised with the training rows, L2 strength chosen by an inner
 * cross-validation on the training rows only. Registry kind `logreg-emb-features` (binary, reads texts). The main
 * job's out-of-fold scores (lib/pipeline/feature-logreg.ts) use the same design, standardisation and fit, and pick
 * the L2 strength by inner APGR; this router picks it by inner log-loss (routers do not depend on lib/eval).
 */
import { z } from "zod";
import { minimizeLbfgs } from "../util/lbfgs";
import { createRng, shuffled } from "../util/random";
import type { FittedMeta } from "./common";
import { parseFittedMeta, parseStateMeta } from "./common";
import { defineRouter } from "./define";
import { binaryScores, predictFromBinary, textFeatures, TextScorer } from "./feature-score";
import type { EmbeddingMatrix } from "../embed/types";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

const count = (t: string, re: RegExp): number => t.match(re)?.length ?? 0;

/** Cues of multi-step arithmetic word problems (GSM8K-style), beyond feature-score's text shape. */
export function mathFeatures(t: string): number[] {
  const nums = t.match(/\d+(?:[.,]\d+)*/g) ?? [];
  const vals = nums.map((s) => Number(s.replace(/,/g, ""))).filter(Number.isFinite);
  return [
    nums.length,
    new Set(nums).size,
    Math.log1p(vals.reduce((a, v) => Math.max(a, v), 0)),
    vals.filter((v) => !Number.isInteger(v)).length,
    count(t, /%|percent/gi),
    count(t, /\$/g),
    count(t, /\d+\/\d+|half|third|quarter|fourth|fifth/gi),
    count(t, /\beach\b|\bevery\b|\bper\b/gi),
    count(t, /times|twice|double|triple/gi),
    count(t, /\bmore\b|\bless\b|\bfewer\b/gi),
    t.split(/[.?!](?:\s|$)/).length,
    count(t, /remain|left|rest/gi),
    count(t, /hours?|minutes?|days?|weeks?|months?|years?/gi),
  ];
}

/**
 * Row-major design matrix: text features, subject one-hot, embedding. The one-hot columns are `groupNames`
 * (default: the sorted distinct groups); a group not among them gets no column.
 */
export function designMatrix(
  texts: readonly string[],
  groups: readonly string[] | undefined,
  X: EmbeddingMatrix,
  groupNames: readonly string[] = groups ? [...new Set(groups)].sort() : [],
): { Z: Float64Array; p: number } {
  const gi = new Map(groupNames.map((g, i) => [g, i]));
  const hand = texts.map((t) => [...textFeatures(t), ...mathFeatures(t)]);
  const nh = hand[0]?.length ?? 0;
  const p = nh + groupNames.length + X.dim;
  const Z = new Float64Array(texts.length * p);
  for (let i = 0; i < texts.length; i++) {
    const o = i * p;
    hand[i]!.forEach((v, j) => (Z[o + j] = v));
    const g = groups ? gi.get(groups[i]!) : undefined;
    if (g !== undefined) Z[o + nh + g] = 1;
    for (let j = 0; j < X.dim; j++) Z[o + nh + groupNames.length + j] = X.data[i * X.dim + j]!;
  }
  return { Z, p };
}

/** Column mean and sd over `rows` (sd 1 for a constant column). */
export function columnStats(Z: Float64Array, p: number, rows: readonly number[]) {
  const mean = new Float64Array(p);
  const sd = new Float64Array(p);
  for (const i of rows) for (let j = 0; j < p; j++) mean[j]! += Z[i * p + j]!;
  for (let j = 0; j < p; j++) mean[j]! /= rows.length;
  for (const i of rows)
    for (let j = 0; j < p; j++) {
      const d = Z[i * p + j]! - mean[j]!;
      sd[j]! += d * d;
    }
  for (let j = 0; j < p; j++) sd[j] = Math.sqrt(sd[j]! / rows.length) || 1;
  return { mean, sd };
}

/** Every row standardised with the given column stats (a copy). */
export function applyStats(
  Z: Float64Array,
  p: number,
  stats: { mean: ArrayLike<number>; sd: ArrayLike<number> },
): Float64Array {
  const out = new Float64Array(Z.length);
  const n = Z.length / p;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < p; j++) out[i * p + j] = (Z[i * p + j]! - stats.mean[j]!) / stats.sd[j]!;
  return out;
}

/**
 * L2-penalised logistic regression fitted to convergence by L-BFGS: minimises the mean log-loss plus
 * (l2 / 2) * ||w||^2 (bias not penalised). Weights [bias, w_1..w_p].
 */
export function fitL2Logistic(
  S: Float64Array,
  p: number,
  y: ArrayLike<number>,
  rows: readonly number[],
  l2: number,
  maxIterations: number,
) {
  const n = rows.length;
  const objective = (w: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let loss = 0;
    for (const i of rows) {
      const o = i * p;
      let z = w[0]!;
      for (let j = 0; j < p; j++) z += S[o + j]! * w[j + 1]!;
      // softplus(z) - y z, computed without overflow
      loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z;
      const e = 1 / (1 + Math.exp(-z)) - y[i]!;
      g[0]! += e;
      for (let j = 0; j < p; j++) g[j + 1]! += e * S[o + j]!;
    }
    let penalty = 0;
    g[0]! /= n;
    for (let j = 1; j <= p; j++) {
      penalty += w[j]! * w[j]!;
      g[j] = g[j]! / n + l2 * w[j]!;
    }
    return loss / n + 0.5 * l2 * penalty;
  };
  return minimizeLbfgs(objective, new Float64Array(p + 1), {
    maxIterations,
    gradientTolerance: 1e-6,
  }).x;
}

/** P(label 1) of row i under weights [bias, w_1..w_p]. */
export function predictRow(S: Float64Array, p: number, w: ArrayLike<number>, i: number): number {
  let z = w[0]!;
  for (let j = 0; j < p; j++) z += S[i * p + j]! * w[j + 1]!;
  return 1 / (1 + Math.exp(-z));
}

export const LogregEmbFeaturesHyper = z.strictObject({
  /** L2 strengths tried by the inner cross-validation (on standardised features). */
  l2Grid: z.array(z.number().positive()).min(1).default([0.01, 0.1, 1]),
  innerFolds: z.int().min(2).default(3),
  /** The inner cross-validation uses at most this many training rows (a seeded sample). */
  innerMaxRows: z.int().positive().default(3000),
  /** L-BFGS iterations at most per fit (each fit stops earlier once converged). */
  maxIterations: z.int().positive().default(300),
  seed: z.int().nonnegative().default(0),
});

const LogregMeta = z.object({
  groupNames: z.array(z.string()),
  mean: z.array(z.number()),
  sd: z.array(z.number()),
  /** [bias, w_1..w_p], float64 (kept in the JSON so a reload scores identically). */
  w: z.array(z.number()),
  l2: z.number(),
});

interface Fitted extends z.infer<typeof LogregMeta> {
  meta: FittedMeta;
}

export class LogregEmbFeaturesRouter
  extends TextScorer<z.infer<typeof LogregEmbFeaturesHyper>, Fitted>
  implements Router
{
  constructor(hp: z.input<typeof LogregEmbFeaturesHyper> = {}) {
    super("logreg-emb-features", LogregEmbFeaturesHyper, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    this.checkFit(queries, task);
    const hp = this.hp;
    const groupNames = queries.groups ? [...new Set(queries.groups)].sort() : [];
    const { Z, p } = designMatrix(queries.texts!, queries.groups, queries.X, groupNames);
    const rows = Array.from({ length: queries.X.rows }, (_, i) => i);
    const stats = columnStats(Z, p, rows);
    const S = applyStats(Z, p, stats);
    const y = task.labels;
    let l2 = hp.l2Grid[0]!;
    if (hp.l2Grid.length > 1) {
      const inner = shuffled(rows, createRng(hp.seed)).slice(0, hp.innerMaxRows);
      let best = Infinity;
      for (const cand of hp.l2Grid) {
        let loss = 0;
        for (let f = 0; f < hp.innerFolds; f++) {
          const tr = inner.filter((_, r) => r % hp.innerFolds !== f);
          const w = fitL2Logistic(S, p, y, tr, cand, hp.maxIterations);
          inner.forEach((row, r) => {
            if (r % hp.innerFolds !== f) return;
            const q = Math.min(1 - 1e-12, Math.max(1e-12, predictRow(S, p, w, row)));
            loss -= y[row] === 1 ? Math.log(q) : Math.log(1 - q);
          });
        }
        if (loss < best) {
          best = loss;
          l2 = cand;
        }
      }
    }
    const w = fitL2Logistic(S, p, y, rows, l2, hp.maxIterations);
    this.fitted = {
      meta: { setting: "binary", models: task.models.slice(), dim: queries.X.dim },
      groupNames,
      mean: Array.from(stats.mean),
      sd: Array.from(stats.sd),
      w: Array.from(w),
      l2,
    };
    await Promise.resolve();
  }

  score(queries: Queries): RouterScores {
    const f = this.fittedFor(queries);
    const { Z, p } = designMatrix(queries.texts!, queries.groups, queries.X, f.groupNames);
    const S = applyStats(Z, p, f);
    // binaryScores takes a design with a leading 1-column; prepend it
    const D = new Float64Array(queries.X.rows * (p + 1));
    for (let i = 0; i < queries.X.rows; i++) {
      D[i * (p + 1)] = 1;
      D.set(S.subarray(i * p, (i + 1) * p), i * (p + 1) + 1);
    }
    return binaryScores(f.meta.models, D, p + 1, f.w);
  }

  predict(queries: Queries): string[] {
    return predictFromBinary(this.score(queries));
  }

  state(): RouterState {
    const { meta, ...rest } = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...meta, ...rest },
      tensors: {},
    };
  }

  static fromState(state: RouterState): LogregEmbFeaturesRouter {
    const r = new LogregEmbFeaturesRouter(LogregEmbFeaturesHyper.parse(state.hyperparameters));
    r.fitted = { meta: parseFittedMeta(state), ...parseStateMeta(state, LogregMeta) };
    return r;
  }
}

export const logregEmbFeaturesEntry = defineRouter({
  kind: "logreg-emb-features",
  description:
    "logistic regression on embedding + text features + subject, L2 by inner cross-validation (binary, reads texts)",
  hyperparameters: LogregEmbFeaturesHyper,
  seeded: true,
  readsTexts: true,
  settings: ["binary"],
  gatewayFormat: null,
  notServableReason: "reads hand-made text features the gateway does not compute",
  create: (hp) => new LogregEmbFeaturesRouter(hp),
  fromState: (s) => LogregEmbFeaturesRouter.fromState(s),
});
