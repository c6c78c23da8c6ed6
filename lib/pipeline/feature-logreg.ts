/**
 * A logistic-regression router on the query embedding plus hand-made text features (shape, numbers,
 * arithmetic cue words) and the subject one-hot, scored out-of-fold. Its L2 strength is chosen by an
 * inner cross-validation on each outer training part only (nested CV), so no test fold is ever used
 * for fitting or tuning. The design, standardisation and fit are the registry kind `logreg-emb-features`'s
 * (lib/routers/logreg-emb-features.ts); this is the main job's out-of-fold run of it, L2 picked by inner APGR.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Split } from "../data/split";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { summariseBinary } from "../eval/binary";
import {
  applyStats,
  columnStats,
  designMatrix,
  fitL2Logistic,
  predictRow as predict,
} from "../routers/logreg-emb-features";
import { stableStringify } from "../routers/model-file";
import { sha256Hex } from "../util/hash";
import { cacheDir } from "../util/paths";
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

function standardised(Z: Float64Array, p: number, rows: readonly number[]): Float64Array {
  return applyStats(Z, p, columnStats(Z, p, rows));
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
    writeFileAtomic(file, JSON.stringify({ scores: Array.from(scores), chosenL2 }));
  }
  return { scores, chosenL2, seconds: (performance.now() - started) / 1000, fromCache: false };
}
