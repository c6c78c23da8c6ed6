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

function escapeHtml(s: string): string {
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

interface TslabDisplay {
  html(s: string): void;
}

let notebookCounter = 0;
let plotlyInlined = false;

/**
 * Shows figures in a tslab notebook cell (interactive; plotly.js is inlined in the cell output, so it
 * works offline). Returns false when not running inside a tslab kernel (tslab is a devDependency).
 */
export function displayInNotebook(fig: Figure | readonly Figure[]): boolean {
  let display: TslabDisplay;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    display = (require("tslab") as { display: TslabDisplay }).display;
  } catch {
    return false;
  }
  const figs = Array.isArray(fig) ? (fig as readonly Figure[]) : [fig as Figure];
  notebookCounter += 1;
  const prefix = `routerlab-nb-${process.pid}-${notebookCounter}`;
  // plotly.js (~5 MB) is inlined in the first output of the kernel session only; later outputs wait
  // for it, so a notebook with many charts stays small.
  const lib = plotlyInlined ? "" : `<script>if (typeof Plotly === "undefined") { ${plotlyJs()} }</script>\n`;
  try {
    display.html(lib + figureDivs(figs, prefix, true));
  } catch {
    // tslab throws "Not ready" when loaded outside a running kernel.
    return false;
  }
  plotlyInlined = true;
  return true;
}
