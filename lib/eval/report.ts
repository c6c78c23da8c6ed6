/** AUROC, Brier and ECE of each scorer's own P(strong needed) against the labels (docs/evaluation.md). */
export function scoreCalibrationHtml(rows: readonly { router: string; cal: ScoreCalibration }[]): string {
  return (
    "<h2>Quality of the routers' own P(strong needed)</h2>" +
    "<p>Against the binary labels (1 = strong needed); ECE over 10 equal-width bins. See docs/evaluation.md.</p>" +
    htmlTable(
      ["router", "AUROC", "Brier", "ECE", "note"],
      rows.map((r) => [r.router, num(r.cal.auroc), num(r.cal.brier), num(r.cal.ece), r.cal.note ?? ""]),
    )
  );
}

export interface ArenaRow extends ArenaPoint {
  readonly router: string;
}

/** RouterArena's accuracy-cost score per scorer at its operating point (null: not applicable to the dataset). */
export function arenaHtml(rows: readonly ArenaRow[] | null): string {
  const head = "<h2>RouterArena accuracy-cost score</h2>";
  if (rows === null)
    return `${head}<p>n/a: the dataset's quality is not a correctness in [0, 1] or a model's cost is unknown.</p>`;
  return (
    head +
    "<p>Each scorer at its operating point (the first point reaching CPT(50%), as in the confusion table), then the " +
    "single-model policies. S = (1 + β)·A·C / (β·A + C), β = 0.1, cost normalised on log2 between $0.0044 and $200 " +
    "per 1,000 queries. See docs/evaluation.md.</p>" +
    htmlTable(
      ["policy", "accuracy", "$ per 1k queries", "arena score"],
      rows.map((r) => [r.router, pct(r.accuracy), r.costPer1k.toPrecision(3), num(r.score, 4)]),
    )
  );
}

export interface OptimalityRow {
  readonly router: string;
  readonly routerArena: RouterArenaOptimality | null;
  readonly oracleGap: OracleGap;
}

/** RouterArena's optimality scores and LLMRouterBench's gap to the oracle per policy. */
export function optimalityHtml(rows: readonly OptimalityRow[]): string {
  return (
    "<h2>Distance to the per-query optimum</h2>" +
    "<p>The same policies as above. RouterArena's optimality (optimal model = the cheapest correct one; selection " +
    "and cost over the queries some model answers correctly; accuracy relative to the best single model; n/a " +
    "unless quality is a correctness) and LLMRouterBench's gap to the oracle (the oracle takes the best quality " +
    "per query; relative = gap / oracle). See docs/evaluation.md.</p>" +
    htmlTable(
      [
        "policy",
        "opt. selection",
        "opt. cost",
        "opt. accuracy",
        "quality",
        "oracle",
        "gap to oracle",
        "relative gap",
      ],
      rows.map((r) => [
        r.router,
        pct(r.routerArena?.optimalSelection),
        num(r.routerArena?.optimalCost),
        num(r.routerArena?.optimalAccuracy),
        num(r.oracleGap.quality, 4),
        num(r.oracleGap.oracle, 4),
        num(r.oracleGap.gap, 4),
        pct(r.oracleGap.relativeGap),
      ]),
    )
  );
}

/**
 * The HTML report of an evaluation run: cost-quality curves of every router and the baselines, the
 * calibration curve with its interval band, per-model routing share, chosen-vs-best confusion, and the
 * comparison with the RouteLLM paper's published numbers (with the training regime stated).
 */
import type { Figure, PlotTrace } from "../plots/plotly";
import { figuresToHtml, htmlTable } from "../plots/plotly";
import type { CalibrationRecord } from "../calibrate/record";
import type { ArenaPoint } from "./arena";
import type { OracleGap, RouterArenaOptimality } from "./optimality";
import type { RouterEvaluation } from "./evaluate";
import { CONFUSION_ROWS } from "./evaluate";
import type { PublishedMetric } from "./published";
import type { ScoreCalibration } from "./score-calibration";
import { publishedFor } from "./published";

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "n/a" : `${(v * 100).toFixed(1)}%`;
const num = (v: number | null | undefined, d = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(d);

export function costQualityFigure(dataset: string, evals: readonly RouterEvaluation[]): Figure {
  const first = evals[0];
  const traces: PlotTrace[] = evals.map((e) => ({
    type: "scatter",
    mode: "lines",
    name: `${e.router} (APGR ${num(e.summary.apgr)})`,
    x: e.curve.map((p) => p.x * 100),
    y: e.curve.map((p) => p.quality * 100),
  }));
  if (first) {
    const { qWeak, qStrong } = first.summary;
    // all-weak and all-strong: the ends of the random router's line, and the single models' points
    const ends = () => ({ x: [0, 100], y: [qWeak * 100, qStrong * 100] });
    traces.push({
      type: "scatter",
      mode: "lines",
      name: "random router / Zero router (APGR 0.5)",
      ...ends(),
      line: { dash: "dash", color: "gray" },
    });
    traces.push({
      type: "scatter",
      mode: "markers+text",
      name: "single models",
      ...ends(),
      text: ["all weak", "all strong"],
      textposition: "top center",
    });
  }
  return {
    data: traces,
    layout: {
      title: { text: `${dataset}: quality vs strong-call share` },
      xaxis: { title: { text: "strong-model calls (%)" } },
      yaxis: { title: { text: "quality (% correct)" } },
    },
  };
}

export function calibrationFigure(evals: readonly RouterEvaluation[]): Figure {
  const data: PlotTrace[] = [];
  for (const e of evals) {
    const x = e.calibrationCurve.map((c) => c.target * 100);
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${e.router} 95% band`,
      x: [...x, ...[...x].reverse()],
      y: [...e.calibrationCurve.map((c) => c.hi), ...[...e.calibrationCurve].reverse().map((c) => c.lo)],
      fill: "toself",
      opacity: 0.3,
      line: { width: 0 },
      showlegend: true,
    });
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: `${e.router} threshold`,
      x,
      y: e.calibrationCurve.map((c) => c.threshold),
    });
  }
  return {
    data,
    layout: {
      title: { text: "Calibration: threshold t for a target strong share (bootstrap 95% band)" },
      xaxis: { title: { text: "target strong share (%)" } },
      yaxis: { title: { text: "threshold t (strong iff score >= t)" } },
    },
  };
}

export function routingShareFigure(
  models: readonly [string, string],
  evals: readonly RouterEvaluation[],
): Figure {
  return {
    data: models.map((m, j) => ({
      type: "bar",
      name: m,
      x: evals.map((e) => e.router),
      y: evals.map((e) => e.operatingPoint.share[j]! * 100),
    })),
    layout: {
      title: { text: "Per-model routing share at each router's CPT(50%) operating point" },
      barmode: "stack",
      yaxis: { title: { text: "share of queries (%)" } },
    },
  };
}

export function confusionFigure(models: readonly [string, string], e: RouterEvaluation): Figure {
  return {
    data: [
      {
        type: "heatmap",
        x: models.map((m) => `chosen: ${m}`),
        y: [...CONFUSION_ROWS],
        z: e.operatingPoint.confusion,
        text: e.operatingPoint.confusion.flat().map(String),
        colorscale: "Blues",
      },
    ],
    layout: { title: { text: `${e.router}: chosen vs best model (CPT(50%) operating point)` } },
  };
}

export function metricsTable(evals: readonly RouterEvaluation[]): string {
  return htmlTable(
    [
      "router",
      "training regime",
      "N",
      "curve points",
      "APGR [95% CI]",
      "APGR (10-quantile)",
      "CPT(50%) first crossing [95% CI]",
      "CPT(50%) np.interp",
      "CPT(80%) first crossing [95% CI]",
      "CPT(80%) np.interp",
    ],
    evals.map((e) => [
      e.router,
      e.regime,
      e.summary.n,
      e.summary.points,
      `${num(e.summary.apgr)} [${num(e.bootstrap.apgr.lo)}, ${num(e.bootstrap.apgr.hi)}]`,
      num(e.summary.apgrReference10),
      e.summary.cpt50.value === null
        ? "not reached"
        : `${pct(e.summary.cpt50.value)} [${pct(e.bootstrap.cpt50.lo)}, ${pct(e.bootstrap.cpt50.hi)}]`,
      pct(e.summary.cpt50.interp),
      e.summary.cpt80.value === null
        ? "not reached"
        : `${pct(e.summary.cpt80.value)} [${pct(e.bootstrap.cpt80.lo)}, ${pct(e.bootstrap.cpt80.hi)}]`,
      pct(e.summary.cpt80.interp),
    ]),
  );
}

export function publishedComparison(
  dataset: string,
  evals: readonly RouterEvaluation[],
  published: readonly PublishedMetric[],
): string {
  const pub: { metric: string; value: number; how: string; line: number | string }[] = [
    ...publishedFor(dataset, published),
  ];
  // Not in the CSV: the best MMLU figures as quoted in the shared spec (metrics.md §11, second-hand).
  if (dataset === "routellm-mmlu")
    pub.push({
      metric: "best APGR",
      value: 0.603,
      how: "metrics.md §11 (second-hand, golden-label augmentation)",
      line: "-",
    });
  if (pub.length === 0) return "<p>No published RouteLLM figures for this dataset.</p>";
  const best50 = Math.min(...evals.map((e) => e.summary.cpt50.value ?? Infinity));
  const best80 = Math.min(...evals.map((e) => e.summary.cpt80.value ?? Infinity));
  const bestApgr = Math.max(...evals.map((e) => e.summary.apgr ?? -Infinity));
  const ours = (metric: string): string =>
    metric === "best CPT(50%)"
      ? pct(best50)
      : metric === "best CPT(80%)"
        ? pct(best80)
        : metric === "best APGR"
          ? num(bestApgr)
          : "-";
  return (
    "<p><b>Training regime.</b> routerlab's routers are trained in-domain on these benchmark questions and " +
    "scored out-of-fold (k-fold cross-validation); the paper's routers were trained on Chatbot Arena data plus " +
    "augmentation (judge or golden labels) and never saw these questions. Published values are second-hand " +
    "(see source quality); CPT values are derived from the paper's 'x fewer strong calls' ratios assuming random CPT(p) = p.</p>" +
    htmlTable(
      ["published metric", "paper", "how", "CSV line", "routerlab best"],
      pub.map((p) => [
        p.metric,
        p.metric.includes("CPT") ? pct(p.value) : num(p.value),
        p.how,
        p.line,
        ours(p.metric),
      ]),
    )
  );
}

export function calibrationRecordHtml(rec: CalibrationRecord): string {
  const iv = (i: { lo: number | null; hi: number | null } | undefined, f: (v: number) => string): string =>
    i ? `[${i.lo === null ? "n/a" : f(i.lo)}, ${i.hi === null ? "n/a" : f(i.hi)}]` : "-";
  const rows: (string | number)[][] = [
    ["target", `${rec.target.kind} = ${rec.target.value}`],
    [
      "threshold t (strong iff score >= t)",
      `${rec.threshold} ${iv(rec.intervals.threshold, (v) => v.toPrecision(6))}`,
    ],
    ["share on calibration set", pct(rec.calibration.share)],
    ["predicted share on new traffic (95%)", iv(rec.intervals.share, pct)],
    [
      "quality at t (95%)",
      `${num(rec.calibration.quality, 4)} ${iv(rec.intervals.quality, (v) => v.toFixed(4))}`,
    ],
    ["PGR at t (95%)", `${num(rec.calibration.pgr)} ${iv(rec.intervals.pgr, (v) => v.toFixed(3))}`],
    ["N calibration / held-out", `${rec.n.calibration} / ${rec.n.holdout}`],
  ];
  if (rec.holdout)
    rows.push([
      "held-out realised share",
      `${pct(rec.holdout.realised.share)} (${rec.holdout.shareInInterval ? "inside" : "OUTSIDE"} the interval)`,
    ]);
  if (rec.drift)
    rows.push([
      "drift (two-sample KS)",
      `D = ${rec.drift.statistic.toFixed(4)}, p = ${rec.drift.pValue.toPrecision(3)}: ${rec.drift.drifted ? "DRIFT" : "no drift"} at alpha ${rec.drift.alpha}`,
    ]);
  rows.push(
    ["data fingerprint (sha256)", rec.fingerprint],
    ["seed / resamples", `${rec.seed} / ${rec.resamples}`],
  );
  return htmlTable(["", ""], rows);
}

export function evaluationReportHtml(args: {
  dataset: string;
  models: readonly [string, string];
  evals: readonly RouterEvaluation[];
  published: readonly PublishedMetric[];
}): string {
  const { dataset, models, evals } = args;
  const figs: Figure[] = [
    costQualityFigure(dataset, evals),
    calibrationFigure(evals),
    routingShareFigure(models, evals),
    ...evals.map((e) => confusionFigure(models, e)),
  ];
  const n = evals[0]?.summary.n ?? 0;
  const body =
    `<p>Dataset <b>${dataset}</b>, N = ${n}; weak = ${models[0]}, strong = ${models[1]}. ` +
    `Definitions: metrics.md (fine threshold sweep with deduplicated edges and 0%/100% endpoints; APGR by trapezoids; ` +
    `CPT as first crossing, np.interp shown for comparison). Intervals: 95% percentile bootstrap over ${evals[0]?.bootstrap.resamples ?? 0} query resamples.</p>` +
    metricsTable(evals) +
    "<h2>Comparison with the RouteLLM paper</h2>" +
    publishedComparison(dataset, evals, args.published);
  return figuresToHtml(figs, { title: `routerlab evaluation: ${dataset}`, bodyHtml: body });
}

export function calibrationReportHtml(rec: CalibrationRecord, evals: readonly RouterEvaluation[]): string {
  const figs = [calibrationFigure(evals)];
  return figuresToHtml(figs, {
    title: `routerlab calibration: ${rec.router} on ${rec.dataset}`,
    bodyHtml: calibrationRecordHtml(rec),
  });
}
