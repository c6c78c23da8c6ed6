/** The run step framework of `routerlab run`: load and summarise the data, report, then the main job. */
import path from "node:path";
import type { BundledDataset } from "../data/bundled";
import { BUNDLED_DATASETS, bundledPaths, bundledRouting } from "../data/bundled";
import type { LengthStats, ModelStats, WinTieLoss } from "../data/explore";
import { countBy, explorationFigures, modelStats, queryLengthStats, winTieLoss } from "../data/explore";
import type { LoadReport } from "../data/load";
import type { RoutingData } from "../data/routing";
import type { SimpleQaRow } from "../data/simpleqa";
import { loadSimpleQa } from "../data/simpleqa";
import { figuresToHtml, htmlTable } from "../plots/plotly";
import type { MainJobConfig } from "./config";
import { runMainJob, summaryTable } from "./main-job";
import { timingTable } from "./timing";
import { writeFolderAtomic } from "../util/atomic-write";
import { outDir } from "../util/paths";
import { progressBar } from "../util/progress";

/** What the steps share. Later steps (embed, train, evaluate) add their own fields. */
export interface RunContext {
  outDir: string;
  /** Max rows per dataset (for smoke runs); undefined = all. */
  sample?: number;
  routing: Partial<Record<BundledDataset, RoutingData>>;
  simpleqa: SimpleQaRow[];
  reports: LoadReport[];
  summary?: RunSummary;
  log(msg: string): void;
}

export interface RunStep {
  name: string;
  description: string;
  run(ctx: RunContext): void | Promise<void>;
}

export interface DatasetSummary {
  name: string;
  queries: number;
  models: string[];
  qualityScale: { min: number; max: number } | null;
  perModel: ModelStats[];
  winTieLoss: WinTieLoss[];
  queryLength: LengthStats;
  groups: { key: string; count: number }[];
}

export interface RunSummary {
  generatedAt: string;
  datasets: DatasetSummary[];
  simpleqa: {
    rows: number;
    topics: { key: string; count: number }[];
    answerTypes: { key: string; count: number }[];
  };
  loads: {
    files: number;
    rowsRead: number;
    rowsAccepted: number;
    rowsQuarantined: number;
    warnings: string[];
  };
}

function sampled(d: RoutingData, n?: number): RoutingData {
  if (n === undefined || d.queryIds.length <= n) return d;
  const m = d.models.length;
  return {
    ...d,
    queryIds: d.queryIds.slice(0, n),
    queries: d.queries.slice(0, n),
    quality: d.quality.slice(0, n * m),
    cost: d.cost.slice(0, n * m),
    latency: d.latency?.slice(0, n * m),
    groups: d.groups?.slice(0, n),
  };
}

export const loadDataStep: RunStep = {
  name: "load-data",
  description: "load every bundled dataset through lib/data (quarantine under <out>/quarantine)",
  run(ctx) {
    const bar = progressBar("load data", BUNDLED_DATASETS.length + 1, "datasets");
    const opts = { quarantineDir: path.join(ctx.outDir, "quarantine") };
    for (const name of BUNDLED_DATASETS) {
      const d = bundledRouting(name, opts);
      ctx.routing[name] = sampled(d.data, ctx.sample);
      ctx.reports.push(...d.reports);
      bar.tick();
    }
    const sq = loadSimpleQa(bundledPaths().simpleqa, opts);
    ctx.simpleqa = ctx.sample !== undefined ? sq.rows.slice(0, ctx.sample) : sq.rows;
    ctx.reports.push(sq.report);
    bar.tick();
    bar.stop();
  },
};

export const summariseStep: RunStep = {
  name: "summarise",
  description: "per-model accuracy and cost, win/tie/loss, query lengths and topics",
  run(ctx) {
    const datasets = Object.values(ctx.routing).map((d): DatasetSummary => ({
      name: d.name,
      queries: d.queryIds.length,
      models: [...d.models],
      qualityScale: d.qualityScale ?? null,
      perModel: modelStats(d),
      winTieLoss: winTieLoss(d),
      queryLength: queryLengthStats(d.queries),
      groups: d.groups ? countBy(d.groups) : [],
    }));
    const sum = (f: (r: LoadReport) => number) => ctx.reports.reduce((s, r) => s + f(r), 0);
    ctx.summary = {
      generatedAt: new Date().toISOString(),
      datasets,
      simpleqa: {
        rows: ctx.simpleqa.length,
        topics: countBy(ctx.simpleqa.map((r) => r.topic)),
        answerTypes: countBy(ctx.simpleqa.map((r) => r.answerType)),
      },
      loads: {
        files: ctx.reports.length,
        rowsRead: sum((r) => r.rowsRead),
        rowsAccepted: sum((r) => r.rowsAccepted),
        rowsQuarantined: sum((r) => r.rowsQuarantined),
        warnings: ctx.reports.flatMap((r) => r.warnings.map((w) => `${path.basename(r.file)}: ${w}`)),
      },
    };
  },
};

function summaryRows(s: RunSummary): (string | number)[][] {
  return s.datasets.flatMap((d) =>
    d.perModel.map((m) => [d.name, d.queries, m.model, m.meanQuality, m.meanCost, m.totalCost]),
  );
}

const HEADER = ["dataset", "queries", "model", "mean quality", "USD/query", "USD total"];

export const reportStep: RunStep = {
  name: "report",
  description:
    "write <out>/summary/summary.json and index.html (interactive charts), print the summary table",
  run(ctx) {
    const s = ctx.summary;
    if (!s) throw new Error("the summarise step must run before the report step");
    const dir = path.join(ctx.outDir, "summary");
    const figs = explorationFigures(Object.values(ctx.routing), ctx.simpleqa);
    const loads = `<p>${s.loads.files} files: ${s.loads.rowsRead} rows read, ${s.loads.rowsAccepted} accepted, ${s.loads.rowsQuarantined} quarantined. Costs are estimates (docs/data.md).</p>`;
    const html = figuresToHtml(figs, {
      title: "routerlab: bundled data summary",
      bodyHtml: loads + htmlTable(HEADER, summaryRows(s)),
    });
    // summary.json and index.html appear together or not at all
    writeFolderAtomic(
      dir,
      [
        { name: "summary.json", data: JSON.stringify(s, null, 2) + "\n" },
        { name: "index.html", data: html },
      ],
      { owns: (n) => n === "summary.json" || n === "index.html" },
    );
    ctx.log(formatTable(HEADER, summaryRows(s)));
    ctx.log(`\n${loads.replace(/<[^>]+>/g, "")}`);
    ctx.log(`wrote ${path.join(dir, "summary.json")} and ${path.join(dir, "index.html")}`);
  },
};

/** Embed, train every router, evaluate against baselines, calibrate, log the runs, write the reports. */
export function mainJobStep(config: MainJobConfig): RunStep {
  return {
    name: "main-job",
    description:
      "embed, train every router (k-fold), evaluate vs baselines, calibrate, journal runs, write reports",
    async run(ctx) {
      const result = await runMainJob({ ...config, outDir: config.outDir ?? path.join(ctx.outDir, "main") });
      ctx.log(summaryTable(result));
      ctx.log(timingTable(result.steps, result.seconds));
    },
  };
}

/** The data-summary steps of `routerlab run` (all of it with --summary-only). */
export const RUN_STEPS: RunStep[] = [loadDataStep, summariseStep, reportStep];

export function formatTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const fmt = (v: string | number) =>
    typeof v === "number"
      ? Number.isInteger(v)
        ? String(v)
        : Math.abs(v) < 0.01
          ? v.toExponential(2)
          : v.toFixed(4)
      : v;
  const cells = [header.map(String), ...rows.map((r) => r.map(fmt))];
  const widths = header.map((_h, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}

export async function runPipeline(
  opts: { outDir?: string; sample?: number; log?: (msg: string) => void; steps?: readonly RunStep[] } = {},
): Promise<RunContext> {
  const ctx: RunContext = {
    outDir: opts.outDir ?? outDir(),
    sample: opts.sample,
    routing: {},
    simpleqa: [],
    reports: [],
    log: opts.log ?? ((m) => process.stdout.write(m + "\n")),
  };
  for (const step of opts.steps ?? RUN_STEPS) {
    const t = Date.now();
    process.stderr.write(`[routerlab run] ${step.name}: ${step.description}\n`);
    await step.run(ctx);
    process.stderr.write(`[routerlab run] ${step.name} done in ${((Date.now() - t) / 1000).toFixed(1)}s\n`);
  }
  return ctx;
}
