/** SimpleQA evaluation outputs: responses JSONL, results JSON, an HTML report (plotly), and the tracking run. */

import path from "node:path";
import { writeFileSetAtomic } from "../util/atomic-write";
import type { SimpleqaMetrics } from "../eval/simpleqa";
import type { Figure } from "../plots/plotly";
import { figuresToHtml, htmlTable } from "../plots/plotly";
import type { TrackedRun } from "../tracking";
import type { ArmResult } from "./arms";
import type { EvalResult } from "./run";

const ARM_SYMBOL: Record<ArmResult["kind"], string> = {
  random: "x",
  baseline: "square",
  router: "circle",
  layer: "circle",
};

export const SIMPLEQA_OUTPUT_FILES = {
  responses: "responses.jsonl",
  results: "results.json",
  report: "report.html",
} as const;

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** One line per test question: both models' prompts, responses, usage, cost and grades (keys never appear). */
export function responsesJsonl(result: EvalResult): string {
  return result.records.map((r) => JSON.stringify(r)).join("\n") + (result.records.length > 0 ? "\n" : "");
}

export interface ResultsJson {
  readonly schema: "routerlab.simpleqa-eval.v1";
  readonly simulated: boolean;
  readonly n: number;
  readonly models: EvalResult["models"];
  readonly threshold: number | null;
  readonly apgr: number | null;
  readonly qWeak: number;
  readonly qStrong: number;
  readonly arms: readonly ArmResult[];
  readonly curve: readonly { x: number; quality: number; cost: number; threshold: number | null }[];
  readonly grading: EvalResult["grading"];
  readonly datasetCostUsd: number;
  readonly spend: EvalResult["spend"];
  readonly extra: Record<string, unknown>;
}

export function resultsJson(
  result: EvalResult,
  extra: Record<string, unknown> = {},
  simulated = false,
): ResultsJson {
  return {
    schema: "routerlab.simpleqa-eval.v1",
    simulated,
    n: result.n,
    models: result.models,
    threshold: finiteOrNull(result.threshold),
    apgr: result.curve.apgr,
    qWeak: result.curve.qWeak,
    qStrong: result.curve.qStrong,
    arms: result.arms,
    curve: result.curve.points.map((p) => ({
      x: p.x,
      quality: p.quality,
      cost: p.cost,
      threshold: finiteOrNull(p.threshold),
    })),
    grading: result.grading,
    datasetCostUsd: result.datasetCostUsd,
    spend: result.spend,
    extra,
  };
}

const pct = (x: number | null): string => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
const usd = (x: number): string => `$${x.toPrecision(4)}`;

function metricCells(m: SimpleqaMetrics): string[] {
  return [pct(m.correct), pct(m.incorrect), pct(m.notAttempted), pct(m.cga), pct(m.f)];
}

/** The arms as a text table (CLI and notebook). */
export function armsTable(result: EvalResult): string {
  const head = ["arm", "strong", "correct", "incorrect", "not att.", "CGA", "F", "cost", "savings", "PGR"];
  const rows = result.arms.map((a) => [
    a.name,
    pct(a.strongShare),
    ...metricCells(a.metrics),
    usd(a.costUsd),
    pct(a.savingsVsStrong),
    a.pgr === null ? "n/a" : a.pgr.toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

/** Accuracy (graded correct) vs answer cost per question: one marker per arm, and the router's threshold sweep. */
export function accuracyCostFigure(result: EvalResult): Figure {
  return {
    data: [
      {
        type: "scatter",
        mode: "lines",
        name: "router threshold sweep",
        x: result.curve.points.map((p) => p.cost),
        y: result.curve.points.map((p) => p.quality * 100),
        line: { color: "#bbb" },
      },
      ...result.arms.map((a) => ({
        type: "scatter" as const,
        mode: "markers+text" as const,
        name: a.name,
        x: [a.costPerQuestionUsd],
        y: [a.metrics.correct * 100],
        text: [a.name],
        textposition: "top center",
        marker: { size: 11, symbol: ARM_SYMBOL[a.kind] },
      })),
    ],
    layout: {
      title: {
        text: `SimpleQA accuracy vs cost (${result.models.weak} / ${result.models.strong}, N=${result.n})`,
      },
      xaxis: { title: { text: "answer cost per question (USD)" } },
      yaxis: { title: { text: "correct (%)" } },
    },
  };
}

export function perPolicyTable(result: EvalResult): string {
  const rows: string[][] = [];
  for (const a of result.arms) {
    for (const [policy, m] of Object.entries(a.perPolicy))
      rows.push([a.name, policy, String(m.n), ...metricCells(m)]);
  }
  return htmlTable(["arm", "policy", "N", "correct", "incorrect", "not attempted", "CGA", "F"], rows);
}

export function reportHtml(result: EvalResult, opts: { simulated: boolean; title?: string }): string {
  const banner = opts.simulated
    ? '<p style="background:#fee;border:1px solid #c00;padding:6px"><b>SIMULATED</b>: every answer and grade came from ' +
      "routerlab's local simulator (lib/llm/sim), not from real models. The numbers exercise the pipeline only.</p>"
    : "";
  const summary =
    `<p>N = ${result.n} TEST questions; weak <code>${result.models.weak}</code>, strong <code>${result.models.strong}</code>, ` +
    `grader <code>${result.models.grader}</code>; threshold ${Number.isFinite(result.threshold) ? result.threshold.toPrecision(4) : "none (0% strong)"}; ` +
    `APGR over the weak/strong gap ${result.curve.apgr === null ? "n/a (no gap)" : result.curve.apgr.toFixed(3)}; ` +
    `grader replies unparsed ${result.grading.unparsed}, strict/reference parse disagreements ${result.grading.disagreements}, ` +
    `retries ${result.grading.retries}; grading cost ${usd(result.grading.costUsd)}; ` +
    `spent in this process ${usd(result.spend.total.costUsd)} (${result.spend.total.cacheHits} cache hits).</p>`;
  const table = htmlTable(
    [
      "arm",
      "strong share",
      "correct",
      "incorrect",
      "not attempted",
      "CGA",
      "F",
      "cost (USD)",
      "savings vs strong",
      "PGR",
    ],
    result.arms.map((a) => [
      a.name,
      pct(a.strongShare),
      ...metricCells(a.metrics),
      a.costUsd,
      pct(a.savingsVsStrong),
      a.pgr === null ? "n/a" : a.pgr.toFixed(3),
    ]),
  );
  return figuresToHtml([accuracyCostFigure(result)], {
    title: opts.title ?? "routerlab SimpleQA evaluation",
    bodyHtml: banner + summary + table + "<h2>Per policy</h2>" + perPolicyTable(result),
  });
}

/** Writes the three output files as one set (all or none); returns their paths. */
export function writeOutputs(
  dir: string,
  result: EvalResult,
  opts: { simulated: boolean; extra?: Record<string, unknown> },
): Record<keyof typeof SIMPLEQA_OUTPUT_FILES, string> {
  writeFileSetAtomic(dir, [
    { name: SIMPLEQA_OUTPUT_FILES.responses, data: responsesJsonl(result) },
    {
      name: SIMPLEQA_OUTPUT_FILES.results,
      data: JSON.stringify(resultsJson(result, opts.extra ?? {}, opts.simulated), null, 2) + "\n",
    },
    { name: SIMPLEQA_OUTPUT_FILES.report, data: reportHtml(result, { simulated: opts.simulated }) },
  ]);
  return {
    responses: path.join(dir, SIMPLEQA_OUTPUT_FILES.responses),
    results: path.join(dir, SIMPLEQA_OUTPUT_FILES.results),
    report: path.join(dir, SIMPLEQA_OUTPUT_FILES.report),
  };
}

/** Metric keys for MLflow: `<arm>.<metric>` (names sanitised to MLflow's key characters). */
export function armMetrics(result: EvalResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of result.arms) {
    const k = a.name.replace(/[^\w\-. /]/g, "_");
    out[`${k}.correct`] = a.metrics.correct;
    out[`${k}.incorrect`] = a.metrics.incorrect;
    out[`${k}.not_attempted`] = a.metrics.notAttempted;
    out[`${k}.cga`] = a.metrics.cga;
    out[`${k}.f`] = a.metrics.f;
    out[`${k}.strong_share`] = a.strongShare;
    out[`${k}.cost_usd`] = a.costUsd;
    if (a.savingsVsStrong !== null) out[`${k}.savings_vs_strong`] = a.savingsVsStrong;
    if (a.pgr !== null) out[`${k}.pgr`] = a.pgr;
  }
  if (result.curve.apgr !== null) out.apgr = result.curve.apgr;
  out.n = result.n;
  out["grading.unparsed"] = result.grading.unparsed;
  out["grading.disagreements"] = result.grading.disagreements;
  out["grading.retries"] = result.grading.retries;
  out["grading.cost_usd"] = result.grading.costUsd;
  out.dataset_cost_usd = result.datasetCostUsd;
  out["spend.cost_usd"] = result.spend.total.costUsd;
  out["spend.calls"] = result.spend.total.calls;
  out["spend.cache_hits"] = result.spend.total.cacheHits;
  out["spend.retries"] = result.spend.total.retries;
  for (const [model, s] of Object.entries(result.spend.byModel)) {
    const m = model.replace(/[^\w\-. /]/g, "_");
    out[`spend.${m}.cost_usd`] = s.costUsd;
    out[`spend.${m}.calls`] = s.calls;
    out[`spend.${m}.cache_hits`] = s.cacheHits;
  }
  return out;
}

/** Results as metrics and the output files as artifacts (responses as an artifact, never params). */
export async function logToRun(
  run: TrackedRun,
  result: EvalResult,
  files: Record<string, string>,
): Promise<void> {
  run.logMetrics(armMetrics(result));
  for (const f of Object.values(files)) await run.logArtifact(f);
}
