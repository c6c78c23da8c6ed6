import path from "node:path";
import { llmrouterRouting } from "../data/bundled";
import { featureScores } from "../routers/feature-score";
import { writeFileSetAtomic } from "../util/atomic-write";
import { outDir } from "../util/paths";
import type { RouterEvaluation } from "./evaluate";
import { evaluateRouter, evaluationJson } from "./evaluate";
import { dedupeAgainst, MULTI_DATASET, taskMeanPredictor } from "./multi-eval";
import { loadPublishedMetrics } from "./published";
import { evaluationReportHtml } from "./report";
import { alignScores, loadBinaryDataset, loadScoresFile, saveScoresFile } from "./scores-file";

/**
 * `routerlab evaluate` on a binary dataset: each scores file aligned to the dataset and evaluated (APGR, CPT with
 * bootstrap intervals); writes metrics.json and report.html to `out` (default out/eval/<dataset>).
 */
export function evaluateBinaryScoresFiles(opts: {
  scores: readonly string[];
  data: string;
  out?: string;
  resamples: number;
  seed: number;
}): { evals: RouterEvaluation[]; dir: string } {
  const data = loadBinaryDataset(opts.data);
  const evals = opts.scores.map((file) => {
    const s = loadScoresFile(file);
    const a = alignScores(s, data, file);
    return evaluateRouter(
      { router: s.router, regime: s.regime, scores: a.scores, yWeak: a.yWeak, yStrong: a.yStrong },
      { resamples: opts.resamples, seed: opts.seed },
    );
  });
  const dir = opts.out ?? path.join(outDir(), "eval", opts.data);
  // the metrics and the report appear together or not at all
  writeFileSetAtomic(dir, [
    {
      name: "metrics.json",
      data: JSON.stringify(evaluationJson(opts.data, data.models, evals), null, 2) + "\n",
    },
    {
      name: "report.html",
      data: evaluationReportHtml({
        dataset: opts.data,
        models: data.models,
        evals,
        published: loadPublishedMetrics(),
      }),
    },
  ]);
  return { evals, dir };
}

/**
 * `routerlab baseline-scores`: the per-task mean quality on the multi-model dataset, or the feature-score baseline's
 * out-of-fold P(strong) on a binary one, written as a scores file; returns the number of rows.
 */
export function writeBaselineScores(opts: {
  data: string;
  out: string;
  folds: number;
  seed: number;
}): number {
  if (opts.data === MULTI_DATASET) {
    const train = llmrouterRouting("train").data;
    const test = llmrouterRouting("test").data;
    const rows = dedupeAgainst(train, test);
    const pred = taskMeanPredictor(train, test, rows);
    const M = test.models.length;
    saveScoresFile(opts.out, {
      router: "task-mean",
      dataset: MULTI_DATASET,
      queryIds: rows.map((q) => test.queryIds[q]!),
      models: [...test.models],
      perModel: rows.map((_, i) => Array.from(pred.subarray(i * M, i * M + M))),
      regime: "per-task mean quality on llmrouter-train; test rows also in train removed",
    });
    return rows.length;
  }
  const data = loadBinaryDataset(opts.data);
  const labels = Float64Array.from(data.yStrong, (s, i) => (s > 0 && !(data.yWeak[i]! > 0) ? 1 : 0));
  const scores = featureScores(data.texts, data.groups, labels, { folds: opts.folds, seed: opts.seed });
  saveScoresFile(opts.out, {
    router: "feature-logreg",
    dataset: data.name,
    queryIds: [...data.queryIds],
    models: [...data.models],
    strongProbability: Array.from(scores),
    regime: `${opts.folds}-fold cross-validation, in-domain (out-of-fold scores)`,
  });
  return data.queryIds.length;
}
