import { figuresToHtml, htmlTable } from "../plots/plotly";
import type { Figure, PlotTrace } from "../plots/plotly";
import { arenaScore } from "../eval/arena";
import { upperHullNonDecreasing } from "../eval/multi";
import { oracleGapOf } from "../eval/optimality";
import type { MultiComparison } from "./multi";

/** LLMRouterBench's gap to the oracle of a router's argmax point: absolute (relative to the oracle's quality). */
function gapCell(quality: number, oracle: number): string {
  const g = oracleGapOf(quality, oracle);
  return `${g.gap.toFixed(4)} (${g.relativeGap === null ? "n/a" : `${(100 * g.relativeGap).toFixed(1)}%`})`;
}

/** RouterArena's accuracy-cost score of a mean quality in [0, 1] and a mean cost per query; n/a otherwise. */
function arenaCell(quality: number, costPerQuery: number): string {
  const ok = quality >= 0 && quality <= 1 && Number.isFinite(costPerQuery) && costPerQuery >= 0;
  return ok ? arenaScore(quality, 1000 * costPerQuery).toFixed(4) : "n/a";
}

/** Cost-quality chart of every router's λ sweep, the single models and the Zero router, plus the AIQ table. */
export function multiReportHtml(m: MultiComparison): string {
  const zero = upperHullNonDecreasing(m.singleModels);
  const fig: Figure = {
    data: [
      {
        type: "scatter",
        mode: "markers+text",
        name: "single models",
        x: m.singleModels.map((p) => p.cost),
        y: m.singleModels.map((p) => p.quality),
        text: m.singleModels.map((p) => p.model),
      },
      {
        type: "scatter",
        mode: "lines",
        name: `Zero router (AIQ ${m.zeroAiq.toFixed(4)})`,
        x: zero.map((p) => p.cost),
        y: zero.map((p) => p.quality),
      },
      ...m.routers.map((r): PlotTrace => {
        const hull = upperHullNonDecreasing([...r.curve, r.point]);
        return {
          type: "scatter",
          mode: "lines+markers",
          name: `${r.router} (AIQ ${r.aiq.toFixed(4)})`,
          x: hull.map((p) => p.cost),
          y: hull.map((p) => p.quality),
        };
      }),
    ],
    layout: {
      title: { text: `${m.dataset}: cost vs quality (non-decreasing hulls of the λ sweeps)` },
      xaxis: { title: { text: "mean cost per query (USD)" }, type: "log" },
      yaxis: { title: { text: "mean quality" } },
    },
  };
  const pct = `${Math.round(m.bootstrap.level * 100)}%`;
  const iv = (i: { lo: number; hi: number }): string => `[${i.lo.toFixed(4)}, ${i.hi.toFixed(4)}]`;
  const table = htmlTable(
    [
      "router",
      "AIQ",
      `AIQ ${pct} interval`,
      "AIQ − Zero interval",
      "quality (argmax)",
      "cost $/query (argmax)",
      "gap to oracle (relative)",
      "arena score (argmax)",
      "fit seconds",
    ],
    [
      ["Zero router", m.zeroAiq.toFixed(4), iv(m.zeroAiqInterval), "", "", "", "", "", ""],
      ...m.routers.map((r) => [
        r.router,
        r.aiq.toFixed(4),
        iv(r.aiqInterval),
        iv({ lo: r.aiqInterval.diffLo, hi: r.aiqInterval.diffHi }),
        r.point.quality.toFixed(4),
        r.point.cost.toExponential(3),
        gapCell(r.point.quality, m.oracle.quality),
        arenaCell(r.point.quality, r.point.cost),
        r.fitSeconds.toFixed(1),
      ]),
      [
        "oracle",
        "",
        "",
        "",
        m.oracle.quality.toFixed(4),
        m.oracle.cost.toExponential(3),
        "",
        arenaCell(m.oracle.quality, m.oracle.cost),
        "",
      ],
    ],
  );
  const body =
    `<p>Train ${m.nTrain} / test ${m.nTest} queries (test questions also in train removed). AIQ over the common interval ` +
    `[${m.interval.cMin.toExponential(3)}, ${m.interval.cMax.toExponential(3)}] USD per query, paper definition (metrics.md §10). ` +
    `A router's per-model scores serve as predicted quality in the willingness-to-pay sweep π_λ = argmax λ·P̂ − C. ` +
    `Intervals: ${pct} percentile bootstrap over the test queries (${m.bootstrap.resamples} resamples, seed ${m.bootstrap.seed}; ` +
    `decisions fixed, single models, common interval and hulls recomputed per resample); AIQ − Zero is paired. ` +
    `Gap to oracle (LLMRouterBench): the oracle's quality (best model per query) minus the router's at its argmax point. ` +
    `Arena score: RouterArena's accuracy-cost score with the mean quality as accuracy and 1000 × the mean cost per query.</p>${table}`;
  return figuresToHtml([fig], { title: `routerlab multi-model evaluation: ${m.dataset}`, bodyHtml: body });
}
