import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import type { CalibrationTarget } from "../calibrate/calibrate";
import { calibrate, dataFingerprint, driftCheck, SortedSet, verifyHoldout } from "../calibrate/calibrate";
import { makeRecord, saveRecord } from "../calibrate/record";
import { llmrouterRouting } from "../data/bundled";
import { evaluateRouter, evaluationJson } from "../eval/evaluate";
import {
  dedupeAgainst,
  evaluateMultiScoresFiles,
  MULTI_DATASET,
  taskMeanPredictor,
} from "../eval/multi-eval";
import { featureScores } from "../routers/feature-score";
import { loadPublishedMetrics } from "../eval/published";
import { calibrationReportHtml, evaluationReportHtml } from "../eval/report";
import {
  alignScores,
  BINARY_DATASETS,
  loadBinaryDataset,
  loadScoresFile,
  saveScoresFile,
  strongScores,
} from "../eval/scores-file";
import { loadYamlConfig } from "../util/config";
import { RouterlabError } from "../util/errors";
import { outDir, projectRoot } from "../util/paths";
import { createRng, shuffled } from "../util/random";
import { writeFileAtomic } from "../util/atomic-write";

export const CalibrateConfigSchema = z
  .object({
    resamples: z.number().int().min(100).default(1000),
    seed: z.number().int().default(0),
    /** Share of the labelled traffic held out to verify the threshold (0 = no verification). */
    holdoutFraction: z.number().min(0).max(0.9).default(0.5),
    level: z.number().gt(0).lt(1).default(0.95),
    driftAlpha: z.number().gt(0).lt(1).default(0.01),
    /** USD per query of each model, needed for --target-cost when the data has no costs. */
    costs: z.object({ weak: z.number().nonnegative(), strong: z.number().nonnegative() }).optional(),
  })
  .strict();

export type CalibrateConfig = z.infer<typeof CalibrateConfigSchema>;

const num = (name: string) => (v: string) => {
  const x = Number(v);
  if (!Number.isFinite(x)) throw new RouterlabError(`${name} must be a number, got '${v}'`);
  return x;
};

export function registerEvaluateCommands(program: Command): void {
  program
    .command("evaluate")
    .description(
      "Evaluate binary routers' scores on a dataset: APGR, CPT(50%/80%) with bootstrap intervals, and an HTML report",
    )
    .requiredOption(
      "--scores <files...>",
      "scores files ({router, dataset, queryIds, models, strongProbability|perModel})",
    )
    .requiredOption("--data <dataset>", `dataset: ${[...BINARY_DATASETS, MULTI_DATASET].join(" | ")}`)
    .option("--out <dir>", "output folder (default: out/eval/<dataset>)")
    .option("--resamples <n>", "bootstrap resamples", num("--resamples"), 1000)
    .option("--seed <n>", "bootstrap seed", num("--seed"), 0)
    .action((opts: { scores: string[]; data: string; out?: string; resamples: number; seed: number }) => {
      if (opts.data === MULTI_DATASET) {
        const dir = opts.out ?? path.join(outDir(), "eval", opts.data);
        for (const e of evaluateMultiScoresFiles(opts.scores, dir))
          process.stdout.write(
            `${e.router}: N=${e.n} AIQ=${e.aiq.toFixed(4)} Zero=${e.zeroAiq.toFixed(4)}\n`,
          );
        process.stdout.write(`wrote ${path.join(dir, "report.html")} and metrics.json\n`);
        return;
      }
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
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(
        path.join(dir, "metrics.json"),
        JSON.stringify(evaluationJson(opts.data, data.models, evals), null, 2) + "\n",
      );
      writeFileAtomic(
        path.join(dir, "report.html"),
        evaluationReportHtml({
          dataset: opts.data,
          models: data.models,
          evals,
          published: loadPublishedMetrics(),
        }),
      );
      for (const e of evals) {
        const c = (v: number | null): string => (v === null ? "not reached" : `${(v * 100).toFixed(1)}%`);
        process.stdout.write(
          `${e.router}: N=${e.summary.n} APGR=${e.summary.apgr?.toFixed(3) ?? "n/a"} ` +
            `[${e.bootstrap.apgr.lo.toFixed(3)}, ${e.bootstrap.apgr.hi.toFixed(3)}] ` +
            `CPT(50%)=${c(e.summary.cpt50.value)} (interp ${c(e.summary.cpt50.interp)}) ` +
            `CPT(80%)=${c(e.summary.cpt80.value)} (interp ${c(e.summary.cpt80.interp)})\n`,
        );
      }
      process.stdout.write(`wrote ${path.join(dir, "report.html")} and metrics.json\n`);
    });

  program
    .command("calibrate")
    .description(
      "Choose a routing threshold for a target strong share, average cost or PGR, with bootstrap intervals, held-out check and drift test",
    )
    .requiredOption("--scores <file>", "scores file of the router on your traffic")
    .option("--data <dataset>", "dataset with outcomes (default: the scores file's dataset)")
    .option(
      "--target-share <p>",
      "target share of queries sent to the strong model (0-1)",
      num("--target-share"),
    )
    .option(
      "--target-cost <usd>",
      "target average cost per query (USD; needs costs in the config)",
      num("--target-cost"),
    )
    .option("--target-pgr <q>", "target PGR at minimum cost (e.g. 0.95)", num("--target-pgr"))
    .option("--new-scores <file>", "scores of newer traffic: checked for drift against the calibration set")
    .option(
      "--config <file>",
      "calibration config (YAML)",
      path.join(projectRoot(), "configs", "calibrate.yaml"),
    )
    .option("--seed <n>", "seed for the split and the bootstrap (overrides the config)", num("--seed"))
    .option("--out <file>", "calibration record (default: out/calibration/<router>-<dataset>.json)")
    .action(
      (opts: {
        scores: string;
        data?: string;
        targetShare?: number;
        targetCost?: number;
        targetPgr?: number;
        newScores?: string;
        config: string;
        seed?: number;
        out?: string;
      }) => {
        const cfg = loadYamlConfig(opts.config, CalibrateConfigSchema);
        const seed = opts.seed ?? cfg.seed;
        const given = [
          opts.targetShare !== undefined ? ({ kind: "share", value: opts.targetShare } as const) : null,
          opts.targetCost !== undefined ? ({ kind: "cost", value: opts.targetCost } as const) : null,
          opts.targetPgr !== undefined ? ({ kind: "pgr", value: opts.targetPgr } as const) : null,
        ].filter((t): t is CalibrationTarget & { kind: "share" | "cost" | "pgr" } => t !== null);
        if (given.length !== 1)
          throw new RouterlabError("give exactly one of --target-share, --target-cost, --target-pgr");
        const target = given[0]!;
        if (target.kind === "share" && !(target.value > 0 && target.value < 1))
          throw new RouterlabError(`--target-share must be in (0, 1), got ${target.value}`);
        if (target.kind === "cost" && !cfg.costs)
          throw new RouterlabError("--target-cost needs per-query costs", {
            file: opts.config,
            field: "costs",
          });
        const s = loadScoresFile(opts.scores);
        const data = loadBinaryDataset(opts.data ?? s.dataset);
        const a = alignScores(s, data, opts.scores);
        const n = a.scores.length;
        const order = shuffled(
          Array.from({ length: n }, (_, i) => i),
          createRng(seed),
        );
        const nHold = Math.floor(n * cfg.holdoutFraction);
        const pick = (rows: number[]) => ({
          scores: Float64Array.from(rows, (i) => a.scores[i]!),
          queryIds: rows.map((i) => a.queryIds[i]!),
          yWeak: Float64Array.from(rows, (i) => a.yWeak[i]!),
          yStrong: Float64Array.from(rows, (i) => a.yStrong[i]!),
          ...(cfg.costs
            ? {
                cWeak: new Float64Array(rows.length).fill(cfg.costs.weak),
                cStrong: new Float64Array(rows.length).fill(cfg.costs.strong),
              }
            : {}),
        });
        const calRows = order.slice(nHold);
        const calSet = pick(calRows);
        const holdSet = nHold > 0 ? pick(order.slice(0, nHold)) : undefined;
        const result = calibrate(new SortedSet(calSet), target, {
          resamples: cfg.resamples,
          seed,
          level: cfg.level,
          newTrafficSize: holdSet ? nHold : calRows.length,
        });
        const holdout = holdSet ? verifyHoldout(result, holdSet) : undefined;
        let drift;
        if (opts.newScores) {
          const fresh = loadScoresFile(opts.newScores);
          drift = driftCheck(calSet.scores, strongScores(fresh, opts.newScores), cfg.driftAlpha);
        }
        const record = makeRecord({
          router: s.router,
          dataset: data.name,
          models: [data.models[0], data.models[1]],
          result,
          nCalibration: calRows.length,
          holdout,
          drift,
          fingerprint: dataFingerprint(calSet.queryIds, calSet.scores),
          level: cfg.level,
        });
        const file = opts.out ?? path.join(outDir(), "calibration", `${s.router}-${data.name}.json`);
        saveRecord(file, record);
        const ev = evaluateRouter(
          {
            router: s.router,
            regime: s.regime,
            scores: calSet.scores,
            yWeak: calSet.yWeak,
            yStrong: calSet.yStrong,
          },
          { resamples: 200, seed, calibrationResamples: 200 },
        );
        const html = file.replace(/\.json$/, "") + ".html";
        writeFileAtomic(html, calibrationReportHtml(record, [ev]));
        const iv = record.intervals.share;
        process.stdout.write(
          `threshold ${record.threshold} for ${target.kind} ${target.value}: share ${(record.calibration.share * 100).toFixed(1)}% ` +
            `(95% on new traffic ${((iv.lo ?? NaN) * 100).toFixed(1)}-${((iv.hi ?? NaN) * 100).toFixed(1)}%)` +
            (holdout
              ? `; held-out ${(holdout.realised.share * 100).toFixed(1)}% ${holdout.shareInInterval ? "inside" : "OUTSIDE"}`
              : "") +
            (drift ? `; drift KS p=${drift.pValue.toPrecision(3)}${drift.drifted ? " DRIFT" : ""}` : "") +
            `\nwrote ${file} and ${html}\n`,
        );
      },
    );

  program
    .command("baseline-scores")
    .description(
      "Write a scores file from the feature-score baseline (logistic regression on subject + text shape, k-fold out-of-fold)",
    )
    .requiredOption("--data <dataset>", `dataset: ${[...BINARY_DATASETS, MULTI_DATASET].join(" | ")}`)
    .requiredOption("--out <file>", "scores file to write")
    .option("--folds <k>", "cross-validation folds", num("--folds"), 5)
    .option("--seed <n>", "fold seed", num("--seed"), 0)
    .action((opts: { data: string; out: string; folds: number; seed: number }) => {
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
        process.stdout.write(`wrote ${rows.length} scores to ${opts.out}\n`);
        return;
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
      process.stdout.write(`wrote ${data.queryIds.length} scores to ${opts.out}\n`);
    });
}
