import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { parsePythonLiteral, PythonLiteralError } from "./python-literal";
import type { Loaded, LoadOptions, LoadReport } from "./load";
import {
  guardedJsonLines,
  guardRow,
  jsonArrayRows,
  LoadTracker,
  nestedTooDeep,
  parseRow,
  rawJson,
  readJsonDocument,
  RowError,
  TOO_DEEP,
} from "./load";

/** One dcrouter row: a question and every model's score on it (in [0,1]). */
export interface DcrouterRow {
  /** `dcrouter/<split>/<0-based index>`. */
  id: string;
  line: number | null;
  question: string;
  scores: Record<string, number>;
  clusterId: number | null;
}

const scoreValue = z.number().min(0).max(1);

const DcrouterSchema = z.object({
  question: z.string().min(1),
  // The upstream files hold a Python-dict literal string; a JSON object is accepted too.
  scores: z.union([z.string(), z.record(z.string(), z.unknown())]),
  cluster_id: z.number().int().nullable().optional(),
});

function parseScores(v: string | Record<string, unknown>): Record<string, number> {
  let obj: unknown = v;
  if (typeof v === "string") {
    try {
      obj = parsePythonLiteral(v);
    } catch (e) {
      if (e instanceof PythonLiteralError)
        throw new RowError("scores", `not a Python dict literal: ${e.message}`);
      throw e;
    }
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj))
    throw new RowError("scores", "expected a dict");
  const out: Record<string, number> = {};
  for (const [model, s] of Object.entries(obj as Record<string, unknown>)) {
    const r = scoreValue.safeParse(s);
    if (!r.success) throw new RowError(`scores.${model}`, `expected a number in [0, 1], got ${String(s)}`);
    out[model] = r.data;
  }
  if (Object.keys(out).length === 0) throw new RowError("scores", "no model scores");
  return out;
}

/** dcrouter_preprocessed/{train,test}.json: a JSON array. Duplicate questions are quarantined. */
export function loadDcrouter(file: string, split: string, opts: LoadOptions = {}): Loaded<DcrouterRow> {
  const tracker = new LoadTracker(file, "llmrouter-dcrouter-json", opts);
  const { text, value } = readJsonDocument(file, tracker);
  if (!Array.isArray(value)) throw new RouterlabError("expected a JSON array of rows", { file, path: "$" });
  const rows: DcrouterRow[] = [];
  const seen = new Map<string, number>();
  for (const { index: i, line, raw, value: el } of jsonArrayRows(text, value, tracker, opts)) {
    const row = guardRow(tracker, { line, path: `$[${i}]`, raw }, () => {
      const v = parseRow(DcrouterSchema, el);
      const prev = seen.get(v.question);
      if (prev !== undefined) throw new RowError("question", `duplicate of $[${prev}]`);
      seen.set(v.question, i);
      return {
        id: `dcrouter/${split}/${i}`,
        line,
        question: v.question,
        scores: parseScores(v.scores),
        clusterId: v.cluster_id ?? null,
      };
    });
    if (row) rows.push(row);
  }
  const models = new Set(rows.flatMap((r) => Object.keys(r.scores)));
  const partial = rows.filter((r) => Object.keys(r.scores).length !== models.size).length;
  if (partial > 0) tracker.warn(`${partial} row(s) lack a score for some of the ${models.size} models (NaN)`);
  return { rows, report: tracker.finish() };
}

/** One row of LLMRouter query data (default_query_{train,test}.jsonl). */
export interface QueryDataRow {
  line: number;
  taskName: string;
  query: string;
  groundTruth: string;
  metric: string;
  /** Python-dict literal of the choices (kept raw), or null. */
  choices: string | null;
  taskId: string | null;
}

const QueryDataSchema = z.object({
  task_name: z.string().min(1),
  query: z.string().min(1),
  ground_truth: z.union([z.string(), z.number()]).transform(String),
  metric: z.string(),
  choices: z.string().nullable().optional(),
  task_id: z.union([z.string(), z.number()]).nullable().optional(),
});

export function loadQueryData(file: string, opts: LoadOptions = {}): Loaded<QueryDataRow> {
  const tracker = new LoadTracker(file, "llmrouter-query-jsonl", opts);
  const rows: QueryDataRow[] = guardedJsonLines(file, tracker, opts, (l) => {
    const v = parseRow(QueryDataSchema, l.value);
    return {
      line: l.line,
      taskName: v.task_name,
      query: v.query,
      groundTruth: v.ground_truth,
      metric: v.metric,
      choices: v.choices ?? null,
      taskId:
        v.task_id === null || v.task_id === undefined || v.task_id === "None" ? null : String(v.task_id),
    };
  });
  const distinct = new Set(rows.map((r) => r.query)).size;
  if (distinct !== rows.length)
    tracker.warn(`${rows.length - distinct} repeated query text(s); the first row is used in joins`);
  return { rows, report: tracker.finish() };
}

/** Joins dcrouter rows to query data on the exact question text; returns task name per row (or null). */
export function joinQueryData(
  rows: readonly DcrouterRow[],
  queryData: readonly QueryDataRow[],
): { tasks: (string | null)[]; unmatched: number } {
  const byQuery = new Map<string, QueryDataRow>();
  for (const q of queryData) if (!byQuery.has(q.query)) byQuery.set(q.query, q);
  let unmatched = 0;
  const tasks = rows.map((r) => {
    const q = byQuery.get(r.question);
    if (!q) unmatched++;
    return q?.taskName ?? null;
  });
  return { tasks, unmatched };
}

export interface LlmCandidate {
  name: string;
  size: string | null;
  feature: string | null;
  /** USD per million tokens. */
  inputPrice: number;
  outputPrice: number;
  model: string | null;
  service: string | null;
}

const CandidateSchema = z.object({
  size: z.string().nullable().optional(),
  feature: z.string().nullable().optional(),
  input_price: z.number().min(0),
  output_price: z.number().min(0),
  model: z.string().nullable().optional(),
  service: z.string().nullable().optional(),
});

/** llm_candidates/default_llm.json: `{name: {size, feature, input_price, output_price, model, service}}`. */
export function loadLlmCandidates(file: string, opts: LoadOptions = {}): Loaded<LlmCandidate> {
  const tracker = new LoadTracker(file, "llmrouter-candidates-json", opts);
  const { value } = readJsonDocument(file, tracker);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new RouterlabError("expected a JSON object {model name: {...}}", { file, path: "$" });
  const rows: LlmCandidate[] = [];
  for (const [name, el] of Object.entries(value as Record<string, unknown>)) {
    const row = guardRow(
      tracker,
      { line: null, path: `$[${JSON.stringify(name)}]`, raw: rawJson(el) },
      () => {
        if (nestedTooDeep(el)) throw new RowError("(row)", TOO_DEEP);
        const v = parseRow(CandidateSchema, el);
        return {
          name,
          size: v.size ?? null,
          feature: v.feature ?? null,
          inputPrice: v.input_price,
          outputPrice: v.output_price,
          model: v.model ?? null,
          service: v.service ?? null,
        };
      },
    );
    if (row) rows.push(row);
  }
  return { rows, report: tracker.finish() };
}

/** One row of the LLMRouter routing JSONL: one query answered by one model. */
export interface RoutingJsonlRow {
  line: number;
  query: string;
  modelName: string;
  /** null when the source value was null; 0.5 when the key is absent (upstream default). */
  performance: number | null;
  embeddingId: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Seconds. */
  responseTime: number | null;
  cost: number | null;
  extras: Record<string, unknown>;
}

/** Token counts, times and costs cannot be negative. */
const optNonNeg = z.number().min(0).nullable().optional();

const RoutingJsonlSchema = z
  .object({
    query: z.string(),
    model_name: z.string().min(1),
    performance: z.number().nullable().optional(),
    embedding_id: z.number().int().nullable().optional(),
    input_tokens: optNonNeg,
    output_tokens: optNonNeg,
    prompt_tokens: optNonNeg,
    completion_tokens: optNonNeg,
    response_time: optNonNeg,
    response_time_ms: optNonNeg,
    cost: optNonNeg,
  })
  .passthrough();

/**
 * routing_{train,test}.jsonl. Token counts as `input_tokens`/`output_tokens` (or `prompt_tokens`/
 * `completion_tokens`); latency as `response_time` (s) or `response_time_ms`. Text-less rows
 * (`query == ""`, the gateway's `routing_decision:<trace>:<span>` placeholders) and a repeated
 * (query, model_name) pair are quarantined.
 */
export function loadRoutingJsonl(file: string, opts: LoadOptions = {}): Loaded<RoutingJsonlRow> {
  const tracker = new LoadTracker(file, "llmrouter-routing-jsonl", opts);
  const seen = new Map<string, number>();
  const known = new Set(Object.keys(RoutingJsonlSchema.shape));
  const rows: RoutingJsonlRow[] = guardedJsonLines(file, tracker, opts, (l) => {
    const v = parseRow(RoutingJsonlSchema, l.value);
    if (v.query.trim() === "") throw new RowError("query", "empty query text (text-less routing decision)");
    const key = `${v.query}\u0000${v.model_name}`;
    const prev = seen.get(key);
    if (prev !== undefined)
      throw new RowError("model_name", `duplicate (query, model_name) pair, first on line ${prev}`);
    seen.set(key, l.line);
    if (v.performance !== undefined && v.performance !== null && (v.performance < 0 || v.performance > 1))
      throw new RowError("performance", `${v.performance} is outside [0, 1]`);
    const extras: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!known.has(k)) extras[k] = x;
    const rt =
      v.response_time ??
      (v.response_time_ms !== undefined && v.response_time_ms !== null ? v.response_time_ms / 1000 : null);
    return {
      line: l.line,
      query: v.query,
      modelName: v.model_name,
      performance: v.performance === undefined ? 0.5 : v.performance,
      embeddingId: v.embedding_id ?? null,
      inputTokens: v.input_tokens ?? v.prompt_tokens ?? null,
      outputTokens: v.output_tokens ?? v.completion_tokens ?? null,
      responseTime: rt,
      cost: v.cost ?? null,
      extras,
    };
  });
  return { rows, report: tracker.finish() };
}

export type { LoadReport };
