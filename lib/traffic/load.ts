/** Traffic for the analytics, from what `routerlab collect` wrote or from exported trace files. */
import type { CollectedData } from "../collect/read";
import type { TraceLoad } from "../data/traces";
import type { TrafficCall, TrafficDecision } from "./analytics";

export interface Traffic {
  decisions: TrafficDecision[];
  calls: TrafficCall[];
}

/** From a collected dataset (lib/collect/read.ts): every decision and every LLM span, with or without prompt text. */
export function trafficFromCollected(data: Pick<CollectedData, "llm" | "decisions">): Traffic {
  return {
    decisions: data.decisions.map((d) => ({ decision: d.decision, strategyVersion: d.strategy_version })),
    calls: data.llm.map((l) => ({
      model: l.response_model ?? l.request_model ?? "unknown",
      durationSeconds: l.duration_s,
      inputTokens: l.input_tokens,
      outputTokens: l.output_tokens,
      error: l.error,
    })),
  };
}

/** From a Jaeger or OTLP/JSON export (lib/data/traces.ts); file exports carry no span status, so no call is an error. */
export function trafficFromTraceLoad(load: Pick<TraceLoad, "llm" | "decisions">): Traffic {
  return {
    decisions: load.decisions.map((d) => ({ decision: d.decision, strategyVersion: d.strategyVersion })),
    calls: load.llm.map((l) => ({
      model: l.responseModel ?? l.requestModel ?? "unknown",
      durationSeconds: l.durationSeconds,
      inputTokens: l.inputTokens,
      outputTokens: l.outputTokens,
      error: false,
    })),
  };
}
