/**
 * The contract between routerlab's LLM client (lib/llm/client.ts), its callers (lib/oracle, SimpleQA evaluation)
 * and the local OpenAI-compatible simulator (lib/llm/sim). Callers depend on these types only.
 */

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

export interface ChatRequest {
  /** A model name declared in configs/models.yaml (not the provider's model id). */
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  /** Forwarded to providers that support it; part of the cache key. */
  readonly seed?: number;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface ChatResult {
  /** The model as named in configs/models.yaml. */
  readonly model: string;
  /** The first choice's text. Never null: an empty-choices reply is retried, then raised as an LlmError. */
  readonly text: string;
  readonly finishReason: string | null;
  readonly usage: TokenUsage;
  /** USD from usage and the model's configured prices. 0 for a cache hit (it was paid for once already). */
  readonly costUsd: number;
  /** USD the original (paid) call cost; equal to costUsd unless cached. */
  readonly originalCostUsd: number;
  readonly cached: boolean;
  /** Wall time of this call, including retries (≈0 for cache hits). */
  readonly latencyMs: number;
  readonly attempts: number;
}

export interface ModelSpend {
  readonly calls: number;
  readonly cacheHits: number;
  readonly retries: number;
  readonly failures: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** USD actually paid in this process (cache hits excluded). */
  readonly costUsd: number;
}

export interface LlmStats {
  readonly byModel: Readonly<Record<string, ModelSpend>>;
  readonly total: ModelSpend;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the model's configured per-call timeout. */
  readonly timeoutMs?: number;
}

export interface LlmClient {
  chat(req: ChatRequest, opts?: CallOptions): Promise<ChatResult>;
  stats(): LlmStats;
  /** Waits for in-flight calls and flushes the response cache. */
  close(): Promise<void>;
}
