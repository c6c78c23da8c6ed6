/**
 * A logistic-regression router on the query embedding plus hand-made text features (shape, numbers,
 * arithmetic cue words) and the subject one-hot, scored out-of-fold. Its L2 strength is chosen by an
 * inner cross-validation on each outer training part only (nested CV), so no test fold is ever used
 * for fitting or tuning. Pipeline-level (not a registry router): it is evaluated, not exported.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Split } from "../data/split";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { summariseBinary } from "../eval/binary";
import { textFeatures } from "../eval/feature-score";
import { stableStringify } from "../routers/model-file";
import { sha256Hex } from "../util/hash";
import { cacheDir } from "../util/paths";
import { minimizeLbfgs } from "../util/lbfgs";
import { createRng, shuffled } from "../util/random";
import { writeFileAtomic } from "../util/atomic-write";

export const FeatureLogregSchema = z.strictObject({
  /** L2 strengths tried by the inner cross-validation (on standardised features). */
  l2Grid: z.array(z.number().positive()).min(1).default([0.01, 0.1, 1]),
  innerFolds: z.int().min(2).default(3),
  /** The inner cross-validation uses at most this many rows of the outer training part (seeded). */
  innerMaxRows: z.int().positive().default(3000),
  /** L-BFGS iterations at most per fit (each fit stops earlier once converged). */
  maxIterations: z.int().positive().default(300),
});
export type FeatureLogregOptions = z.infer<typeof FeatureLogregSchema>;

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

/** Row-major design matrix: text features, subject one-hot, embedding. */
export function designMatrix(
  texts: readonly string[],
  groups: readonly string[] | undefined,
  X: EmbeddingMatrix,
): { Z: Float64Array; p: number } {
  const groupNames = groups ? [...new Set(groups)].sort() : [];
  const gi = new Map(groupNames.map((g, i) => [g, i]));
  const hand = texts.map((t) => [...textFeatures(t), ...mathFeatures(t)]);
  const nh = hand[0]?.length ?? 0;
  const p = nh + groupNames.length + X.dim;
  const Z = new Float64Array(texts.length * p);
  for (let i = 0; i < texts.length; i++) {
    const o = i * p;
    hand[i]!.forEach((v, j) => (Z[o + j] = v));
    if (groups) Z[o + nh + gi.get(groups[i]!)!] = 1;
    for (let j = 0; j < X.dim; j++) Z[o + nh + groupNames.length + j] = X.data[i * X.dim + j]!;
  }
  return { Z, p };
}

/** Standardises columns with the mean/sd of `rows` (copy; constant columns are left centred). */
function standardised(Z: Float64Array, p: number, rows: readonly number[]): Float64Array {
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
  const out = new Float64Array(Z.length);
  const n = Z.length / p;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < p; j++) out[i * p + j] = (Z[i * p + j]! - mean[j]!) / sd[j]!;
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

function predict(S: Float64Array, p: number, w: Float64Array, i: number): number {
  let z = w[0]!;
  for (let j = 0; j < p; j++) z += S[i * p + j]! * w[j + 1]!;
  return 1 / (1 + Math.exp(-z));
}

export interface FeatureLogregResult {
  scores: Float64Array;
  /** The L2 strength the inner cross-validation chose, per outer fold. */
  chosenL2: number[];
  seconds: number;
  fromCache: boolean;
}

/**
 * Out-of-fold P(strong needed) over the given outer splits. `labels` are 0/1 per row. Scores are
 * cached in <cache>/trained by everything that determines them.
 */
export function featureLogregScores(args: {
  texts: readonly string[];
  queryIds: readonly string[];
  groups: readonly string[] | undefined;
  X: EmbeddingMatrix;
  labels: ArrayLike<number>;
  /** The binary rows' weak/strong quality, for the inner APGR that picks L2. */
  yWeak: Float64Array;
  yStrong: Float64Array;
  splits: readonly Split[];
  embeddingSpec: EmbeddingSpec;
  seed: number;
  options?: Partial<FeatureLogregOptions>;
  useCache: boolean;
}): FeatureLogregResult {
  const opts = FeatureLogregSchema.parse(args.options ?? {});
  const key = sha256Hex(
    stableStringify(
      {
        kind: "feature-logreg.v2",
        opts,
        ids: sha256Hex(args.queryIds.join("\n")),
        labels: sha256Hex(Array.from(args.labels).join("")),
        splits: sha256Hex(JSON.stringify(args.splits)),
        spec: args.embeddingSpec,
        seed: args.seed,
      },
      0,
    ),
  );
  const file = path.join(cacheDir(), "trained", key.slice(0, 2), `${key}.oof.json`);
  const Cached = z.object({ scores: z.array(z.number()), chosenL2: z.array(z.number()) });
  if (args.useCache && existsSync(file)) {
    const c = Cached.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (c.success && c.data.scores.length === args.texts.length)
      return {
        scores: Float64Array.from(c.data.scores),
        chosenL2: c.data.chosenL2,
        seconds: 0,
        fromCache: true,
      };
  }
  const started = performance.now();
  const { Z, p } = designMatrix(args.texts, args.groups, args.X);
  const n = args.texts.length;
  const scores = new Float64Array(n).fill(NaN);
  const chosenL2: number[] = [];
  const rng = createRng(args.seed);
  for (const split of args.splits) {
    const S = standardised(Z, p, split.train);
    let l2 = opts.l2Grid[0]!;
    if (opts.l2Grid.length > 1) {
      const inner = shuffled(split.train, rng).slice(0, opts.innerMaxRows);
      let best = -Infinity;
      for (const cand of opts.l2Grid) {
        const oof = new Float64Array(inner.length);
        for (let f = 0; f < opts.innerFolds; f++) {
          const tr = inner.filter((_, r) => r % opts.innerFolds !== f);
          const w = fitL2Logistic(S, p, args.labels, tr, cand, opts.maxIterations);
          inner.forEach((row, r) => {
            if (r % opts.innerFolds === f) oof[r] = predict(S, p, w, row);
          });
        }
        const a = summariseBinary(
          oof,
          Float64Array.from(inner, (i) => args.yWeak[i]!),
          Float64Array.from(inner, (i) => args.yStrong[i]!),
        ).apgr;
        if (a !== null && a > best) {
          best = a;
          l2 = cand;
        }
      }
    }
    chosenL2.push(l2);
    const w = fitL2Logistic(S, p, args.labels, split.train, l2, opts.maxIterations);
    for (const i of split.test) scores[i] = predict(S, p, w, i);
  }
  if (args.useCache) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, JSON.stringify({ scores: Array.from(scores), chosenL2 }));
  }
  return { scores, chosenL2, seconds: (performance.now() - started) / 1000, fromCache: false };
}
