/**
 * The fine-tuned encoder router against the frozen-embedding routers (KNN, MLP) on one bundled binary dataset:
 * every router is trained by `routerlab train`'s own workflow on the same seeded split (same training sample,
 * same test rows), and scored on the test rows with the job's APGR / CPT(50%). The encoder's fit seconds are
 * the figure of its CPU cost.
 */
import { bundledRouting } from "../lib/data/bundled";
import type { RoutingData } from "../lib/data/routing";
import { qualityAt } from "../lib/data/routing";
import { summariseBinary } from "../lib/eval/binary";
import type { BinarySummary } from "../lib/eval/binary";
import { RouterlabError } from "../lib/util/errors";
import { runTraining, TrainConfigSchema } from "../lib/pipeline/train";

export interface EncoderComparisonRow {
  router: string;
  kind: string;
  fitSeconds: number;
  summary: BinarySummary;
}

export interface EncoderComparison {
  dataset: "mmlu" | "gsm8k";
  trainRows: number;
  testRows: number;
  seed: number;
  rows: EncoderComparisonRow[];
  /** Encoder APGR minus the best frozen-embedding router's APGR (positive = the fine-tuning helps). */
  apgrGain: number | null;
  /** Best frozen router's CPT(50%) minus the encoder's (positive = the encoder needs fewer strong calls). */
  cpt50Gain: number | null;
}

/** The routers compared: the main job's KNN and MLP (frozen gateway embeddings) and the encoder. */
export const COMPARED: readonly { router: string; kind: string; hyperparameters: Record<string, unknown> }[] =
  [
    { router: "knn", kind: "knn", hyperparameters: { k: 40, weights: "uniform" } },
    {
      router: "mlp",
      kind: "mlp",
      hyperparameters: { hiddenLayerSizes: [128, 64], epochs: 30, patience: 4, classWeight: "balanced" },
    },
    { router: "encoder", kind: "encoder", hyperparameters: {} },
  ];

function column(d: RoutingData, model: string): Float64Array {
  const m = d.models.indexOf(model);
  if (m < 0)
    throw new RouterlabError(`model '${model}' is not in ${d.name}`, { file: d.name, field: "models" });
  return Float64Array.from(d.queries, (_, q) => qualityAt(d, q, m));
}

export async function compareEncoder(opts: {
  dataset: "mmlu" | "gsm8k";
  maxTrain?: number;
  maxTest?: number;
  seed?: number;
  encoderHyperparameters?: Record<string, unknown>;
  log?: (line: string) => void;
}): Promise<EncoderComparison> {
  const seed = opts.seed ?? 0;
  // The bundled binary datasets hold exactly the pair, [weak, strong] (as the main job reads them).
  const [weak, strong] = bundledRouting(opts.dataset).data.models as readonly [string, string];
  const pair = { weak, strong };
  const rows: EncoderComparisonRow[] = [];
  let trainRows = 0;
  let testRows = 0;
  for (const c of COMPARED) {
    const hyperparameters =
      c.kind === "encoder" ? { ...c.hyperparameters, ...opts.encoderHyperparameters } : c.hyperparameters;
    const config = TrainConfigSchema.parse({
      data: { dataset: opts.dataset, maxTrain: opts.maxTrain, maxTest: opts.maxTest },
      routing: { setting: "binary", ...pair },
      router: { kind: c.kind, hyperparameters },
      seed,
      tracking: { enabled: false },
    });
    const r = await runTraining(config, { save: false, log: opts.log });
    const p = r.scores.strongProbability;
    if (!p) throw new RouterlabError(`router '${c.router}' gave no P(strong) score`);
    trainRows = r.train.queryIds.length;
    testRows = r.test.queryIds.length;
    const summary = summariseBinary(p, column(r.test, pair.weak), column(r.test, pair.strong));
    rows.push({ router: c.router, kind: c.kind, fitSeconds: r.fitSeconds, summary });
    opts.log?.(
      `${opts.dataset} ${c.router}: fit ${r.fitSeconds.toFixed(1)} s, APGR ${summary.apgr?.toFixed(3)}, ` +
        `CPT(50%) ${((summary.cpt50.value ?? NaN) * 100).toFixed(1)}%`,
    );
  }
  const encoder = rows.find((r) => r.kind === "encoder")!;
  const frozen = rows.filter((r) => r.kind !== "encoder");
  const bestApgr = Math.max(...frozen.map((r) => r.summary.apgr ?? -Infinity));
  const bestCpt = Math.min(...frozen.map((r) => r.summary.cpt50.value ?? Infinity));
  return {
    dataset: opts.dataset,
    trainRows,
    testRows,
    seed,
    rows,
    apgrGain:
      encoder.summary.apgr === null || !Number.isFinite(bestApgr) ? null : encoder.summary.apgr - bestApgr,
    cpt50Gain:
      encoder.summary.cpt50.value === null || !Number.isFinite(bestCpt)
        ? null
        : bestCpt - encoder.summary.cpt50.value,
  };
}
