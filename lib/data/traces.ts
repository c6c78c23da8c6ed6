import { z } from "zod";
import type { DecisionRow } from "./decisions";
import { DECISION_EVENT, DECISION_PAYLOAD_ATTR, placeholderReason, RouterDecisionSchema } from "./decisions";
import type { Loaded, LoadOptions, LoadReport } from "./load";
import {
  DEFAULT_MAX_ROW_CHARS,
  guardRow,
  LoadTracker,
  nestedTooDeep,
  parseJsonLenient,
  parseRow,
  rawJson,
  readJsonDocument,
  guardedJsonLines,
  readJsonLines,
  readText,
  RowError,
  TOO_DEEP,
} from "./load";
import type { ChatMessage } from "./query-text";
import { chatQueryText, inputQueryText } from "./query-text";
import type { RoutingJsonlRow } from "./llmrouter";
import { issueKeyPath, schemaError } from "../util/zod-error";

type AttrValue = string | number | boolean | null | AttrValue[];

/** A span reduced to what routerlab needs, whichever export format it came from. */
interface NormSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** Seconds since the epoch. */
  start: number;
  /** Seconds. */
  duration: number;
  attrs: Map<string, AttrValue>;
  events: { name: string; attrs: Map<string, AttrValue> }[];
  line: number | null;
  path: string;
  raw: unknown;
}

/** One LLM call found in a trace (a span with `gen_ai.*` model attributes). */
export interface TraceLlmRow {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  operation: string;
  requestModel: string | null;
  responseModel: string | null;
  /** Query text built exactly as the gateway does (chat messages walk, or completion `input`). */
  query: string;
  inputTokens: number | null;
  outputTokens: number | null;
  durationSeconds: number;
  startUnixSeconds: number;
  line: number | null;
  path: string;
}

export interface TraceLoad {
  llm: TraceLlmRow[];
  decisions: DecisionRow[];
  report: LoadReport;
}

// ------------------------------------------------------------------ Jaeger

const JaegerTag = z.object({ key: z.string(), type: z.string().optional(), value: z.unknown() });
const JaegerSpan = z.object({
  traceID: z.string().min(1),
  spanID: z.string().min(1),
  operationName: z.string(),
  references: z
    .array(z.object({ refType: z.string(), spanID: z.string(), traceID: z.string().optional() }))
    .optional(),
  startTime: z.number(),
  duration: z.number().min(0),
  tags: z.array(JaegerTag).default([]),
  logs: z
    .array(z.object({ timestamp: z.number().optional(), fields: z.array(JaegerTag).default([]) }))
    .default([]),
});
const JaegerDoc = z.object({
  data: z.array(z.object({ traceID: z.string().optional(), spans: z.array(z.unknown()) })),
});

function jaegerValue(t: z.infer<typeof JaegerTag>): AttrValue {
  const v = t.value;
  if (t.type === "int64" || t.type === "float64") return typeof v === "string" ? Number(v) : (v as number);
  if (t.type === "bool") return v === true || v === "true";
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return v === null || v === undefined ? null : JSON.stringify(v);
}

/** Why a span cannot be read safely (too deep or too long), or undefined. */
function spanLimitProblem(raw: unknown, maxRowChars: number): { field: string; reason: string } | undefined {
  if (nestedTooDeep(raw)) return { field: "(span)", reason: TOO_DEEP };
  const n = rawJson(raw).length;
  if (n > maxRowChars)
    return { field: "(span)", reason: `span has ${n} characters, over the limit ${maxRowChars}` };
  return undefined;
}

function jaegerSpans(
  doc: unknown,
  file: string,
  maxRowChars: number,
): { spans: NormSpan[]; bad: { path: string; raw: unknown; field: string; reason: string }[] } {
  const d = JaegerDoc.safeParse(doc);
  if (!d.success) throw schemaError(d.error, { file, jsonPath: "$", what: "not a Jaeger export" });
  const spans: NormSpan[] = [];
  const bad: { path: string; raw: unknown; field: string; reason: string }[] = [];
  d.data.data.forEach((trace, ti) =>
    trace.spans.forEach((raw, si) => {
      const p = `$.data[${ti}].spans[${si}]`;
      const limit = spanLimitProblem(raw, maxRowChars);
      if (limit) {
        bad.push({ path: p, raw, ...limit });
        return;
      }
      const s = JaegerSpan.safeParse(raw);
      if (!s.success) {
        const issue = s.error.issues[0]!;
        bad.push({ path: p, raw, field: issueKeyPath(issue).join(".") || "(span)", reason: issue.message });
        return;
      }
      const v = s.data;
      const parent = v.references?.find((r) => r.refType === "CHILD_OF")?.spanID ?? null;
      spans.push({
        traceId: v.traceID,
        spanId: v.spanID,
        parentSpanId: parent,
        name: v.operationName,
        start: v.startTime / 1e6,
        duration: v.duration / 1e6,
        attrs: new Map(v.tags.map((t) => [t.key, jaegerValue(t)])),
        // Jaeger stores span events as logs; the event name is the `event` field.
        events: v.logs.map((l) => {
          const attrs = new Map(l.fields.map((f) => [f.key, jaegerValue(f)]));
          return { name: String(attrs.get("event") ?? ""), attrs };
        }),
        line: null,
        path: p,
        raw,
      });
    }),
  );
  return { spans, bad };
}

// ------------------------------------------------------------------ OTLP/JSON

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number | string;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: { key: string; value: OtlpAnyValue }[] };
  bytesValue?: string;
}

const OtlpAttr = z.object({
  key: z.string(),
  value: z.custom<OtlpAnyValue>((v) => v !== null && typeof v === "object").optional(),
});
/** Nanoseconds since the epoch: a digit string (the OTLP/JSON encoding of a uint64) or a whole non-negative number. */
const nanos = z.union([
  z.string().regex(/^\d+$/, "expected a whole number of nanoseconds"),
  z
    .number()
    .refine((n) => Number.isInteger(n) && n >= 0, "expected a whole non-negative number of nanoseconds"),
]);
const OtlpSpan = z.object({
  traceId: z.string().min(1),
  spanId: z.string().min(1),
  parentSpanId: z.string().optional(),
  name: z.string(),
  startTimeUnixNano: nanos,
  endTimeUnixNano: nanos,
  attributes: z.array(OtlpAttr).default([]),
  events: z.array(z.object({ name: z.string(), attributes: z.array(OtlpAttr).default([]) })).default([]),
});
const OtlpDoc = z.object({
  resourceSpans: z.array(
    z.object({
      scopeSpans: z.array(z.object({ spans: z.array(z.unknown()).default([]) })).optional(),
      instrumentationLibrarySpans: z.array(z.object({ spans: z.array(z.unknown()).default([]) })).optional(),
    }),
  ),
});

function otlpValue(v: OtlpAnyValue | undefined): AttrValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(otlpValue);
  if (v.kvlistValue)
    return JSON.stringify(
      Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, otlpValue(kv.value)])),
    );
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

function attrMap(attrs: readonly { key: string; value?: OtlpAnyValue }[]): Map<string, AttrValue> {
  return new Map(attrs.map((a) => [a.key, otlpValue(a.value)]));
}

/** OTLP hex ids; OTLP/JSON from some exporters uses base64: both are accepted and kept as given. */
function otlpSpans(
  doc: unknown,
  file: string,
  line: number | null,
  prefix: string,
  maxRowChars: number,
): { spans: NormSpan[]; bad: { path: string; raw: unknown; field: string; reason: string }[] } {
  const d = OtlpDoc.safeParse(doc);
  if (!d.success)
    throw schemaError(d.error, {
      file,
      line: line ?? undefined,
      jsonPath: prefix,
      what: "not an OTLP/JSON trace export",
    });
  const spans: NormSpan[] = [];
  const bad: { path: string; raw: unknown; field: string; reason: string }[] = [];
  d.data.resourceSpans.forEach((rs, ri) => {
    const scopes = rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? [];
    scopes.forEach((ss, si) =>
      ss.spans.forEach((raw, pi) => {
        const p = `${prefix}.resourceSpans[${ri}].scopeSpans[${si}].spans[${pi}]`;
        const limit = spanLimitProblem(raw, maxRowChars);
        if (limit) {
          bad.push({ path: p, raw, ...limit });
          return;
        }
        const s = OtlpSpan.safeParse(raw);
        if (!s.success) {
          const issue = s.error.issues[0]!;
          bad.push({ path: p, raw, field: issueKeyPath(issue).join(".") || "(span)", reason: issue.message });
          return;
        }
        const v = s.data;
        const startNs = BigInt(v.startTimeUnixNano);
        const start = Number(startNs / 1000n) / 1e6;
        const durationNs = BigInt(v.endTimeUnixNano) - startNs;
        if (durationNs < 0n) {
          bad.push({
            path: p,
            raw,
            field: "endTimeUnixNano",
            reason: `the span ends ${-durationNs} ns before it starts`,
          });
          return;
        }
        spans.push({
          traceId: v.traceId,
          spanId: v.spanId,
          parentSpanId: v.parentSpanId ? v.parentSpanId : null,
          name: v.name,
          start,
          duration: Number(durationNs) / 1e9,
          attrs: attrMap(v.attributes),
          events: v.events.map((e) => ({ name: e.name, attrs: attrMap(e.attributes) })),
          line,
          path: p,
          raw,
        });
      }),
    );
  });
  return { spans, bad };
}

// ------------------------------------------------------------------ LLM spans and decisions

const MODEL_ATTRS = ["gen_ai.request.model", "gen_ai.response.model"];

function str(v: AttrValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

function num(v: AttrValue | undefined, field: string): number | null {
  if (v === undefined || v === null || v === "") return null;
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0)
    throw new RowError(field, `expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The prompt messages of an LLM span, accepting (in this order): `gen_ai.prompt` as a JSON array
 * of messages (or a JSON object with `messages`), `gen_ai.input.messages` (newer semconv, JSON),
 * the indexed form `gen_ai.prompt.<i>.role` / `.content`, and `gen_ai.prompt` as plain text (one
 * user message). Completion-style `input` may be given as `gen_ai.prompt` JSON `{"input": ...}`.
 */
export function promptQuery(attrs: Map<string, AttrValue>): string | null {
  for (const key of ["gen_ai.prompt", "gen_ai.input.messages"]) {
    const v = attrs.get(key);
    if (v === undefined || v === null) continue;
    if (typeof v === "string") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        return chatQueryText([{ role: "user", content: v }]);
      }
      if (Array.isArray(parsed))
        return chatQueryText(parsed.filter((m): m is ChatMessage => m !== null && typeof m === "object"));
      if (parsed !== null && typeof parsed === "object") {
        const o = parsed as { messages?: unknown; input?: unknown; prompt?: unknown };
        if (Array.isArray(o.messages)) return chatQueryText(o.messages as ChatMessage[]);
        if ("input" in o) return inputQueryText(o.input);
        if ("prompt" in o) return inputQueryText(o.prompt);
      }
      return chatQueryText([{ role: "user", content: v }]);
    }
  }
  const indexed: ChatMessage[] = [];
  for (let i = 0; ; i++) {
    const role = attrs.get(`gen_ai.prompt.${i}.role`);
    const has = attrs.has(`gen_ai.prompt.${i}.content`);
    if (role === undefined && !has) break;
    const content = attrs.get(`gen_ai.prompt.${i}.content`);
    const m: ChatMessage = { role: role ?? "user" };
    if (has) {
      // content may itself be a JSON list of parts
      if (typeof content === "string" && content.startsWith("[")) {
        try {
          m.content = JSON.parse(content);
        } catch {
          m.content = content;
        }
      } else m.content = content;
    }
    indexed.push(m);
  }
  return indexed.length > 0 ? chatQueryText(indexed) : null;
}

function llmRow(s: NormSpan): TraceLlmRow {
  const requestModel = str(s.attrs.get("gen_ai.request.model"));
  const responseModel = str(s.attrs.get("gen_ai.response.model"));
  const query = promptQuery(s.attrs);
  if (query === null) throw new RowError("gen_ai.prompt", "LLM span has no prompt attribute");
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    operation: s.name,
    requestModel,
    responseModel,
    query,
    inputTokens: num(
      s.attrs.get("gen_ai.usage.input_tokens") ?? s.attrs.get("gen_ai.usage.prompt_tokens"),
      "gen_ai.usage.input_tokens",
    ),
    outputTokens: num(
      s.attrs.get("gen_ai.usage.output_tokens") ?? s.attrs.get("gen_ai.usage.completion_tokens"),
      "gen_ai.usage.output_tokens",
    ),
    durationSeconds: s.duration,
    startUnixSeconds: s.start,
    line: s.line,
    path: s.path,
  };
}

function decisionRows(s: NormSpan): { payload: string; index: number }[] {
  const out: { payload: string; index: number }[] = [];
  s.events.forEach((e, index) => {
    if (e.name !== DECISION_EVENT) return;
    const p = e.attrs.get(DECISION_PAYLOAD_ATTR);
    out.push({ payload: typeof p === "string" ? p : "", index });
  });
  return out;
}

export function parseDecisionPayload(payload: string): DecisionRow["decision"] {
  if (payload === "") throw new RowError(DECISION_PAYLOAD_ATTR, "missing payload attribute");
  let v: unknown;
  try {
    v = parseJsonLenient(payload);
  } catch (e) {
    throw new RowError(DECISION_PAYLOAD_ATTR, `invalid JSON: ${(e as Error).message}`);
  }
  if (nestedTooDeep(v)) throw new RowError(DECISION_PAYLOAD_ATTR, TOO_DEEP);
  const d = parseRow(RouterDecisionSchema, v);
  const ph = placeholderReason(d);
  if (ph) throw new RowError("selected_deployment", ph);
  return d;
}

/** Span and decision-event ids seen so far in one file (a JSON Lines export repeats no span across lines either). */
interface Seen {
  spans: Map<string, string>;
  events: Set<string>;
}

function collect(
  spans: NormSpan[],
  bad: { path: string; raw: unknown; field: string; reason: string }[],
  tracker: LoadTracker,
  line: number | null,
  seen: Seen = { spans: new Map(), events: new Set() },
): { llm: TraceLlmRow[]; decisions: DecisionRow[]; ignored: number } {
  const llm: TraceLlmRow[] = [];
  const decisions: DecisionRow[] = [];
  let ignored = 0;
  for (const b of bad)
    tracker.quarantine({ line, path: b.path, field: b.field, reason: b.reason, raw: rawJson(b.raw) });
  for (const s of spans) {
    const isLlm = MODEL_ATTRS.some((k) => s.attrs.has(k));
    const events = decisionRows(s);
    if (!isLlm && events.length === 0) {
      ignored++;
      continue;
    }
    const raw = rawJson(s.raw);
    if (isLlm) {
      const row = guardRow(tracker, { line: s.line, path: s.path, raw }, () => {
        const key = `${s.traceId}/${s.spanId}`;
        const first = seen.spans.get(key);
        if (first !== undefined) throw new RowError("spanId", `duplicate span ${key}, first at ${first}`);
        seen.spans.set(key, s.line === null ? s.path : `line ${s.line} ${s.path}`);
        return llmRow(s);
      });
      if (row) llm.push(row);
    }
    for (const e of events) {
      const d = guardRow(
        tracker,
        { line: s.line, path: `${s.path}.events[${e.index}]`, raw: e.payload },
        () => {
          const decision = parseDecisionPayload(e.payload);
          if (seen.events.has(decision.event_id))
            throw new RowError("event_id", `duplicate event_id ${decision.event_id}`);
          seen.events.add(decision.event_id);
          return {
            decision,
            strategyVersion: str(s.attrs.get("router.strategy_version")),
            traceId: decision.trace_id ?? s.traceId,
            spanId: decision.span_id ?? s.spanId,
          };
        },
      );
      if (d) decisions.push(d);
    }
  }
  return { llm, decisions, ignored };
}

export type TraceFormat = "jaeger-json" | "otlp-json";

/** Jaeger query-API export (`{"data": [trace...]}`). */
export function loadJaeger(file: string, opts: LoadOptions = {}): TraceLoad {
  const tracker = new LoadTracker(file, "jaeger-json", opts);
  const { value } = readJsonDocument(file, tracker);
  const { spans, bad } = jaegerSpans(value, file, opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS);
  const r = collect(spans, bad, tracker, null);
  if (r.ignored > 0)
    tracker.warn(`${r.ignored} span(s) without gen_ai model attributes or decision events ignored`);
  return { llm: r.llm, decisions: r.decisions, report: tracker.finish() };
}

/**
 * OTLP/JSON trace export: one `{"resourceSpans": [...]}` document, or JSON Lines of them (the
 * OpenTelemetry Collector file exporter). Lines that do not parse are quarantined.
 */
export function loadOtlp(file: string, opts: LoadOptions = {}): TraceLoad {
  const tracker = new LoadTracker(file, "otlp-json", opts);
  const text = readText(file, tracker);
  // JSON Lines when the first non-blank line is a complete JSON value on its own and more follow.
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let isJsonl = false;
  if (lines.length > 1) {
    try {
      parseJsonLenient(lines[0]!);
      isJsonl = true;
    } catch {
      isJsonl = false;
    }
  }
  const docs: { value: unknown; line: number | null; prefix: string }[] = isJsonl
    ? readJsonLines(file, tracker, opts).map((l) => ({ value: l.value, line: l.line, prefix: "$" }))
    : [{ value: readJsonDocument(file, tracker).value, line: null, prefix: "$" }];
  const llm: TraceLlmRow[] = [];
  const decisions: DecisionRow[] = [];
  let ignored = 0;
  const seen: Seen = { spans: new Map(), events: new Set() };
  for (const d of docs) {
    const { spans, bad } = otlpSpans(
      d.value,
      file,
      d.line,
      d.prefix,
      opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS,
    );
    const r = collect(spans, bad, tracker, d.line, seen);
    llm.push(...r.llm);
    decisions.push(...r.decisions);
    ignored += r.ignored;
  }
  if (ignored > 0)
    tracker.warn(`${ignored} span(s) without gen_ai model attributes or decision events ignored`);
  return { llm, decisions, report: tracker.finish() };
}

/** Decision events from a JSONL file of `routeiq.router_decision.v1` payloads (one per line). */
export function loadDecisionsJsonl(file: string, opts: LoadOptions = {}): Loaded<DecisionRow> {
  const tracker = new LoadTracker(file, "routeiq-decisions-jsonl", opts);
  const seen = new Set<string>();
  const rows = guardedJsonLines(file, tracker, opts, (l): DecisionRow => {
    const decision = parseDecisionPayload(l.raw);
    if (seen.has(decision.event_id))
      throw new RowError("event_id", `duplicate event_id ${decision.event_id}`);
    seen.add(decision.event_id);
    return {
      decision,
      strategyVersion: null,
      traceId: decision.trace_id ?? null,
      spanId: decision.span_id ?? null,
    };
  });
  return { rows, report: tracker.finish() };
}

/**
 * Routing rows (the LLMRouter routing-JSONL shape) from LLM spans: model = response model (else the
 * requested one), tokens and duration from the span; `performance` is null (traces hold no quality
 * label; join with an oracle or feedback for that). Spans with empty query text are left out.
 */
export function traceRoutingRows(rows: readonly TraceLlmRow[]): RoutingJsonlRow[] {
  return rows
    .filter((r) => r.query !== "")
    .map((r) =>
      spanRoutingRow({
        line: r.line ?? 0,
        query: r.query,
        modelName: r.responseModel ?? r.requestModel ?? "unknown",
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        durationSeconds: r.durationSeconds,
        extras: { trace_id: r.traceId, span_id: r.spanId, request_model: r.requestModel },
      }),
    );
}

/**
 * The routing-JSONL row of one LLM span (a trace export's or a collected one's): no quality label, embedding or
 * cost yet, so `performance`, `embeddingId` and `cost` are null.
 */
export function spanRoutingRow(s: {
  line: number;
  query: string;
  modelName: string;
  inputTokens: number | null;
  outputTokens: number | null;
  durationSeconds: number | null;
  extras: Record<string, unknown>;
}): RoutingJsonlRow {
  return {
    line: s.line,
    query: s.query,
    modelName: s.modelName,
    performance: null,
    embeddingId: null,
    inputTokens: s.inputTokens,
    outputTokens: s.outputTokens,
    responseTime: s.durationSeconds,
    cost: null,
    extras: s.extras,
  };
}
