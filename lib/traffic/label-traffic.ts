/**
 * `routerlab label-traffic`: a collected dataset (routerlab collect) -> labels from the answers the
 * gateway served -> `routing.jsonl` in the oracle's routing format, which `routerlab train` reads
 * (`data.dataset: <out>/routing.jsonl`), plus `labels.jsonl` saying what each label rests on.
 */
import path from "node:path";
import { z } from "zod";
import { collectedRoutingRows, readCollected } from "../collect/read";
import type { LlmClient } from "../llm/types";
import type { RoutingRow } from "../oracle/outputs";
import { RoutingRowSchema, toJsonl } from "../oracle/outputs";
import { writeFileSetAtomic } from "../util/atomic-write";
import type { Side } from "../oracle/judge";
import { loadYamlConfig } from "../util/config";
import { progressBar } from "../util/progress";
import { createRng, shuffled } from "../util/random";
import type { ProductionLabel, ProductionLabelResult } from "./production-labels";
import { labelProductionRows, tierLookup } from "./production-labels";

const Tier = z.strictObject({
  /** The gateway deployment name (`litellm_params.model`): the routing label the exported router returns. */
  gateway: z.string().min(1),
  /** Model names that appear as the served model on the LLM spans (dated variants match too). */
  served: z.array(z.string().min(1)).min(1),
  /** The models-file role or model the LLM client calls for a counterfactual answer. */
  model: z.string().min(1),
});

export const LabelTrafficConfigSchema = z.strictObject({
  /** The folder `routerlab collect --out` wrote. */
  dataset: z.string().min(1),
  /** The LLM client's models file (configs/models.yaml format). */
  models: z.string().min(1).default("configs/models.yaml"),
  /** Models-file role or model name of the judge. */
  judge: z.string().min(1).default("judge"),
  tiers: z.strictObject({ weak: Tier, strong: Tier }),
  /** Ask the other tier for one answer per query and judge the pair (needed for routing labels where strong served). */
  counterfactual: z.boolean().default(true),
  /** A served answer the judge scores at least this (0-1) was good enough. */
  goodEnough: z.number().min(0).max(1).default(0.7),
  /** Label at most this many distinct queries (a seeded sample). */
  limit: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().default(0),
  concurrency: z.number().int().positive().default(16),
  output: z.strictObject({ dir: z.string().min(1) }).default({ dir: "out/label-traffic" }),
});
export type LabelTrafficConfig = z.infer<typeof LabelTrafficConfigSchema>;

export function loadLabelTrafficConfig(file: string): LabelTrafficConfig {
  return loadYamlConfig(file, LabelTrafficConfigSchema);
}

/**
 * Per-tier quality of a labelled query for the routing file: the pairwise winner 1 and the loser 0;
 * a tie gives both tiers the served answer's judge score (they were judged equal). Without a
 * counterfactual only the served tier's score is known (the other tier's performance is null).
 */
export function tierPerformance(l: ProductionLabel): Record<Side, number | null> | null {
  if (l.servedTier === null) return null;
  if (l.counterfactual !== null) {
    const w = l.counterfactual.pair.winner;
    if (w === "strong") return { weak: 0, strong: 1 };
    if (w === "weak") return { weak: 1, strong: 0 };
    const s = l.servedScore ?? 0.5;
    return { weak: s, strong: s };
  }
  if (l.servedScore === null) return null;
  return l.servedTier === "weak"
    ? { weak: l.servedScore, strong: null }
    : { weak: null, strong: l.servedScore };
}

export interface LabelTrafficResult {
  outDir: string;
  routingFile: string;
  labelsFile: string;
  queries: number;
  result: ProductionLabelResult;
  /** LLM spans with prompt text and their distinct queries, before the limit. */
  spansWithPrompt: number;
  spansWithoutPrompt: number;
}

/** What labelling needs besides its config: the client, the judge and tier models, paths' base, a log. */
export interface LabelTrafficOptions {
  client: LlmClient;
  judge: string;
  weakModel: string;
  strongModel: string;
  baseDir: string;
  log?: (l: string) => void;
}

export async function runLabelTraffic(
  config: LabelTrafficConfig,
  opts: LabelTrafficOptions,
): Promise<LabelTrafficResult> {
  const log = opts.log ?? (() => undefined);
  const data = readCollected(path.resolve(opts.baseDir, config.dataset));
  const rows = collectedRoutingRows(data);
  // one label per distinct query: the first time it was served
  const seen = new Set<string>();
  const distinct = rows.filter((r) => (seen.has(r.query) ? false : (seen.add(r.query), true)));
  const picked =
    config.limit !== undefined && config.limit < distinct.length
      ? shuffled(distinct, createRng(config.seed)).slice(0, config.limit)
      : distinct;
  log(
    `label-traffic: ${data.dir}: ${data.counts.llm} LLM spans with prompt (${distinct.length} distinct queries), ` +
      `${data.counts.llm_no_prompt} without prompt content; labelling ${picked.length}`,
  );
  const bar = progressBar("label-traffic", picked.length, "queries");
  const tierOf = tierLookup({ weak: config.tiers.weak.served, strong: config.tiers.strong.served });
  const result = await labelProductionRows(
    opts.client,
    picked.map((r) => ({
      id: `${r.traceId}/${r.spanId}`,
      query: r.query,
      servedModel: r.servedModel,
      response: r.response,
    })),
    {
      judge: opts.judge,
      weak: opts.weakModel,
      strong: opts.strongModel,
      tierOf,
      counterfactual: config.counterfactual,
      goodEnough: config.goodEnough,
      seed: config.seed,
      concurrency: config.concurrency,
      onRow: () => bar.tick(),
    },
  ).finally(() => bar.stop());
  const byId = new Map(picked.map((r) => [`${r.traceId}/${r.spanId}`, r]));
  const routing: RoutingRow[] = [];
  for (const l of result.rows) {
    const perf = tierPerformance(l);
    if (perf === null || l.label === null) continue;
    const span = byId.get(l.id)!;
    for (const side of ["weak", "strong"] as const) {
      const served = side === l.servedTier;
      routing.push({
        query: l.query,
        model_name: config.tiers[side].gateway,
        performance: perf[side],
        // tokens of the served call as the span reported them; cost is what labelling paid for this tier's answer
        // (the counterfactual call), 0 for the served answer, which the gateway paid for
        input_tokens: served ? (span.inputTokens ?? 0) : 0,
        output_tokens: served ? (span.outputTokens ?? 0) : 0,
        cost: served ? 0 : (l.counterfactual?.costUsd ?? 0),
        query_id: l.id,
        label: l.label,
      });
    }
  }
  const outDir = path.resolve(opts.baseDir, config.output.dir);
  const routingFile = path.join(outDir, "routing.jsonl");
  const labelsFile = path.join(outDir, "labels.jsonl");
  // the pair appears together: a full disk or a kill keeps the previous pair
  writeFileSetAtomic(outDir, [
    { name: path.basename(routingFile), data: toJsonl(routing, RoutingRowSchema, routingFile) },
    { name: path.basename(labelsFile), data: result.rows.map((l) => JSON.stringify(l) + "\n").join("") },
  ]);
  return {
    outDir,
    routingFile,
    labelsFile,
    queries: picked.length,
    result,
    spansWithPrompt: data.counts.llm,
    spansWithoutPrompt: data.counts.llm_no_prompt,
  };
}
