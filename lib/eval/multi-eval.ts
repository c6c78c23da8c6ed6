/**
 * Multi-model evaluation (LLMRouter data): a per-task mean-quality predictor as a baseline scorer, and the
 * willingness-to-pay sweep, Pareto frontier and AIQ against the Zero router for any per-model scores.
 */

import { llmrouterRouting } from "../data/bundled";
import type { Figure, PlotTrace } from "../plots/plotly";
import { figuresToHtml, htmlTable } from "../plots/plotly";
import { RouterlabError } from "../util/errors";
import { writeFileSetAtomic } from "../util/atomic-write";
import { loadScoresFile } from "./scores-file";
import type { RoutingData } from "../data/routing";
import type { CostQuality, WtpPoint } from "./multi";
import {
  aiq,
  commonInterval,
  paretoFrontier,
  singleModelPoints,
  upperHullNonDecreasing,
  wtpCurve,
  wtpLambdas,
  zeroRouter,
} from "./multi";

/** Test rows whose query text does not appear in train (the bundled LLMRouter split overlaps by 119). */
export function dedupeAgainst(train: RoutingData, test: RoutingData): number[] {
  const seen = new Set(train.queries);
  const rows: number[] = [];
  test.queries.forEach((q, i) => {
    if (!seen.has(q)) rows.push(i);
  });
  return rows;
}

/**
 * Predicted quality of each test model on each of `rows`: the model's mean quality over the training
 * queries of the same group (task), falling back to its overall mean. N x M in the test's model order.
 */
export function taskMeanPredictor(
  train: RoutingData,
  test: RoutingData,
  rows: readonly number[],
): Float64Array {
  const M = test.models.length;
  const MT = train.models.length;
  const col = test.models.map((m) => {
    const j = train.models.indexOf(m);
    if (j < 0) throw new Error(`model ${m} is in ${test.name} but not in ${train.name}`);
    return j;
  });
  const byTask = new Map<string, { sum: Float64Array; n: Float64Array }>();
  const overall = { sum: new Float64Array(M), n: new Float64Array(M) };
  for (let q = 0; q < train.queryIds.length; q++) {
    const g = train.groups?.[q] ?? "unknown";
    let e = byTask.get(g);
    if (!e) byTask.set(g, (e = { sum: new Float64Array(M), n: new Float64Array(M) }));
    for (let m = 0; m < M; m++) {
      const v = train.quality[q * MT + col[m]!]!;
      if (Number.isNaN(v)) continue;
      e.sum[m]! += v;
      e.n[m]!++;
      overall.sum[m]! += v;
      overall.n[m]!++;
    }
  }
  const pred = new Float64Array(rows.length * M);
  rows.forEach((q, i) => {
    const e = byTask.get(test.groups?.[q] ?? "unknown");
    for (let m = 0; m < M; m++)
      pred[i * M + m] = e && e.n[m]! > 0 ? e.sum[m]! / e.n[m]! : overall.sum[m]! / overall.n[m]!;
  });
  return pred;
}

export interface MultiEvaluation {
  readonly router: string;
  readonly n: number;
  readonly models: readonly string[];
  readonly curve: WtpPoint[];
  readonly frontier: WtpPoint[];
  readonly hull: CostQuality[];
  readonly singles: CostQuality[];
  readonly zeroHull: CostQuality[];
  readonly interval: { cMin: number; cMax: number };
  readonly aiq: number;
  readonly zeroAiq: number;
}

/** Evaluates per-model predictions on rows of `data` (quality and cost observed, N x M). */
export function evaluateMulti(
  router: string,
  predicted: Float64Array,
  trueQuality: Float64Array,
  cost: Float64Array,
  models: readonly string[],
  lambdas: readonly number[] = wtpLambdas(),
): MultiEvaluation {
  const M = models.length;
  const singles = singleModelPoints(trueQuality, cost, M);
  const curve = wtpCurve(predicted, trueQuality, cost, M, lambdas);
  const interval = commonInterval(singles, [curve]);
  return {
    router,
    n: trueQuality.length / M,
    models,
    curve,
    frontier: paretoFrontier(curve),
    hull: upperHullNonDecreasing(curve),
    singles,
    zeroHull: zeroRouter(singles),
    interval,
    aiq: aiq(curve, interval),
    zeroAiq: aiq(zeroRouter(singles), interval),
  };
}

export function multiCostQualityFigure(dataset: string, evals: readonly MultiEvaluation[]): Figure {
  const data: PlotTrace[] = [];
  for (const e of evals) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: `${e.router} λ sweep`,
      x: e.curve.map((p) => p.cost),
      y: e.curve.map((p) => p.quality),
      marker: { size: 4 },
    });
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${e.router} hull (AIQ ${e.aiq.toFixed(3)})`,
      x: [...e.hull.map((p) => p.cost), e.interval.cMax],
      y: [...e.hull.map((p) => p.quality), e.hull[e.hull.length - 1]!.quality],
    });
  }
  const first = evals[0];
  if (first) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: `Zero router (AIQ ${first.zeroAiq.toFixed(3)})`,
      x: [...first.zeroHull.map((p) => p.cost), first.interval.cMax],
      y: [...first.zeroHull.map((p) => p.quality), first.zeroHull[first.zeroHull.length - 1]!.quality],
      line: { dash: "dash", color: "gray" },
    });
    data.push({
      type: "scatter",
      mode: "markers+text",
      name: "single models",
      x: first.singles.map((p) => p.cost),
      y: first.singles.map((p) => p.quality),
      text: [...first.models],
      textposition: "top center",
    });
  }
  return {
    data,
    layout: {
      title: { text: `${dataset}: cost-quality (willingness-to-pay sweep)` },
      xaxis: { title: { text: "average cost per query (USD)" }, type: "log" },
      yaxis: { title: { text: "average quality" } },
    },
  };
}

/** The multi-model dataset: LLMRouter's test split (9 open models, prices from the candidate list). */
export const MULTI_DATASET = "llmrouter-test";

/**
 * Evaluates multi-model scores files on MULTI_DATASET (λ sweep, Pareto frontier, AIQ vs the Zero router) and writes
 * `metrics.json` and `report.html` into `dir`.
 */
export function evaluateMultiScoresFiles(files: readonly string[], dir: string): MultiEvaluation[] {
  const test = llmrouterRouting("test").data;
  const index = new Map(test.queryIds.map((id, i) => [id, i]));
  const M = test.models.length;
  const evals = files.map((file) => {
    const s = loadScoresFile(file);
    if (!s.perModel)
      throw new RouterlabError("multi-model evaluation needs perModel scores", { file, field: "perModel" });
    const colOf = test.models.map((m) => {
      const j = s.models.indexOf(m);
      if (j < 0)
        throw new RouterlabError(`model '${m}' of ${MULTI_DATASET} has no scores`, { file, field: "models" });
      return j;
    });
    const n = s.queryIds.length;
    const pred = new Float64Array(n * M);
    const trueQ = new Float64Array(n * M);
    const cost = new Float64Array(n * M);
    s.queryIds.forEach((id, k) => {
      const q = index.get(id);
      if (q === undefined)
        throw new RouterlabError(`query id '${id}' is not in ${MULTI_DATASET}`, {
          file,
          path: `$.queryIds[${k}]`,
        });
      for (let m = 0; m < M; m++) {
        pred[k * M + m] = s.perModel![k]![colOf[m]!]!;
        trueQ[k * M + m] = test.quality[q * M + m]!;
        cost[k * M + m] = test.cost[q * M + m]!;
      }
    });
    return evaluateMulti(s.router, pred, trueQ, cost, test.models);
  });
  const json = {
    schema: "routerlab.evaluation.multi.v1",
    dataset: MULTI_DATASET,
    routers: evals.map((e) => ({
      router: e.router,
      n: e.n,
      aiq: e.aiq,
      zeroAiq: e.zeroAiq,
      interval: e.interval,
      frontier: e.frontier.map((p) => ({
        lambda: p.lambda,
        cost: p.cost,
        quality: p.quality,
        share: p.share,
      })),
    })),
  };
  const table = htmlTable(
    ["router", "N", "AIQ", "Zero router AIQ", "interval (USD/query)", "Pareto points"],
    evals.map((e) => [
      e.router,
      e.n,
      e.aiq,
      e.zeroAiq,
      `${e.interval.cMin.toExponential(3)} - ${e.interval.cMax.toExponential(3)}`,
      e.frontier.length,
    ]),
  );
  const shareFig = {
    data: evals.flatMap((e) => {
      const mid = e.frontier[Math.floor(e.frontier.length / 2)];
      return mid
        ? [
            {
              type: "bar" as const,
              name: `${e.router} (λ=${mid.lambda.toPrecision(3)})`,
              x: [...e.models],
              y: mid.share.map((v) => v * 100),
            },
          ]
        : [];
    }),
    layout: {
      title: { text: "Per-model routing share at the middle Pareto point" },
      yaxis: { title: { text: "% of queries" } },
    },
  };
  // the metrics and the report appear together or not at all
  writeFileSetAtomic(dir, [
    { name: "metrics.json", data: JSON.stringify(json, null, 2) + "\n" },
    {
      name: "report.html",
      data: figuresToHtml([multiCostQualityFigure(MULTI_DATASET, evals), shareFig], {
        title: `routerlab evaluation: ${MULTI_DATASET}`,
        bodyHtml:
          "<p>AIQ: RouterBench paper definition over one common interval (cheapest single model to the largest cost compared); " +
          "the Zero router mixes single models along their non-decreasing convex hull.</p>" +
          table,
      }),
    },
  ]);
  return evals;
}
