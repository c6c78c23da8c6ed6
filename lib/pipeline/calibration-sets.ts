import type { RoutingData } from "../data/routing";
import { createRng, shuffled } from "../util/random";

/** The per-query inputs of `calibrate` / `verifyHoldout` (lib/calibrate) for a subset of a binary dataset. */
export interface CalibrationSet {
  scores: Float64Array;
  queryIds: string[];
  yWeak: Float64Array;
  yStrong: Float64Array;
  cWeak: Float64Array;
  cStrong: Float64Array;
}

/**
 * Splits a binary dataset's out-of-fold scores into a calibration part and a held-out part (seeded, at least one
 * held-out row; both in row order), with each row's weak/strong quality and cost.
 */
export function calibrationSets(
  data: RoutingData,
  scores: Float64Array,
  opts: { holdoutFraction: number; seed: number },
): { cal: number[]; hold: number[]; calSet: CalibrationSet; holdSet: CalibrationSet } {
  const n = scores.length;
  const M = data.models.length;
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    createRng(opts.seed),
  );
  const nHold = Math.max(1, Math.round(n * opts.holdoutFraction));
  const hold = order.slice(0, nHold).sort((a, b) => a - b);
  const cal = order.slice(nHold).sort((a, b) => a - b);
  const set = (rows: number[]): CalibrationSet => ({
    scores: Float64Array.from(rows, (r) => scores[r]!),
    queryIds: rows.map((r) => data.queryIds[r]!),
    yWeak: Float64Array.from(rows, (r) => data.quality[r * M]!),
    yStrong: Float64Array.from(rows, (r) => data.quality[r * M + 1]!),
    cWeak: Float64Array.from(rows, (r) => data.cost[r * M]!),
    cStrong: Float64Array.from(rows, (r) => data.cost[r * M + 1]!),
  });
  return { cal, hold, calSet: set(cal), holdSet: set(hold) };
}
