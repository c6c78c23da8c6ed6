import { z } from "zod";

/** `routeiq.router_decision.v1` payload (gateway-contract.md §12). Unknown keys are kept. */
const nullableStr = z.string().nullable().optional();
const nullableNum = z.number().nullable().optional();

export const RouterDecisionSchema = z
  .object({
    contract_version: z.enum(["v1", "v1.0", "v1.1"]),
    contract_name: z.literal("routeiq.router_decision.v1"),
    event_id: z.string().min(1),
    trace_id: nullableStr,
    span_id: nullableStr,
    parent_span_id: nullableStr,
    timestamp_utc: z.string(),
    timestamp_unix_ms: z.number(),
    input: z
      .object({
        requested_model: nullableStr,
        query_length: nullableNum,
        user_id: nullableStr,
        team_id: nullableStr,
        api_type: nullableStr,
        request_metadata: z.record(z.string(), z.unknown()).nullable().optional(),
      })
      .passthrough(),
    strategy_name: z.string(),
    strategy_version: nullableStr,
    candidate_deployments: z.array(
      z
        .object({
          model_name: z.string(),
          provider: nullableStr,
          score: nullableNum,
          available: z.boolean().nullable().optional(),
        })
        .passthrough(),
    ),
    selected_deployment: z.string().nullable(),
    selection_reason: z.string(),
    experiment: z.record(z.string(), z.unknown()).nullable().optional(),
    timings: z
      .object({
        total_ms: z.number(),
        strategy_ms: nullableNum,
        embedding_ms: nullableNum,
        candidate_filter_ms: nullableNum,
      })
      .passthrough(),
    outcome: z
      .object({
        status: z.enum(["success", "failure", "fallback", "error", "no_candidates", "timeout"]),
        error_message: nullableStr,
        error_type: nullableStr,
        input_tokens: nullableNum,
        output_tokens: nullableNum,
        total_tokens: nullableNum,
        api_type: nullableStr,
      })
      .passthrough(),
    fallback: z
      .object({
        fallback_triggered: z.boolean(),
        original_model: nullableStr,
        fallback_reason: nullableStr,
        fallback_attempt: z.number().int(),
      })
      .passthrough(),
    custom_attributes: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

export type RouterDecision = z.infer<typeof RouterDecisionSchema>;

export const DECISION_EVENT = "routeiq.router_decision.v1";
export const DECISION_SPAN = "llm.routing.decision";
export const DECISION_PAYLOAD_ATTR = "routeiq.router_decision.payload";

/** A decision plus where it came from and the span's `router.strategy_version` (the ML path's version). */
export interface DecisionRow {
  decision: RouterDecision;
  /** From the span attribute `router.strategy_version` when present (payload's is null on the ML path). */
  strategyVersion: string | null;
  traceId: string | null;
  spanId: string | null;
}

/** Middleware/callback placeholders are not routing labels (contract §12). */
export function placeholderReason(d: RouterDecision): string | null {
  if (d.selected_deployment === "pending")
    return "selected_deployment is the 'pending' placeholder, not a label";
  if (d.strategy_name === "v1-middleware" || d.contract_version === ("v1-middleware" as string))
    return "v1-middleware placeholder, not a label";
  return null;
}
