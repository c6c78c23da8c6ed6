/**
 * The spans of one OTLP/HTTP trace request, decoded from either encoding into one shape. OTLP/JSON
 * is parsed at the edge by a zod schema; ids are hex (the OTLP/JSON rule) or base64 (what a
 * protobuf JSON mapping writes), always stored as lowercase hex so protobuf and JSON spans join.
 */
import { z } from "zod";
import { issueKeyPath, jsonPathOf } from "../util/zod-error";

/** Attribute values: nested arrays stay arrays, kvlists become JSON text, bytes base64. */
export type WireAnyValue = string | number | boolean | null | WireAnyValue[];

export interface WireSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  startUnixNano: bigint;
  endUnixNano: bigint;
  attrs: Map<string, WireAnyValue>;
  events: { name: string; timeUnixNano: bigint; attrs: Map<string, WireAnyValue> }[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** Where the span sat in its request, for error messages. */
  path: string;
}

export class WireError extends Error {}

interface JsonAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number | string;
  boolValue?: boolean;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: { key: string; value?: JsonAnyValue }[] };
  bytesValue?: string;
}

const KeyValue = z.object({
  key: z.string(),
  value: z.custom<JsonAnyValue>((v) => v !== null && typeof v === "object").optional(),
});
const Nanos = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]);
const JsonSpan = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  startTimeUnixNano: Nanos,
  endTimeUnixNano: Nanos,
  attributes: z.array(KeyValue).default([]),
  events: z
    .array(
      z.object({
        name: z.string().default(""),
        timeUnixNano: Nanos.optional(),
        attributes: z.array(KeyValue).default([]),
      }),
    )
    .default([]),
  status: z.object({ code: z.union([z.number().int(), z.string()]).optional() }).optional(),
});
const JsonRequest = z.object({
  resourceSpans: z
    .array(
      z.object({
        scopeSpans: z.array(z.object({ spans: z.array(z.unknown()).default([]) })).optional(),
        instrumentationLibrarySpans: z
          .array(z.object({ spans: z.array(z.unknown()).default([]) }))
          .optional(),
      }),
    )
    .default([]),
});

const HEX_ID = /^[0-9a-fA-F]*$/;
const B64_ID = /^[A-Za-z0-9+/]+={0,2}$/;

/** A trace (16 bytes) or span (8 bytes) id given as hex or base64, as lowercase hex; "" stays "". */
export function normaliseId(id: string, bytes: number, field: string): string {
  if (id === "") return "";
  if (id.length === bytes * 2 && HEX_ID.test(id)) return id.toLowerCase();
  if (B64_ID.test(id)) {
    const b = Buffer.from(id, "base64");
    if (b.length === bytes) return b.toString("hex");
  }
  throw new WireError(
    `${field}: not a ${bytes}-byte id in hex or base64: ${JSON.stringify(id.slice(0, 64))}`,
  );
}

const STATUS_CODES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

function jsonValue(v: JsonAnyValue | undefined, depth: number, maxDepth: number): WireAnyValue {
  if (depth > maxDepth) throw new WireError(`attribute value nested deeper than ${maxDepth}`);
  if (!v) return null;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.boolValue !== undefined) return v.boolValue === true;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => jsonValue(x, depth + 1, maxDepth));
  if (v.kvlistValue)
    return JSON.stringify(
      Object.fromEntries(
        (v.kvlistValue.values ?? []).map((kv) => [kv.key, jsonValue(kv.value, depth + 1, maxDepth)]),
      ),
    );
  if (v.bytesValue !== undefined) return String(v.bytesValue);
  return null;
}

function attrs(list: readonly z.infer<typeof KeyValue>[], maxDepth: number): Map<string, WireAnyValue> {
  return new Map(list.map((a) => [a.key, jsonValue(a.value, 0, maxDepth)]));
}

/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` (already JSON-parsed). A malformed request as a
 * whole throws WireError; a malformed span is returned in `bad` with its path and reason.
 */
export function decodeJsonTraceRequest(
  doc: unknown,
  limits: { maxSpans: number; maxValueDepth: number },
): { spans: WireSpan[]; bad: { path: string; reason: string }[] } {
  const req = JsonRequest.safeParse(doc);
  if (!req.success) {
    const issue = req.error.issues[0]!;
    throw new WireError(
      `not an OTLP/JSON ExportTraceServiceRequest: ${jsonPathOf("$", issueKeyPath(issue))}: ${issue.message}`,
    );
  }
  const spans: WireSpan[] = [];
  const bad: { path: string; reason: string }[] = [];
  let count = 0;
  req.data.resourceSpans.forEach((rs, ri) => {
    (rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? []).forEach((ss, si) =>
      ss.spans.forEach((raw, pi) => {
        if (++count > limits.maxSpans)
          throw new WireError(`more than ${limits.maxSpans} spans in one request`);
        const path = `resourceSpans[${ri}].scopeSpans[${si}].spans[${pi}]`;
        const p = JsonSpan.safeParse(raw);
        if (!p.success) {
          const issue = p.error.issues[0]!;
          bad.push({ path, reason: `${jsonPathOf(`$.${path}`, issueKeyPath(issue))}: ${issue.message}` });
          return;
        }
        const s = p.data;
        try {
          const code = s.status?.code;
          spans.push({
            traceId: normaliseId(s.traceId, 16, "traceId"),
            spanId: normaliseId(s.spanId, 8, "spanId"),
            parentSpanId: s.parentSpanId ? normaliseId(s.parentSpanId, 8, "parentSpanId") || null : null,
            name: s.name,
            startUnixNano: BigInt(s.startTimeUnixNano),
            endUnixNano: BigInt(s.endTimeUnixNano),
            attrs: attrs(s.attributes, limits.maxValueDepth),
            events: s.events.map((e) => ({
              name: e.name,
              timeUnixNano: BigInt(e.timeUnixNano ?? 0),
              attrs: attrs(e.attributes, limits.maxValueDepth),
            })),
            statusCode: typeof code === "string" ? (STATUS_CODES[code] ?? 0) : (code ?? 0),
            path,
          });
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
          bad.push({ path, reason: e.message });
        }
      }),
    );
  });
  return { spans, bad };
}
