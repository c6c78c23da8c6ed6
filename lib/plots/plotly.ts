import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic-write";

/** One plotly trace. Only the commonly used fields are typed; anything else plotly accepts may be added. */
export interface PlotTrace {
  type: "bar" | "scatter" | "histogram" | "heatmap" | "box" | "pie";
  name?: string;
  x?: readonly (number | string)[];
  y?: readonly (number | string)[];
  z?: readonly (readonly (number | null)[])[];
  text?: readonly string[] | string;
  labels?: readonly string[];
  values?: readonly number[];
  mode?: "lines" | "markers" | "lines+markers" | "text" | "markers+text";
  orientation?: "v" | "h";
  marker?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface PlotLayout {
  title?: string | { text: string };
  xaxis?: Record<string, unknown>;
  yaxis?: Record<string, unknown>;
  barmode?: "group" | "stack" | "overlay" | "relative";
  height?: number;
  width?: number;
  [key: string]: unknown;
}

/** A plotly figure spec: what `Plotly.newPlot(div, data, layout)` takes. */
export interface Figure {
  data: PlotTrace[];
  layout: PlotLayout;
}

export function barChart(
  title: string,
  x: readonly string[],
  series: readonly { name: string; y: readonly number[] }[],
  opts: { xTitle?: string; yTitle?: string; barmode?: PlotLayout["barmode"] } = {},
): Figure {
  return {
    data: series.map((s) => ({ type: "bar", name: s.name, x: [...x], y: [...s.y] })),
    layout: {
      title: { text: title },
      barmode: opts.barmode ?? "group",
      xaxis: opts.xTitle ? { title: { text: opts.xTitle } } : {},
      yaxis: opts.yTitle ? { title: { text: opts.yTitle } } : {},
    },
  };
}

export function histogram(
  title: string,
  series: readonly { name: string; values: readonly number[] }[],
  opts: { xTitle?: string; nbinsx?: number } = {},
): Figure {
  return {
    data: series.map((s) => ({
      type: "histogram",
      name: s.name,
      x: [...s.values],
      opacity: series.length > 1 ? 0.6 : 1,
      ...(opts.nbinsx ? { nbinsx: opts.nbinsx } : {}),
    })),
    layout: {
      title: { text: title },
      barmode: "overlay",
      xaxis: opts.xTitle ? { title: { text: opts.xTitle } } : {},
      yaxis: { title: { text: "count" } },
    },
  };
}

export function heatmap(
  title: string,
  x: readonly string[],
  y: readonly string[],
  z: readonly (readonly (number | null)[])[],
): Figure {
  return {
    data: [{ type: "heatmap", x: [...x], y: [...y], z: z.map((r) => [...r]), colorscale: "Viridis" }],
    layout: { title: { text: title } },
  };
}

let plotlySource: string | undefined;

/** The minified plotly.js bundle from the `plotly.js-dist-min` package (read once). */
export function plotlyJs(): string {
  if (plotlySource === undefined) {
    // Guard the inline <script> element against an early close (the bundle has none today).
    plotlySource = readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8").replace(
      /<\/script/gi,
      "<\\/script",
    );
  }
  return plotlySource;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** JSON safe to embed inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

function figureDivs(figs: readonly Figure[], idPrefix: string, waitForPlotly = false): string {
  return figs
    .map((f, i) => {
      const id = `${idPrefix}-${i}`;
      const plot = `Plotly.newPlot(${JSON.stringify(id)}, ${scriptJson(f.data)}, ${scriptJson(f.layout)}, {responsive: true});`;
      const script = waitForPlotly
        ? `(function draw(n) { if (typeof Plotly !== "undefined") { ${plot} } else if (n > 0) { setTimeout(function () { draw(n - 1); }, 100); } })(100);`
        : plot;
      return `<div id="${id}" class="routerlab-plot" style="width:100%;min-height:420px"></div>\n<script>${script}</script>`;
    })
    .join("\n");
}

/**
 * A standalone HTML page (plotly.js inlined, so it works offline and as an MLflow artifact) holding
 * every figure, with an optional HTML fragment (e.g. a summary table) above them.
 */
export function figuresToHtml(
  figs: readonly Figure[],
  opts: { title?: string; bodyHtml?: string } = {},
): string {
  const title = escapeHtml(opts.title ?? "routerlab");
  return [
    "<!DOCTYPE html>",
    '<html><head><meta charset="utf-8">',
    `<title>${title}</title>`,
    `<script>${plotlyJs()}</script>`,
    "<style>body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style>",
    "</head><body>",
    `<h1>${title}</h1>`,
    opts.bodyHtml ?? "",
    figureDivs(figs, "fig"),
    "</body></html>",
    "",
  ].join("\n");
}

/** Writes the figures as one standalone HTML file (creating its folder) and returns the path. */
export function writeFiguresHtml(
  file: string,
  figs: readonly Figure[],
  opts: { title?: string; bodyHtml?: string } = {},
): string {
  writeFileAtomic(file, figuresToHtml(figs, opts));
  return file;
}

export const writeFigureHtml = (file: string, fig: Figure, title?: string): string =>
  writeFiguresHtml(file, [fig], { title });

/** An HTML table from rows of cells (escaped). */
export function htmlTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cell = (v: string | number, tag: string): string =>
    `<${tag}>${escapeHtml(typeof v === "number" ? formatNumber(v) : v)}</${tag}>`;
  return (
    "<table><thead><tr>" +
    header.map((h) => cell(h, "th")).join("") +
    "</tr></thead><tbody>" +
    rows.map((r) => "<tr>" + r.map((c) => cell(c, "td")).join("") + "</tr>").join("") +
    "</tbody></table>"
  );
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) < 0.01 ? v.toExponential(3) : v.toFixed(4);
}

/** Plotly's own notebook MIME type: JupyterLab (with plotly's renderer), VS Code and nbviewer draw it natively. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** One Jupyter display_data bundle: MIME type -> content (JSON for the plotly type, strings otherwise). */
export type MimeBundle = Record<string, unknown>;

function figureTitle(fig: Figure): string {
  const t = fig.layout.title;
  return (typeof t === "string" ? t : t?.text) ?? "chart";
}

/**
 * The display bundle of one figure: plotly's MIME type (the figure as JSON, which a renderer draws without running
 * any script, so it shows in a saved notebook reopened anywhere), an HTML fallback for front ends without plotly's
 * renderer (it runs a script, so it shows in a live session or a trusted notebook), and a plain-text line.
 * `plotlyInline` puts the plotly.js bundle in the HTML fallback (once per kernel session is enough: later
 * fallbacks wait for it).
 */
export function notebookBundle(fig: Figure, opts: { id: string; plotlyInline: boolean }): MimeBundle {
  const lib = opts.plotlyInline
    ? `<script>if (typeof Plotly === "undefined") { ${plotlyJs()} }</script>\n`
    : "";
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: { responsive: true } },
    "text/html": lib + figureDivs([fig], opts.id, true),
    "text/plain": `plotly chart: ${figureTitle(fig)} (${fig.data.length} trace${fig.data.length === 1 ? "" : "s"})`,
  };
}

type WriteDisplayData = (
  msg: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> },
  update?: boolean,
) => void;

/**
 * tslab's writer for the cell being executed. tslab's public `display.raw` sends one MIME type per output, so a
 * bundle with a fallback goes through the writer its `display` uses (tslab 1.0.x `dist/jupyter`). Undefined
 * outside a running kernel (tslab is a devDependency, and is not "ready" outside a kernel).
 */
function tslabWriter(): WriteDisplayData | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: unknown };
    const w = jupyter.lastWriteDisplayData;
    return typeof w === "function" ? (w as WriteDisplayData) : undefined;
  } catch {
    return undefined;
  }
}

let notebookCounter = 0;
let plotlyInlined = false;

/**
 * Shows figures inline in a tslab notebook cell, one output per figure, each a bundle from `notebookBundle`
 * (plotly's MIME type with an HTML fallback). Returns false when not running inside a tslab kernel.
 */
export function displayInNotebook(fig: Figure | readonly Figure[]): boolean {
  const write = tslabWriter();
  if (write === undefined) return false;
  const figs = Array.isArray(fig) ? (fig as readonly Figure[]) : [fig as Figure];
  for (const f of figs) {
    notebookCounter += 1;
    const id = `routerlab-nb-${process.pid}-${notebookCounter}`;
    write({ data: notebookBundle(f, { id, plotlyInline: !plotlyInlined }), metadata: {}, transient: {} });
    plotlyInlined = true;
  }
  return true;
}
