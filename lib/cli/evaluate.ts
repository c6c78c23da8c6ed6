import path from "node:path";
import type { Command } from "commander";
import { calibrateScoresFile, type CalibrateScoresRequest } from "../calibrate/calibrate-scores";
import { evaluateBinaryScoresFiles, writeBaselineScores } from "../eval/evaluate-files";
import { evaluateMultiScoresFiles, MULTI_DATASET } from "../eval/multi-eval";
import { BINARY_DATASETS } from "../eval/scores-file";
import { outDir, projectRoot } from "../util/paths";
import { numberArg } from "./options";

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
    .option("--resamples <n>", "bootstrap resamples", numberArg("--resamples"), 1000)
    .option("--seed <n>", "bootstrap seed", numberArg("--seed"), 0)
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
      const { evals, dir } = evaluateBinaryScoresFiles(opts);
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
      numberArg("--target-share"),
    )
    .option(
      "--target-cost <usd>",
      "target average cost per query (USD; needs costs in the config)",
      numberArg("--target-cost"),
    )
    .option("--target-pgr <q>", "target PGR at minimum cost (e.g. 0.95)", numberArg("--target-pgr"))
    .option("--new-scores <file>", "scores of newer traffic: checked for drift against the calibration set")
    .option(
      "--config <file>",
      "calibration config (YAML)",
      path.join(projectRoot(), "configs", "calibrate.yaml"),
    )
    .option("--seed <n>", "seed for the split and the bootstrap (overrides the config)", numberArg("--seed"))
    .option("--out <file>", "calibration record (default: out/calibration/<router>-<dataset>.json)")
    .action((opts: CalibrateScoresRequest) => {
      const { record, target, holdout, drift, file, html } = calibrateScoresFile(opts);
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
    });

  program
    .command("baseline-scores")
    .description(
      "Write a scores file from the feature-score baseline (logistic regression on subject + text shape, k-fold out-of-fold)",
    )
    .requiredOption("--data <dataset>", `dataset: ${[...BINARY_DATASETS, MULTI_DATASET].join(" | ")}`)
    .requiredOption("--out <file>", "scores file to write")
    .option("--folds <k>", "cross-validation folds", numberArg("--folds"), 5)
    .option("--seed <n>", "fold seed", numberArg("--seed"), 0)
    .action((opts: { data: string; out: string; folds: number; seed: number }) => {
      const n = writeBaselineScores(opts);
      process.stdout.write(`wrote ${n} scores to ${opts.out}\n`);
    });
}
