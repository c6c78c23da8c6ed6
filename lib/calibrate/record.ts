/**
 * The calibration record: what `routerlab calibrate` logs and what export consumes (the threshold to
 * bake into the artifact, with its target, intervals and the fingerprint of the data it came from).
 */
import { z } from "zod";
import type { CalibrationResult, DriftCheck, HoldoutCheck, Realised } from "./calibrate";
import { writeFileAtomic } from "../util/atomic-write";
import { readJson } from "../util/read-files";

const interval = z.object({ lo: z.number().nullable(), hi: z.number().nullable() });
const realised = z.object({
  share: z.number(),
  /** null when the data has no costs. */
  cost: z.number().nullable(),
  quality: z.number(),
  pgr: z.number().nullable(),
});

export const CalibrationRecordSchema = z.object({
  schema: z.literal("routerlab.calibration.v1"),
  router: z.string().min(1),
  dataset: z.string().min(1),
  /** [weak, strong] model names. */
  models: z.tuple([z.string(), z.string()]).optional(),
  target: z.object({ kind: z.enum(["share", "cost", "pgr"]), value: z.number() }),
  /** Route to strong iff score >= threshold. */
  threshold: z.number(),
  rule: z.literal("score >= threshold"),
  calibration: realised,
  intervals: z.object({
    level: z.number(),
    threshold: interval,
    share: interval,
    cost: interval.optional(),
    quality: interval.optional(),
    pgr: interval.optional(),
  }),
  n: z.object({ calibration: z.number().int().positive(), holdout: z.number().int().nonnegative() }),
  holdout: z
    .object({
      realised,
      shareInInterval: z.boolean(),
      costInInterval: z.boolean().optional(),
      qualityInInterval: z.boolean().optional(),
    })
    .optional(),
  drift: z
    .object({
      statistic: z.number(),
      pValue: z.number(),
      alpha: z.number(),
      drifted: z.boolean(),
      n1: z.number().int(),
      n2: z.number().int(),
    })
    .optional(),
  /** sha256 of the calibration split's `queryId\tscore\n` lines (see dataFingerprint). */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  seed: z.number().int(),
  resamples: z.number().int().positive(),
  createdAt: z.string(),
});

export type CalibrationRecord = z.infer<typeof CalibrationRecordSchema>;

const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);
const iv = (
  i: { lo: number; hi: number } | undefined,
): { lo: number | null; hi: number | null } | undefined =>
  i ? { lo: nullIfNaN(i.lo), hi: nullIfNaN(i.hi) } : undefined;

function realisedJson(r: Realised): CalibrationRecord["calibration"] {
  return { share: r.share, cost: nullIfNaN(r.cost), quality: r.quality, pgr: r.pgr };
}

export function makeRecord(args: {
  router: string;
  dataset: string;
  models?: [string, string];
  result: CalibrationResult;
  nCalibration: number;
  holdout?: HoldoutCheck;
  drift?: DriftCheck;
  fingerprint: string;
  level?: number;
}): CalibrationRecord {
  const r = args.result;
  const record: CalibrationRecord = {
    schema: "routerlab.calibration.v1",
    router: args.router,
    dataset: args.dataset,
    ...(args.models ? { models: args.models } : {}),
    target: { kind: r.target.kind, value: r.target.value },
    threshold: r.threshold,
    rule: "score >= threshold",
    calibration: realisedJson(r.calibration),
    intervals: {
      level: args.level ?? 0.95,
      threshold: iv(r.intervals.threshold)!,
      share: iv(r.intervals.share)!,
      ...(r.intervals.cost ? { cost: iv(r.intervals.cost) } : {}),
      ...(r.intervals.quality ? { quality: iv(r.intervals.quality) } : {}),
      ...(r.intervals.pgr ? { pgr: iv(r.intervals.pgr) } : {}),
    },
    n: { calibration: args.nCalibration, holdout: args.holdout?.n ?? 0 },
    ...(args.holdout
      ? {
          holdout: {
            realised: realisedJson(args.holdout.realised),
            shareInInterval: args.holdout.shareInInterval,
            ...(args.holdout.costInInterval !== undefined
              ? { costInInterval: args.holdout.costInInterval }
              : {}),
            ...(args.holdout.qualityInInterval !== undefined
              ? { qualityInInterval: args.holdout.qualityInInterval }
              : {}),
          },
        }
      : {}),
    ...(args.drift ? { drift: { ...args.drift } } : {}),
    fingerprint: args.fingerprint,
    seed: r.seed,
    resamples: r.resamples,
    createdAt: new Date().toISOString(),
  };
  return CalibrationRecordSchema.parse(record);
}

/** The bytes of a calibration record file (validated), for `saveRecord` or a multi-file output. */
export function recordFileText(record: CalibrationRecord): string {
  return JSON.stringify(CalibrationRecordSchema.parse(record), null, 2) + "\n";
}

export function saveRecord(file: string, record: CalibrationRecord): void {
  writeFileAtomic(file, recordFileText(record));
}

/** Reads and validates a calibration record; errors name the file and the JSON path. */
export function loadRecord(file: string): CalibrationRecord {
  return readJson(file, CalibrationRecordSchema, "calibration record");
}
