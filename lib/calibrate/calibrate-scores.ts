import path from "node:path";
import { z } from "zod";
import { evaluateRouter } from "../eval/evaluate";
import { calibrationReportHtml } from "../eval/report";
import { alignScores, loadBinaryDataset, loadScoresFile, strongScores } from "../eval/scores-file";
import { writeFileSetAtomic } from "../util/atomic-write";
import { loadYamlConfig } from "../util/config";
import { RouterlabError } from "../util/errors";
import { outDir } from "../util/paths";
import { createRng, shuffled } from "../util/random";
import type { CalibrationTarget, DriftCheck, HoldoutCheck } from "./calibrate";
import { calibrate, dataFingerprint, driftCheck, SortedSet, verifyHoldout } from "./calibrate";
import type { CalibrationRecord } from "./record";
import { makeRecord, recordFileText } from "./record";

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

export interface CalibrateScoresRequest {
  /** Scores file of the router on the traffic. */
  scores: string;
  /** Dataset with outcomes (default: the scores file's). */
  data?: string;
  targetShare?: number;
  targetCost?: number;
  targetPgr?: number;
  /** Scores of newer traffic, checked for drift against the calibration set. */
  newScores?: string;
  /** Calibration config (YAML, CalibrateConfigSchema). */
  config: string;
  /** Overrides the config's seed. */
  seed?: number;
  /** The record (default: out/calibration/<router>-<dataset>.json); its HTML report goes beside it. */
  out?: string;
}

export interface CalibrateScoresResult {
  record: CalibrationRecord;
  target: CalibrationTarget;
  holdout?: HoldoutCheck;
  drift?: DriftCheck;
  file: string;
  html: string;
}

/**
 * `routerlab calibrate`: splits the scored traffic (seeded) into a calibration and a held-out part, chooses the
 * threshold for the one target given, verifies it on the held-out part, tests drift, and writes the record and report.
 */
export function calibrateScoresFile(opts: CalibrateScoresRequest): CalibrateScoresResult {
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
  // the record and its report appear together or not at all
  writeFileSetAtomic(path.dirname(file), [
    { name: path.basename(file), data: recordFileText(record) },
    { name: path.basename(html), data: calibrationReportHtml(record, [ev]) },
  ]);
  return { record, target, holdout, drift, file, html };
}
