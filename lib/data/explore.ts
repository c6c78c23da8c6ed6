import type { Figure } from "../plots/plotly";
import { barChart, heatmap, histogram } from "../plots/plotly";
import type { RoutingData } from "./routing";

export interface ModelStats {
  model: string;
  /** Mean quality over observed queries (native scale). */
  meanQuality: number;
  /** Mean USD per query. */
  meanCost: number;
  totalCost: number;
  observed: number;
}

/** Per-model mean quality and cost (plain loops; see frame.ts perModelSummary for the polars form). */
export function modelStats(d: RoutingData): ModelStats[] {
  const M = d.models.length;
  return d.models.map((model, j) => {
    let q = 0;
    let c = 0;
    let n = 0;
    let nc = 0;
    for (let i = 0; i < d.queryIds.length; i++) {
      const v = d.quality[i * M + j]!;
      if (!Number.isNaN(v)) {
        q += v;
        n++;
      }
      const k = d.cost[i * M + j]!;
      if (!Number.isNaN(k)) {
        c += k;
        nc++;
      }
    }
    return { model, meanQuality: n ? q / n : NaN, meanCost: nc ? c / nc : NaN, totalCost: c, observed: n };
  });
}

export interface WinTieLoss {
  a: string;
  b: string;
  /** Queries where a's quality > b's, equal, lower (both observed). */
  win: number;
  tie: number;
  loss: number;
}

/** Win/tie/loss for every ordered pair of models (a != b). */
export function winTieLoss(d: RoutingData): WinTieLoss[] {
  const M = d.models.length;
  const out: WinTieLoss[] = [];
  for (let a = 0; a < M; a++) {
    for (let b = 0; b < M; b++) {
      if (a === b) continue;
      let win = 0;
      let tie = 0;
      let loss = 0;
      for (let i = 0; i < d.queryIds.length; i++) {
        const x = d.quality[i * M + a]!;
        const y = d.quality[i * M + b]!;
        if (Number.isNaN(x) || Number.isNaN(y)) continue;
        if (x > y) win++;
        else if (x < y) loss++;
        else tie++;
      }
      out.push({ a: d.models[a]!, b: d.models[b]!, win, tie, loss });
    }
  }
  return out;
}

export interface LengthStats {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  max: number;
}

export function queryLengthStats(queries: readonly string[]): LengthStats {
  const lens = queries.map((q) => q.length).sort((a, b) => a - b);
  const pick = (p: number) => lens[Math.min(lens.length - 1, Math.floor(p * lens.length))] ?? NaN;
  return {
    n: lens.length,
    mean: lens.reduce((s, x) => s + x, 0) / Math.max(1, lens.length),
    p50: pick(0.5),
    p90: pick(0.9),
    max: lens[lens.length - 1] ?? NaN,
  };
}

export function countBy(values: readonly string[]): { key: string; count: number }[] {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.entries()]
    .map(([key, count]) => ({ key, count }))
    .sort((x, y) => y.count - x.count || x.key.localeCompare(y.key));
}

const short = (m: string) => m.replace(/^.*\//, "");

export function accuracyFigure(d: RoutingData): Figure {
  const s = modelStats(d);
  const scale = d.qualityScale ? ` (${d.qualityScale.min}-${d.qualityScale.max})` : "";
  return barChart(
    `${d.name}: mean quality per model${scale}`,
    s.map((x) => short(x.model)),
    [{ name: "mean quality", y: s.map((x) => x.meanQuality) }],
    {
      yTitle: "mean quality",
    },
  );
}

export function costFigure(d: RoutingData): Figure {
  const s = modelStats(d);
  return barChart(
    `${d.name}: mean cost per query (USD, estimated)`,
    s.map((x) => short(x.model)),
    [{ name: "USD / query", y: s.map((x) => x.meanCost) }],
    {
      yTitle: "USD per query",
    },
  );
}

/** Two models: stacked win/tie/loss bar; more: heatmap of win share (row beats column). */
export function winTieLossFigure(d: RoutingData): Figure {
  const w = winTieLoss(d);
  if (d.models.length === 2) {
    const p = w[0]!;
    const label = `${short(p.a)} vs ${short(p.b)}`;
    return barChart(
      `${d.name}: win / tie / loss`,
      [label],
      [
        { name: `${short(p.a)} wins`, y: [p.win] },
        { name: "tie", y: [p.tie] },
        { name: `${short(p.b)} wins`, y: [p.loss] },
      ],
      { barmode: "stack", yTitle: "queries" },
    );
  }
  const names = d.models.map(short);
  const z = d.models.map((a) =>
    d.models.map((b) => {
      if (a === b) return null;
      const p = w.find((x) => x.a === a && x.b === b)!;
      const n = p.win + p.tie + p.loss;
      return n ? p.win / n : null;
    }),
  );
  return heatmap(`${d.name}: share of queries where the row model beats the column model`, names, names, z);
}

export function queryLengthFigure(datasets: readonly { name: string; queries: readonly string[] }[]): Figure {
  return histogram(
    "query length (characters, log10)",
    datasets.map((d) => ({ name: d.name, values: d.queries.map((q) => Math.log10(Math.max(1, q.length))) })),
    { xTitle: "log10(characters)", nbinsx: 60 },
  );
}

export function countFigure(title: string, counts: readonly { key: string; count: number }[]): Figure {
  return barChart(
    title,
    counts.map((c) => c.key),
    [{ name: "count", y: counts.map((c) => c.count) }],
    { yTitle: "count" },
  );
}

/** The exploration charts for a set of routing datasets plus SimpleQA topics (used by `routerlab run` and the notebook). */
export function explorationFigures(
  datasets: readonly RoutingData[],
  simpleqa?: { topic: string; answerType: string }[],
): Figure[] {
  const figs: Figure[] = [];
  for (const d of datasets) figs.push(accuracyFigure(d), costFigure(d), winTieLossFigure(d));
  figs.push(queryLengthFigure(datasets));
  for (const d of datasets)
    if (d.groups && new Set(d.groups).size > 1)
      figs.push(countFigure(`${d.name}: queries per group`, countBy(d.groups)));
  if (simpleqa && simpleqa.length > 0) {
    figs.push(countFigure("SimpleQA: questions per topic", countBy(simpleqa.map((r) => r.topic))));
    figs.push(countFigure("SimpleQA: questions per answer type", countBy(simpleqa.map((r) => r.answerType))));
  }
  return figs;
}
