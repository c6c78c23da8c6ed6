/**
 * A SIMULATED stretch of gateway traffic, seeded and deterministic, as the OTLP/JSON requests the
 * gateway's exporter would send: per request a decision span (routeiq.router_decision.v1 with the
 * router's scores), and an LLM span (query, answer, model, tokens, latency). A scripted drift moves
 * the score distribution from `driftAt` on. For demos, notebooks and tests of the production loop;
 * nothing here is real traffic.
 */
import { createRng } from "../util/random";
import type { Rng } from "../util/random";

export interface SimulatedTrafficOptions {
  seed: number;
  requests: number;
  /** First request time, ms since the epoch. */
  startMs: number;
  /** Time covered by all requests. */
  spanMs: number;
  weakModel: string;
  strongModel: string;
  /** Route to strong iff score >= threshold (control variant). */
  threshold: number;
  /** Threshold of the "treatment" variant; every other request is in it. null: no experiment. */
  treatmentThreshold: number | null;
  /** Fraction of the time range after which scores shift by `driftShift`; null: no drift. */
  driftAt: number | null;
  driftShift: number;
  errorRate: number;
  fallbackRate: number;
  /** Query texts, used in turn; default: templated questions. */
  queries?: readonly string[];
  /** The served answer for request i; default: "SIMULATED answer i". */
  answer?: (i: number, query: string, strongServed: boolean) => string;
  strategyVersion: string;
}

export const DEFAULT_SIMULATION: SimulatedTrafficOptions = {
  seed: 18,
  requests: 2000,
  startMs: Date.UTC(2026, 10, 16),
  spanMs: 7 * 24 * 3600 * 1000,
  weakModel: "openai/gpt-4o-mini",
  strongModel: "openai/gpt-4o",
  threshold: 0.5,
  treatmentThreshold: 0.4,
  driftAt: 0.5,
  driftShift: 0.25,
  errorRate: 0.02,
  fallbackRate: 0.03,
  strategyVersion: "0123456789abcdef",
};

/** Router scores before the drift: a fixed mixture, so a calibration set can be drawn from it. */
export function baselineScore(rng: Rng): number {
  const u = rng.next();
  const v = rng.next();
  // triangular-ish around 0.45 with tails
  return Math.min(1, Math.max(0, 0.15 + 0.6 * ((u + v) / 2) + 0.1 * (rng.next() - 0.5)));
}

/** `n` scores from the pre-drift distribution: the calibration set of the simulated router. */
export function referenceScores(seed: number, n: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => baselineScore(rng));
}

function hex(rng: Rng, bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++)
    s += Math.floor(rng.next() * 256)
      .toString(16)
      .padStart(2, "0");
  return s;
}

function uuid(rng: Rng): string {
  const h = hex(rng, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number) => ({ key, value: { intValue: String(v) } });

export interface SimulatedRequest {
  traceId: string;
  query: string;
  score: number;
  selected: string;
  variant: string | null;
  timestampMs: number;
  drifted: boolean;
}

/**
 * The simulated traffic as OTLP/JSON `ExportTraceServiceRequest` bodies of up to `batch` requests
 * (two spans each), plus what was generated, for checks.
 */
export function simulateTraffic(
  options: Partial<SimulatedTrafficOptions> = {},
  batch = 200,
): { bodies: string[]; requests: SimulatedRequest[] } {
  const o = { ...DEFAULT_SIMULATION, ...options };
  const rng = createRng(o.seed);
  const requests: SimulatedRequest[] = [];
  const spans: unknown[][] = [];
  let current: unknown[] = [];
  for (let i = 0; i < o.requests; i++) {
    const ts = Math.floor(o.startMs + (o.spanMs * i) / o.requests);
    const drifted = o.driftAt !== null && i >= o.driftAt * o.requests;
    const score = Math.min(1, Math.max(0, baselineScore(rng) + (drifted ? o.driftShift : 0)));
    const variant = o.treatmentThreshold === null ? null : i % 2 === 0 ? "control" : "treatment";
    const threshold = variant === "treatment" ? o.treatmentThreshold! : o.threshold;
    const selected = score >= threshold ? o.strongModel : o.weakModel;
    const query = o.queries
      ? o.queries[i % o.queries.length]!
      : `Question ${i}: what is ${i % 97} times ${(i * 7) % 13}?`;
    const traceId = hex(rng, 16);
    const decisionSpan = hex(rng, 8);
    const llmSpan = hex(rng, 8);
    const error = rng.next() < o.errorRate;
    const fallback = !error && rng.next() < o.fallbackRate;
    const strong = selected === o.strongModel;
    const latency = (strong ? 0.8 : 0.3) * (1 + rng.next());
    const inTok = 12 + Math.floor(query.length / 4);
    const outTok = 5 + Math.floor(rng.next() * (strong ? 60 : 30));
    const payload = {
      contract_version: "v1",
      contract_name: "routeiq.router_decision.v1",
      event_id: uuid(rng),
      trace_id: traceId,
      span_id: decisionSpan,
      parent_span_id: null,
      timestamp_utc: new Date(Math.floor(ts / 1000) * 1000).toISOString(),
      timestamp_unix_ms: Math.floor(ts / 1000) * 1000,
      input: {
        requested_model: "auto",
        query_length: query.length,
        user_id: null,
        team_id: null,
        api_type: "chat",
        request_metadata: {},
      },
      strategy_name: "llmrouter-mlp",
      strategy_version: null,
      candidate_deployments: [
        { model_name: o.weakModel, provider: "openai", score: 1 - score, available: true },
        { model_name: o.strongModel, provider: "openai", score, available: true },
      ],
      selected_deployment: selected,
      selection_reason: "strategy_prediction",
      experiment: {
        experiment_id: variant === null ? null : "threshold-ab",
        variant,
        strategy_name: null,
        strategy_version: null,
        weight: variant === null ? null : 50,
        total_weight: variant === null ? null : 100,
        hash_bucket: null,
        hash_key_type: null,
      },
      timings: {
        total_ms: 8 + Math.round(rng.next() * 80) / 10,
        strategy_ms: 2,
        embedding_ms: 6,
        candidate_filter_ms: null,
      },
      outcome: {
        status: error ? "error" : fallback ? "fallback" : "success",
        error_message: error ? "simulated upstream error" : null,
        error_type: error ? "APIError" : null,
        input_tokens: inTok,
        output_tokens: error ? null : outTok,
        total_tokens: error ? null : inTok + outTok,
        api_type: "chat",
      },
      fallback: {
        fallback_triggered: fallback,
        original_model: fallback ? selected : null,
        fallback_reason: fallback ? "rate_limited" : null,
        fallback_attempt: fallback ? 1 : 0,
      },
      custom_attributes: {},
    };
    const startNs = BigInt(ts) * 1_000_000n;
    current.push(
      {
        traceId,
        spanId: decisionSpan,
        name: "llm.routing.decision",
        startTimeUnixNano: String(startNs),
        endTimeUnixNano: String(startNs + 10_000_000n),
        attributes: [str("router.strategy_version", o.strategyVersion)],
        events: [
          {
            name: "routeiq.router_decision.v1",
            timeUnixNano: String(startNs),
            attributes: [str("routeiq.router_decision.payload", JSON.stringify(payload))],
          },
        ],
      },
      {
        traceId,
        spanId: llmSpan,
        parentSpanId: decisionSpan,
        name: "litellm_request",
        startTimeUnixNano: String(startNs + 11_000_000n),
        endTimeUnixNano: String(startNs + 11_000_000n + BigInt(Math.round(latency * 1e9))),
        attributes: [
          str("gen_ai.request.model", selected),
          str("gen_ai.response.model", selected),
          int("gen_ai.usage.input_tokens", inTok),
          int("gen_ai.usage.output_tokens", error ? 0 : outTok),
          str("gen_ai.prompt.0.role", "user"),
          str("gen_ai.prompt.0.content", query),
          ...(error
            ? []
            : [
                str("gen_ai.completion.0.role", "assistant"),
                str(
                  "gen_ai.completion.0.content",
                  o.answer ? o.answer(i, query, strong) : `SIMULATED answer ${i}`,
                ),
              ]),
        ],
        status: { code: error ? 2 : 1 },
      },
    );
    requests.push({
      traceId,
      query,
      score,
      selected,
      variant,
      timestampMs: payload.timestamp_unix_ms,
      drifted,
    });
    if (current.length >= batch * 2) {
      spans.push(current);
      current = [];
    }
  }
  if (current.length > 0) spans.push(current);
  const bodies = spans.map((s) =>
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [str("service.name", "routeiq-gateway")] },
          scopeSpans: [{ scope: { name: "routeiq" }, spans: s }],
        },
      ],
    }),
  );
  return { bodies, requests };
}
