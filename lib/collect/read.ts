/**
 * Reading what `routerlab collect` wrote: committed records only (those followed by their batch
 * line), de-duplicated (an exporter retrying after a lost reply sends the same spans twice), and
 * the join of `llm.routing.decision` events with the prompt spans of the same trace.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { RouterDecision } from "../data/decisions";
import type { RoutingJsonlRow } from "../data/llmrouter";
import { spanRoutingRow } from "../data/traces";
import { RouterlabError } from "../util/errors";
import type { BatchCounts, DecisionRecord, LlmRecord } from "./records";
import { addCounts, CollectRecordSchema, emptyCounts } from "./records";
import { listSegments, realDir } from "./store";
import { parseWith } from "../util/zod-error";

export interface CollectedData {
  dir: string;
  llm: LlmRecord[];
  decisions: DecisionRecord[];
  /** Summed batch counts: every span the receiver acknowledged. */
  counts: BatchCounts;
  batches: number;
  segments: number;
  /** Records seen again (exporter retries), dropped. */
  duplicates: number;
  /** Records after a segment's last batch line (a request that was never acknowledged), ignored. */
  uncommitted: number;
}

/** Reads a collected dataset directory. A line that is not a valid record is an error naming file and line. */
export function readCollected(dir: string): CollectedData {
  const abs = realDir(dir, false);
  const out: CollectedData = {
    dir: abs,
    llm: [],
    decisions: [],
    counts: emptyCounts(),
    batches: 0,
    segments: 0,
    duplicates: 0,
    uncommitted: 0,
  };
  const seenSpans = new Set<string>();
  const seenEvents = new Set<string>();
  for (const name of listSegments(abs)) {
    const file = path.join(abs, name);
    out.segments++;
    const lines = readFileSync(file, "utf8").split("\n");
    let pending: (LlmRecord | DecisionRecord)[] = [];
    lines.forEach((line, i) => {
      if (line === "") return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        if (i === lines.length - 1) return; // torn last line of a killed writer
        throw new RouterlabError(`invalid JSON: ${(e as Error).message}`, { file, line: i + 1 });
      }
      const rec = parseWith(CollectRecordSchema, v, { file, line: i + 1 });
      if (rec.t !== "batch") {
        pending.push(rec);
        return;
      }
      out.batches++;
      out.counts = addCounts(out.counts, rec.counts);
      for (const p of pending) {
        if (p.t === "llm") {
          const key = `${p.trace_id}/${p.span_id}`;
          if (seenSpans.has(key)) out.duplicates++;
          else {
            seenSpans.add(key);
            out.llm.push(p);
          }
        } else if (seenEvents.has(p.decision.event_id)) out.duplicates++;
        else {
          seenEvents.add(p.decision.event_id);
          out.decisions.push(p);
        }
      }
      pending = [];
    });
    out.uncommitted += pending.length;
  }
  return out;
}

/** One routed request: the prompt span, the answer it carried, and the routing decision of its trace. */
export interface CollectedRoutingRow {
  traceId: string;
  spanId: string;
  query: string;
  requestModel: string | null;
  /** The model that answered (response model, else the requested one). */
  servedModel: string;
  response: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  durationSeconds: number;
  startUnixSeconds: number;
  error: boolean;
  decision: RouterDecision | null;
  /** `router.strategy_version` of the decision span (the ML path's artifact version). */
  strategyVersion: string | null;
}

/**
 * The decision for an LLM span of the same trace: the one emitted by its parent span if any, else
 * the latest decision that started no later than the LLM span, else the trace's first decision.
 */
function pickDecision(
  llm: LlmRecord,
  candidates: readonly DecisionRecord[] | undefined,
): DecisionRecord | null {
  if (!candidates || candidates.length === 0) return null;
  const parent = candidates.find((d) => d.span_id === llm.parent_span_id);
  if (parent) return parent;
  let best: DecisionRecord | null = null;
  for (const d of candidates)
    if (d.start_s <= llm.start_s && (best === null || d.start_s >= best.start_s)) best = d;
  return best ?? candidates[0]!;
}

/** LLM spans with prompt text, joined with their trace's routing decision; spans without prompt text are left out (they are counted in `counts.llm_no_prompt`). */
export function collectedRoutingRows(data: Pick<CollectedData, "llm" | "decisions">): CollectedRoutingRow[] {
  const byTrace = new Map<string, DecisionRecord[]>();
  for (const d of data.decisions) {
    const list = byTrace.get(d.trace_id);
    if (list) list.push(d);
    else byTrace.set(d.trace_id, [d]);
  }
  const rows: CollectedRoutingRow[] = [];
  for (const l of data.llm) {
    if (l.query === null || l.query === "") continue;
    const d = pickDecision(l, byTrace.get(l.trace_id));
    rows.push({
      traceId: l.trace_id,
      spanId: l.span_id,
      query: l.query,
      requestModel: l.request_model,
      servedModel: l.response_model ?? l.request_model ?? "unknown",
      response: l.response,
      inputTokens: l.input_tokens,
      outputTokens: l.output_tokens,
      durationSeconds: l.duration_s,
      startUnixSeconds: l.start_s,
      error: l.error,
      decision: d?.decision ?? null,
      strategyVersion: d?.strategy_version ?? null,
    });
  }
  return rows;
}

/** The LLMRouter routing-JSONL shape (contract §12 extras included); `performance` stays null until labelled. */
export function toRoutingJsonlRows(rows: readonly CollectedRoutingRow[]): RoutingJsonlRow[] {
  return rows.map((r, i) =>
    spanRoutingRow({
      line: i + 1,
      query: r.query,
      modelName: r.servedModel,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      durationSeconds: r.durationSeconds,
      extras: {
        trace_id: r.traceId,
        span_id: r.spanId,
        request_model: r.requestModel,
        response_time_ms: r.durationSeconds * 1000,
        ...(r.decision
          ? {
              strategy_name: r.decision.strategy_name,
              strategy_version: r.strategyVersion ?? r.decision.strategy_version ?? null,
              outcome_status: r.decision.outcome.status,
              candidate_count: r.decision.candidate_deployments.length,
              contract_version: r.decision.contract_version,
            }
          : {}),
      },
    }),
  );
}
