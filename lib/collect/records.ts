/**
 * What `routerlab collect` stores for each span: LLM spans (query text built as the gateway builds
 * it, lib/data/query-text.ts via promptQuery) and `routeiq.router_decision.v1` events (validated by
 * the same schema as the file loaders). Everything else is counted, never silently dropped.
 */
import { z } from "zod";
import { DECISION_EVENT, DECISION_PAYLOAD_ATTR, RouterDecisionSchema } from "../data/decisions";
import type { RouterDecision } from "../data/decisions";
import { RowError } from "../data/load";
import { parseDecisionPayload, promptQuery } from "../data/traces";
import type { WireAnyValue, WireSpan } from "./wire";

export const LlmRecordSchema = z.object({
  t: z.literal("llm"),
  trace_id: z.string(),
  span_id: z.string(),
  parent_span_id: z.string().nullable(),
  name: z.string(),
  request_model: z.string().nullable(),
  response_model: z.string().nullable(),
  /** null: the span carried no prompt content (content capture off). */
  query: z.string().nullable(),
  /** The answer the gateway returned, when the span carries it. */
  response: z.string().nullable(),
  input_tokens: z.number().nullable(),
  output_tokens: z.number().nullable(),
  start_s: z.number(),
  duration_s: z.number(),
  error: z.boolean(),
});
export type LlmRecord = z.infer<typeof LlmRecordSchema>;

export const DecisionRecordSchema = z.object({
  t: z.literal("decision"),
  trace_id: z.string(),
  span_id: z.string(),
  strategy_version: z.string().nullable(),
  start_s: z.number(),
  decision: RouterDecisionSchema,
});
export type DecisionRecord = z.infer<typeof DecisionRecordSchema>;

/** Counts of one request (and, summed, of a dataset). Every span lands in exactly one of the span counts. */
export const BatchCountsSchema = z.object({
  spans: z.number().int().nonnegative(),
  llm: z.number().int().nonnegative(),
  llm_no_prompt: z.number().int().nonnegative(),
  decision_spans: z.number().int().nonnegative(),
  other: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** Decision events stored (a decision span may carry more than one); not a span count. */
  decisions: z.number().int().nonnegative(),
  /** Decision events refused (bad payload, placeholder); not a span count. */
  decisions_rejected: z.number().int().nonnegative(),
});
export type BatchCounts = z.infer<typeof BatchCountsSchema>;

/** The commit marker written after a request's records: a request counts only once this line is on disk. */
export const BatchRecordSchema = z.object({
  t: z.literal("batch"),
  seq: z.number().int().nonnegative(),
  at_ms: z.number(),
  counts: BatchCountsSchema,
});
export type BatchRecord = z.infer<typeof BatchRecordSchema>;

export const CollectRecordSchema = z.discriminatedUnion("t", [
  LlmRecordSchema,
  DecisionRecordSchema,
  BatchRecordSchema,
]);
export type CollectRecord = z.infer<typeof CollectRecordSchema>;

export function emptyCounts(): BatchCounts {
  return {
    spans: 0,
    llm: 0,
    llm_no_prompt: 0,
    decision_spans: 0,
    other: 0,
    rejected: 0,
    decisions: 0,
    decisions_rejected: 0,
  };
}

export function addCounts(a: BatchCounts, b: BatchCounts): BatchCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof BatchCounts)[]) out[k] += b[k];
  return out;
}

const MODEL_ATTRS = ["gen_ai.request.model", "gen_ai.response.model"];

function str(v: WireAnyValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

function tokens(v: WireAnyValue | undefined, field: string): number | null {
  if (v === undefined || v === null || v === "") return null;
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0)
    throw new RowError(field, `expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

function contentText(c: unknown): string | null {
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    const parts = c
      .filter((p): p is { type?: unknown; text?: unknown } => p !== null && typeof p === "object")
      .filter((p) => (p.type === undefined || p.type === "text") && typeof p.text === "string")
      .map((p) => p.text as string);
    return parts.length > 0 ? parts.join("") : null;
  }
  return null;
}

/**
 * The answer text an LLM span carries: `gen_ai.completion` (plain text, a JSON message list or
 * object with `content`/`choices`), `gen_ai.output.messages` (JSON), or the indexed
 * `gen_ai.completion.0.content` that LiteLLM's OpenTelemetry logger writes. null when absent.
 */
export function responseText(attrs: Map<string, WireAnyValue>): string | null {
  for (const key of ["gen_ai.completion", "gen_ai.output.messages"]) {
    const v = attrs.get(key);
    if (typeof v !== "string") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      return v;
    }
    const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
    if (first !== null && typeof first === "object") {
      const o = first as {
        content?: unknown;
        message?: { content?: unknown };
        choices?: { message?: { content?: unknown } }[];
        parts?: unknown;
      };
      const t =
        contentText(o.content) ??
        contentText(o.message?.content) ??
        contentText(o.choices?.[0]?.message?.content) ??
        contentText(o.parts);
      if (t !== null) return t;
    }
    return typeof parsed === "string" ? parsed : v;
  }
  const indexed = attrs.get("gen_ai.completion.0.content");
  return typeof indexed === "string" ? indexed : null;
}

function seconds(nanos: bigint): number {
  return Number(nanos / 1000n) / 1e6;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

export interface SpanConversion {
  records: (LlmRecord | DecisionRecord)[];
  counts: BatchCounts;
  /** Reasons for refused spans and decision events, first few only. */
  errors: string[];
}

const MAX_ERRORS = 5;

/** Turns one request's spans into records and counts; `bad` are spans the decoder already refused. */
export function convertSpans(
  spans: readonly WireSpan[],
  bad: readonly { path: string; reason: string }[] = [],
): SpanConversion {
  const counts = emptyCounts();
  const records: (LlmRecord | DecisionRecord)[] = [];
  const errors: string[] = [];
  const fail = (path: string, reason: string) => {
    if (errors.length < MAX_ERRORS) errors.push(`${path}: ${reason}`);
  };
  counts.spans = spans.length + bad.length;
  counts.rejected = bad.length;
  for (const b of bad) fail(b.path, b.reason);
  for (const s of spans) {
    if (!TRACE_ID.test(s.traceId) || !SPAN_ID.test(s.spanId)) {
      counts.rejected++;
      fail(
        s.path,
        `trace id / span id must be 16 / 8 bytes, got ${JSON.stringify(s.traceId)} / ${JSON.stringify(s.spanId)}`,
      );
      continue;
    }
    const isLlm = MODEL_ATTRS.some((k) => s.attrs.has(k));
    const decisionEvents = s.events.filter((e) => e.name === DECISION_EVENT);
    const start = seconds(s.startUnixNano);
    if (isLlm) {
      try {
        const query = promptQuery(s.attrs);
        records.push({
          t: "llm",
          trace_id: s.traceId,
          span_id: s.spanId,
          parent_span_id: s.parentSpanId,
          name: s.name,
          request_model: str(s.attrs.get("gen_ai.request.model")),
          response_model: str(s.attrs.get("gen_ai.response.model")),
          query,
          response: responseText(s.attrs),
          input_tokens: tokens(
            s.attrs.get("gen_ai.usage.input_tokens") ?? s.attrs.get("gen_ai.usage.prompt_tokens"),
            "gen_ai.usage.input_tokens",
          ),
          output_tokens: tokens(
            s.attrs.get("gen_ai.usage.output_tokens") ?? s.attrs.get("gen_ai.usage.completion_tokens"),
            "gen_ai.usage.output_tokens",
          ),
          start_s: start,
          duration_s: Math.max(0, Number(s.endUnixNano - s.startUnixNano) / 1e9),
          error: s.statusCode === 2,
        });
        if (query === null) counts.llm_no_prompt++;
        else counts.llm++;
      } catch (e) {
        counts.rejected++;
        fail(s.path, (e as Error).message);
      }
    } else if (decisionEvents.length > 0) counts.decision_spans++;
    else counts.other++;
    for (const e of decisionEvents) {
      const payload = e.attrs.get(DECISION_PAYLOAD_ATTR);
      let decision: RouterDecision;
      try {
        decision = parseDecisionPayload(typeof payload === "string" ? payload : "");
      } catch (err) {
        counts.decisions_rejected++;
        fail(`${s.path}.events`, (err as Error).message);
        continue;
      }
      counts.decisions++;
      records.push({
        t: "decision",
        // the span's own ids (normalised hex) join with the prompt spans of the same trace
        trace_id: s.traceId,
        span_id: s.spanId,
        strategy_version: str(s.attrs.get("router.strategy_version")),
        start_s: start,
        decision,
      });
    }
  }
  return { records, counts, errors };
}
