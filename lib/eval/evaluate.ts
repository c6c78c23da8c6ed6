/** Evaluation of binary routers on one dataset: the figures, intervals and chart data of a report. */
import { calibrateMany, SortedSet } from "../calibrate/calibrate";
import type { BinaryBootstrap, BinarySummary, CurvePoint } from "./binary";
import { BinarySweep, bootstrapBinary, summaryOfCurves } from "./binary";

export interface RouterInput {
  readonly router: string;
  /** How the scores were produced, e.g. "5-fold cross-validation, in-domain". */
  readonly regime?: string;
  readonly scores: Float64Array;
  readonly yWeak: Float64Array;
  readonly yStrong: Float64Array;
}

export interface CalibrationCurvePoint {
  readonly target: number;
  readonly threshold: number;
  readonly lo: number;
  readonly hi: number;
  readonly achievedShare: number;
}

export interface OperatingPoint {
  readonly label: string;
  readonly threshold: number;
  readonly strict: boolean;
  /** Share routed to [weak, strong]. */
  readonly share: [number, number];
  /** Rows: best model (weak = cheapest correct, strong, neither); columns: chosen [weak, strong]. Counts. */
  readonly confusion: number[][];
}

export interface RouterEvaluation {
  readonly router: string;
  readonly regime: string;
  readonly summary: BinarySummary;
  readonly bootstrap: BinaryBootstrap;
  /** Fine curve, thinned to at most ~400 points for charts (endpoints kept). */
  readonly curve: CurvePoint[];
  readonly reference10: CurvePoint[];
  readonly calibrationCurve: CalibrationCurvePoint[];
  readonly operatingPoint: OperatingPoint;
}

export const CONFUSION_ROWS = ["weak suffices", "strong needed", "neither correct"] as const;

function thin<T>(pts: readonly T[], max: number): T[] {
  if (pts.length <= max) return [...pts];
  const step = (pts.length - 1) / (max - 1);
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(pts[Math.round(i * step)]!);
  return out;
}

export function evaluateRouter(
  input: RouterInput,
  opts: { resamples?: number; seed?: number; calibrationResamples?: number } = {},
): RouterEvaluation {
  const { scores, yWeak, yStrong } = input;
  const sweep = new BinarySweep(scores, yWeak, yStrong);
  const fine = sweep.curve({ mode: "fine" });
  const ref = sweep.curve({ mode: "reference10" });
  const summary: BinarySummary = summaryOfCurves(sweep, fine, ref);
  const bootstrap = bootstrapBinary(scores, yWeak, yStrong, opts.resamples ?? 1000, opts.seed ?? 0);
  const targets = Array.from({ length: 19 }, (_, i) => ({ kind: "share" as const, value: (i + 1) / 20 }));
  const cal = calibrateMany(new SortedSet({ scores, yWeak, yStrong }), targets, {
    resamples: opts.calibrationResamples ?? 200,
    seed: opts.seed ?? 0,
  });
  const calibrationCurve = cal.map((r) => ({
    target: r.target.value,
    threshold: r.threshold,
    lo: r.intervals.threshold.lo,
    hi: r.intervals.threshold.hi,
    achievedShare: r.calibration.share,
  }));
  // Operating point: the first fine-curve point reaching 50% of the gap (CPT(50%)), else all-strong.
  const target = summary.cpt50.target;
  const op = fine.find((p) => p.quality >= target) ?? fine[fine.length - 1]!;
  const confusion = CONFUSION_ROWS.map(() => [0, 0]);
  let strong = 0;
  for (let i = 0; i < scores.length; i++) {
    const chosen = (op.strict ? scores[i]! > op.threshold : scores[i]! >= op.threshold) ? 1 : 0;
    strong += chosen;
    const best = yWeak[i]! > 0 ? 0 : yStrong[i]! > 0 ? 1 : 2;
    confusion[best]![chosen]!++;
  }
  const n = scores.length;
  return {
    router: input.router,
    regime: input.regime ?? "not stated",
    summary,
    bootstrap,
    curve: thin(fine, 400),
    reference10: ref,
    calibrationCurve,
    operatingPoint: {
      label: "first point reaching PGR 0.5 (CPT(50%))",
      threshold: op.threshold,
      strict: op.strict,
      share: [(n - strong) / n, strong / n],
      confusion,
    },
  };
}

/** Plain JSON of the figures (what `routerlab evaluate` writes to metrics.json). */
export function evaluationJson(
  dataset: string,
  models: readonly [string, string],
  evals: readonly RouterEvaluation[],
): object {
  return {
    schema: "routerlab.evaluation.v1",
    dataset,
    models: { weak: models[0], strong: models[1] },
    routers: evals.map((e) => ({
      router: e.router,
      regime: e.regime,
      n: e.summary.n,
      qWeak: e.summary.qWeak,
      qStrong: e.summary.qStrong,
      curvePoints: e.summary.points,
      apgr: e.summary.apgr,
      apgrInterval: e.bootstrap.apgr,
      apgrReference10: e.summary.apgrReference10,
      cpt50: e.summary.cpt50.value,
      cpt50Interp: e.summary.cpt50.interp,
      cpt50Interval: e.bootstrap.cpt50,
      cpt80: e.summary.cpt80.value,
      cpt80Interp: e.summary.cpt80.interp,
      cpt80Interval: e.bootstrap.cpt80,
      resamples: e.bootstrap.resamples,
      operatingPoint: e.operatingPoint,
    })),
  };
}
