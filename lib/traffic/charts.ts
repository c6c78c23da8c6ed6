/** Plotly figures (lib/plots) for the decision analytics. */
import type { Figure } from "../plots/plotly";
import { barChart, histogram } from "../plots/plotly";
import type { ModelUsage, ScoreDrift, ShareOverTime, VariantStats } from "./analytics";
import type { GateDecision } from "./gate";

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

/** Stacked bars: each key's share of the decisions in each time bucket. */
export function shareChart(s: ShareOverTime, title: string): Figure {
  return barChart(
    title,
    s.buckets.map(day),
    s.keys.map((k, i) => ({ name: k, y: s.shares[i]!.map((x) => Math.round(x * 1000) / 10) })),
    { barmode: "stack", yTitle: "% of decisions", xTitle: "bucket start (UTC)" },
  );
}

export function latencyChart(usage: readonly ModelUsage[]): Figure {
  return barChart(
    "Latency per answering model",
    usage.map((u) => u.model),
    [
      { name: "p50 (s)", y: usage.map((u) => u.latency.p50) },
      { name: "p95 (s)", y: usage.map((u) => u.latency.p95) },
    ],
    { yTitle: "seconds" },
  );
}

/** Strong share per experiment variant with its 95% Wilson interval as error bars. */
export function variantChart(variants: readonly VariantStats[]): Figure {
  return {
    data: [
      {
        type: "bar",
        name: "strong share",
        x: variants.map((v) => `${v.experiment}/${v.variant}`),
        y: variants.map((v) => v.strongShare.p * 100),
        error_y: {
          type: "data",
          symmetric: false,
          array: variants.map((v) => (v.strongShare.hi - v.strongShare.p) * 100),
          arrayminus: variants.map((v) => (v.strongShare.p - v.strongShare.lo) * 100),
        },
      },
    ],
    layout: {
      title: { text: "Strong share per experiment variant (95% Wilson intervals)" },
      yaxis: { title: { text: "% routed to strong" } },
    },
  };
}

/** KS p-value of each window against the calibration set, log scale, with the alpha line; red where recalibration is signalled. */
export function driftChart(windows: readonly { start: number; drift: ScoreDrift }[], alpha: number): Figure {
  const x = windows.map((w) => day(w.start));
  return {
    data: [
      {
        type: "scatter",
        mode: "lines+markers",
        name: "KS p-value",
        x,
        y: windows.map((w) => Math.max(1e-300, w.drift.ks?.pValue ?? 1)),
        marker: { color: windows.map((w) => (w.drift.recalibrate ? "crimson" : "seagreen")), size: 10 },
      },
      {
        type: "scatter",
        mode: "lines",
        name: `alpha ${alpha}`,
        x,
        y: x.map(() => alpha),
        line: { dash: "dash", color: "gray" },
      },
    ],
    layout: {
      title: { text: "Live score drift against the calibration set (red: recalibrate)" },
      yaxis: { type: "log", title: { text: "KS p-value" } },
    },
  };
}

export function scoreHistogram(
  reference: readonly number[],
  live: readonly number[],
  liveName: string,
): Figure {
  return histogram(
    "Router score for the strong model: calibration set vs live",
    [
      { name: "calibration set", values: reference },
      { name: liveName, values: live },
    ],
    { xTitle: "score", nbinsx: 40 },
  );
}

/** The promotion gate's evidence: champion and challenger quality per strong share, and the paired difference with its interval. */
export function gateChart(d: GateDecision): Figure {
  const x = d.atShare.map((g) => `${Math.round(g.share * 100)}% strong`);
  return {
    data: [
      { type: "bar", name: "champion", x, y: d.atShare.map((g) => g.champion) },
      { type: "bar", name: "challenger", x, y: d.atShare.map((g) => g.challenger) },
      {
        type: "scatter",
        mode: "markers",
        name: `challenger - champion (${d.level * 100}% paired bootstrap)`,
        x,
        y: d.atShare.map((g) => g.diff),
        yaxis: "y2",
        error_y: {
          type: "data",
          symmetric: false,
          array: d.atShare.map((g) => g.hi - g.diff),
          arrayminus: d.atShare.map((g) => g.diff - g.lo),
        },
      },
    ],
    layout: {
      title: { text: `Promotion gate, n = ${d.n}: ${d.promote ? "PROMOTE" : "keep the champion"}` },
      barmode: "group",
      yaxis: { title: { text: "mean quality on the held-out traffic" } },
      yaxis2: { title: { text: "difference" }, overlaying: "y", side: "right", zeroline: true },
    },
  };
}
