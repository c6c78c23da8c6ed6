/**
 * A small policy-classifier router (KNN over all-MiniLM embeddings) trained on oracle routing labels from the
 * TRAIN split: either the oracle's `routing.jsonl` (`routerlab oracle`), or labels made here by asking the weak and
 * strong models and grading them (`oracleLabels`, the quick path the tests and the notebook use).
 */
import { z } from "zod";
import type { SimpleQaRow } from "../data/simpleqa";
import type { EmbeddingMatrix } from "../embed/types";
import type { LlmClient } from "../llm/types";
import { DEFAULT_LABEL_TABLE, labelFor } from "../oracle/labels";
import type { LabelTable } from "../oracle/labels";
import { saveRouterState } from "../routers/model-file";
import { createRouter } from "../routers/registry";
import { RouterlabError } from "../util/errors";
import { readJsonlLines } from "../util/jsonl";
import { progressBar } from "../util/progress";
import type { EvalSimpleQaConfig } from "./config";
import { DEFAULT_POLICIES } from "./policy";
import type { EvalModels } from "./run";
import { answerAndGrade } from "./run";

export interface LabelledQuestion {
  readonly query: string;
  readonly label: string;
}

const RoutingLineSchema = z.looseObject({
  query: z.string().min(1),
  query_id: z.string().min(1),
  label: z.string().min(1),
});

/** One label per query from the oracle's routing.jsonl (one line per query and model; the label repeats). */
export function labelsFromOracleRouting(file: string): LabelledQuestion[] {
  const seen = new Map<string, LabelledQuestion>();
  for (const { line, value: r } of readJsonlLines(file, RoutingLineSchema, "oracle routing data")) {
    const prev = seen.get(r.query_id);
    if (prev && prev.label !== r.label)
      throw new RouterlabError(`query '${r.query_id}' has two labels (${prev.label}, ${r.label})`, {
        file,
        line,
        field: "label",
      });
    seen.set(r.query_id, { query: r.query, label: r.label });
  }
  return [...seen.values()];
}

/**
 * Oracle-like labels for TRAIN questions: weak and strong answer, the SimpleQA grader grades, the 9-cell table
 * maps (weak grade, strong grade) to a policy. Calls go through the client's cache like every other call.
 */
export async function oracleLabels(
  client: LlmClient,
  config: EvalSimpleQaConfig,
  models: EvalModels,
  rows: readonly SimpleQaRow[],
  opts: { table?: LabelTable; signal?: AbortSignal; progress?: string | null } = {},
): Promise<LabelledQuestion[]> {
  const table = opts.table ?? DEFAULT_LABEL_TABLE;
  const bar =
    opts.progress === null
      ? undefined
      : progressBar(opts.progress ?? "oracle labels", rows.length, "questions");
  const out: LabelledQuestion[] = new Array<LabelledQuestion>(rows.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const i = next++;
      const row = rows[i]!;
      const [w, s] = await Promise.all([
        answerAndGrade(client, config, models.weak, models.grader, row, opts.signal),
        answerAndGrade(client, config, models.strong, models.grader, row, opts.signal),
      ]);
      out[i] = { query: row.problem, label: labelFor(table, w.grade, s.grade) };
      bar?.tick();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(config.concurrency, rows.length) }, worker));
  } finally {
    bar?.stop();
  }
  return out;
}

/**
 * Fits a KNN policy classifier (labels in DEFAULT_POLICIES order, then any others) and saves the model file with
 * its embedding spec. Returns the model file's JSON path.
 */
export async function trainPolicyRouter(
  data: readonly LabelledQuestion[],
  file: string,
  opts: { k?: number; precision?: "fp32" | "int8" } = {},
): Promise<{ file: string; labels: string[]; counts: Record<string, number> }> {
  if (data.length === 0) throw new RouterlabError("no labelled questions to train on");
  const present = new Set(data.map((d) => d.label));
  const labels = [
    ...DEFAULT_POLICIES.filter((p) => present.has(p)),
    ...[...present].filter((p) => !DEFAULT_POLICIES.includes(p)).sort(),
  ];
  // A classifier needs two classes; keep the default policies so the model always knows all three.
  for (const p of DEFAULT_POLICIES) if (!labels.includes(p)) labels.push(p);
  const precision = opts.precision ?? "fp32";
  const embed = await import("../embed/index.js");
  const embedder = await embed.createEmbedder({ precision });
  let X: EmbeddingMatrix;
  try {
    X = (
      await embed.embedWithCache(
        data.map((d) => d.query),
        { embedder, source: "oracle-labelled questions" },
      )
    ).matrix;
  } finally {
    await embedder.dispose();
  }
  const k = Math.min(opts.k ?? 10, data.length);
  const router = createRouter("knn", { k, weights: "uniform" });
  await router.fit(
    { X },
    {
      kind: "multi",
      models: labels,
      labels: Int32Array.from(data, (d) => labels.indexOf(d.label)),
    },
  );
  const state = router.state();
  const counts: Record<string, number> = {};
  for (const d of data) counts[d.label] = (counts[d.label] ?? 0) + 1;
  const saved = saveRouterState(
    {
      ...state,
      meta: {
        ...state.meta,
        embedding: embedder.spec,
        training: { source: "simpleqa-oracle", rows: data.length, counts },
      },
    },
    file,
  );
  return { file: saved.json, labels, counts };
}
