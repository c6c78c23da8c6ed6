/**
 * routerlab's LLM client (the LlmClient contract in ./types): the `openai` package for the HTTP call, with
 * routerlab's own admission control (concurrency, RPM, TPM), retries, cache and spend accounting around it.
 */
import { setMaxListeners } from "node:events";
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { z } from "zod";
import { redactString } from "../tracking/redact";
import { createRng, type Rng } from "../util/random";
import { cacheKey, defaultLlmCacheDir, ResponseCache } from "./cache";
import type { ModelConfig, ModelsConfig } from "./config";
import { costUsd, SpendTracker, spendReport } from "./cost";
import { createNodeFetch, type NodeFetch } from "./http";
import { Semaphore, TokenBucket } from "./rate-limit";
import {
  backoffMs,
  DEFAULT_BACKOFF,
  isRetryableStatus,
  LlmError,
  retryAfterMs,
  sleep,
  type BackoffOptions,
} from "./retry";
import type { CallOptions, ChatRequest, ChatResult, LlmClient, LlmStats } from "./types";

export interface LlmClientOptions {
  /** Response cache folder (default `.cache/llm`); `null` disables the cache. */
  cacheDir?: string | null;
  /** Seed of the backoff jitter (logged with the run's other seeds). Default 0. */
  seed?: number;
  backoff?: Partial<BackoffOptions>;
  /** Where API keys are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Aborting it cancels every queued and in-flight call of this client. */
  signal?: AbortSignal;
  /** Called once per retry with a one-line reason (default: silent; counts are in stats()). */
  onRetry?: (message: string) => void;
  /** Completion tokens reserved against the TPM budget when a request sets no maxTokens. Default 256. */
  defaultCompletionReserve?: number;
  /** Use Node's built-in fetch instead of routerlab's node:http one (lib/llm/http.ts). Default false. */
  nativeFetch?: boolean;
}

/** The LlmClient contract plus routerlab extras (abort, spend table, cache access). */
export interface RouterlabLlmClient extends LlmClient {
  readonly config: ModelsConfig;
  readonly cache: ResponseCache | null;
  /** The cache key (and Idempotency-Key) of a request. */
  keyOf(req: ChatRequest): string;
  /** Cancels every queued and in-flight call; later calls fail at once. */
  abort(reason?: unknown): void;
  readonly aborted: boolean;
  /** Calls currently admitted or waiting, over all models. */
  readonly pending: number;
  spendReport(): string;
}

const responseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional() }).loose(),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1, "empty choices"),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
    })
    .loose()
    .nullable()
    .optional(),
});

interface ModelState {
  readonly name: string;
  readonly cfg: ModelConfig;
  api: OpenAI | null;
  apiKey: string | null;
  fetch: NodeFetch | null;
  readonly slots: Semaphore;
  readonly rpm: TokenBucket | null;
  readonly tpm: TokenBucket | null;
  /** performance.now() before which no request is sent (set by a 429's Retry-After). */
  pausedUntil: number;
}

/** A rough prompt-size estimate (4 characters a token, plus per-message overhead) for the TPM budget. */
export function estimatePromptTokens(req: Pick<ChatRequest, "messages">): number {
  let n = 3;
  for (const m of req.messages) n += 4 + Math.ceil(m.content.length / 4);
  return n;
}

class Attempt {
  readonly controller = new AbortController();
  timedOut = false;
  private readonly timer: NodeJS.Timeout;
  private readonly unlinks: (() => void)[] = [];

  constructor(timeoutMs: number, parents: (AbortSignal | undefined)[]) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    for (const p of parents) {
      if (!p) continue;
      if (p.aborted) this.controller.abort(p.reason);
      const onAbort = (): void => this.controller.abort(p.reason);
      p.addEventListener("abort", onAbort, { once: true });
      this.unlinks.push(() => p.removeEventListener("abort", onAbort));
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const u of this.unlinks) u();
  }
}

type Outcome =
  | { ok: true; text: string; finishReason: string | null; promptTokens: number; completionTokens: number }
  | { ok: false; retry: boolean; kind: string; status?: number; message: string; waitMs?: number };

export function createLlmClient(config: ModelsConfig, opts: LlmClientOptions = {}): RouterlabLlmClient {
  return new Client(config, opts);
}

class Client implements RouterlabLlmClient {
  readonly cache: ResponseCache | null;
  private readonly states = new Map<string, ModelState>();
  private readonly spend: SpendTracker;
  private readonly rng: Rng;
  private readonly backoff: BackoffOptions;
  private readonly env: NodeJS.ProcessEnv;
  private readonly root = new AbortController();
  private readonly inflight = new Map<string, Promise<ChatResult>>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    readonly config: ModelsConfig,
    private readonly opts: LlmClientOptions,
  ) {
    this.cache = opts.cacheDir === null ? null : new ResponseCache(opts.cacheDir ?? defaultLlmCacheDir());
    this.spend = new SpendTracker(config.models);
    this.rng = createRng(opts.seed ?? 0);
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.env = opts.env ?? process.env;
    // Every queued or in-flight call listens on the client's signal (and often on one caller signal).
    setMaxListeners(0, this.root.signal);
    if (opts.signal) {
      const s = opts.signal;
      if (s.aborted) this.root.abort(s.reason);
      else s.addEventListener("abort", () => this.abort(s.reason), { once: true });
    }
  }

  get aborted(): boolean {
    return this.root.signal.aborted;
  }

  get pending(): number {
    return this.running.size;
  }

  abort(reason: unknown = new Error("LLM client aborted")): void {
    if (!this.root.signal.aborted) this.root.abort(reason);
  }

  keyOf(req: ChatRequest): string {
    const m = this.model(req.model).cfg;
    return cacheKey({
      baseUrl: m.baseUrl,
      modelId: m.modelId,
      messages: req.messages,
      temperature: req.temperature,
      maxTokens: req.maxTokens,
      seed: req.seed,
    });
  }

  stats(): LlmStats {
    return this.spend.stats();
  }

  spendReport(): string {
    return spendReport(this.stats());
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.cache?.close();
    for (const st of this.states.values()) st.fetch?.destroy();
  }

  private model(name: string): ModelState {
    let st = this.states.get(name);
    if (st) return st;
    const cfg = this.config.models[name];
    if (!cfg)
      throw new LlmError(
        `unknown model '${name}' (declared: ${Object.keys(this.config.models).join(", ")})`,
        { model: name, configFile: this.config.file, kind: "config" },
      );
    st = {
      name,
      cfg,
      api: null,
      apiKey: null,
      fetch: null,
      slots: new Semaphore(cfg.limits.concurrency),
      rpm: cfg.limits.rpm !== undefined ? new TokenBucket(cfg.limits.rpm) : null,
      tpm: cfg.limits.tpm !== undefined ? new TokenBucket(cfg.limits.tpm) : null,
      pausedUntil: 0,
    };
    this.states.set(name, st);
    return st;
  }

  private api(st: ModelState): OpenAI {
    if (st.api) return st.api;
    let apiKey = "not-needed";
    if (st.cfg.apiKeyEnv !== undefined) {
      const v = this.env[st.cfg.apiKeyEnv];
      if (v === undefined || v.trim() === "")
        throw new LlmError(
          `environment variable ${st.cfg.apiKeyEnv} is not set (it holds the API key for this model)`,
          { model: st.name, configFile: this.config.file, kind: "config" },
          `export ${st.cfg.apiKeyEnv}=... or change apiKeyEnv in the models file`,
        );
      apiKey = v;
    }
    st.apiKey = apiKey;
    if (!this.opts.nativeFetch) st.fetch = createNodeFetch(st.cfg.limits.concurrency);
    st.api = new OpenAI({
      apiKey,
      baseURL: st.cfg.baseUrl,
      maxRetries: 0,
      timeout: 24 * 3600 * 1000,
      ...(st.fetch ? { fetch: st.fetch } : {}),
    });
    return st.api;
  }

  chat(req: ChatRequest, opts: CallOptions = {}): Promise<ChatResult> {
    if (this.closed) return Promise.reject(new LlmError("the client is closed", { model: req.model }));
    let st: ModelState;
    let key: string;
    try {
      st = this.model(req.model);
      key = this.keyOf(req);
    } catch (e) {
      return Promise.reject(e);
    }
    const started = performance.now();
    this.spend.call(st.name);
    const hit = this.cache?.get(key);
    if (hit) {
      this.spend.cacheHit(st.name);
      return Promise.resolve({
        model: st.name,
        text: hit.text,
        finishReason: hit.finishReason,
        usage: hit.usage,
        costUsd: 0,
        originalCostUsd: hit.costUsd,
        cached: true,
        latencyMs: performance.now() - started,
        attempts: 0,
      });
    }
    // The same request already on its way (e.g. two routers asking one question): share its answer, pay once.
    const same = this.inflight.get(key);
    if (same) {
      this.spend.cacheHit(st.name);
      return same.then((r) => ({ ...r, costUsd: 0, cached: true, latencyMs: performance.now() - started }));
    }
    const p = this.call(st, req, key, opts, started);
    this.inflight.set(key, p);
    this.running.add(p);
    const done = (): void => {
      this.inflight.delete(key);
      this.running.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private async call(
    st: ModelState,
    req: ChatRequest,
    key: string,
    opts: CallOptions,
    started: number,
  ): Promise<ChatResult> {
    const cfg = st.cfg;
    if (opts.signal) setMaxListeners(0, opts.signal);
    const signals = [this.root.signal, opts.signal];
    const cancelled = (): boolean => signals.some((s) => s?.aborted === true);
    const fail = (
      message: string,
      details: { status?: number; attempts?: number; kind?: string },
    ): LlmError => {
      this.spend.failure(st.name);
      return new LlmError(redactString(message, st.apiKey ? [st.apiKey] : []), {
        model: st.name,
        ...details,
      });
    };
    let api: OpenAI;
    try {
      api = this.api(st);
    } catch (e) {
      this.spend.failure(st.name);
      throw e;
    }
    const promptEstimate = estimatePromptTokens(req);
    const tokenEstimate = promptEstimate + (req.maxTokens ?? this.opts.defaultCompletionReserve ?? 256);
    const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs;
    const maxAttempts = cfg.maxRetries + 1;
    // Only a call that has to wait (queue, rate limit, backoff) builds the combined signal.
    const combined: { s: { signal: AbortSignal; dispose(): void } | null } = { s: null };
    const waitSignal = (): AbortSignal => (combined.s ??= anySignal(signals)).signal;
    let last: Extract<Outcome, { ok: false }> | undefined;
    try {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        if (attempt > 1) {
          this.spend.retry(st.name);
          const wait = last?.waitMs ?? backoffMs(attempt - 1, this.backoff, this.rng);
          this.opts.onRetry?.(
            `${st.name}: attempt ${attempt - 1}/${maxAttempts} failed (${last?.message ?? "?"}); retrying in ${Math.round(wait)} ms`,
          );
          await sleep(wait, waitSignal());
        }
        const pause = st.pausedUntil - performance.now();
        if (pause > 0) await sleep(pause, waitSignal());
        if (!st.slots.tryAcquire()) await st.slots.acquire(waitSignal());
        let outcome: Outcome;
        try {
          if (st.rpm && !st.rpm.tryTake(1)) await st.rpm.take(1, waitSignal());
          if (st.tpm && !st.tpm.tryTake(tokenEstimate)) await st.tpm.take(tokenEstimate, waitSignal());
          outcome = await this.attempt(api, cfg, req, key, timeoutMs, signals);
        } finally {
          st.slots.release();
        }
        if (outcome.ok) {
          st.tpm?.adjust(tokenEstimate - outcome.promptTokens - outcome.completionTokens);
          this.spend.paid(st.name, outcome.promptTokens, outcome.completionTokens);
          const cost = costUsd(cfg, outcome.promptTokens, outcome.completionTokens);
          const usage = { promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens };
          this.cache?.put({
            k: key,
            model: st.name,
            modelId: cfg.modelId,
            text: outcome.text,
            finishReason: outcome.finishReason,
            usage,
            costUsd: cost,
            ts: new Date().toISOString(),
          });
          return {
            model: st.name,
            text: outcome.text,
            finishReason: outcome.finishReason,
            usage,
            costUsd: cost,
            originalCostUsd: cost,
            cached: false,
            latencyMs: performance.now() - started,
            attempts: attempt,
          };
        }
        if (outcome.kind === "cancelled")
          throw fail("call cancelled", { attempts: attempt, kind: "cancelled" });
        last = outcome;
        if (outcome.waitMs !== undefined) {
          if (outcome.waitMs > this.backoff.maxRetryAfterMs)
            throw fail(
              `server asked to retry after ${Math.round(outcome.waitMs / 1000)} s, more than the ${this.backoff.maxRetryAfterMs / 1000} s allowed`,
              { status: outcome.status, attempts: attempt, kind: outcome.kind },
            );
          st.pausedUntil = Math.max(st.pausedUntil, performance.now() + outcome.waitMs);
        }
        if (!outcome.retry)
          throw fail(outcome.message, { status: outcome.status, attempts: attempt, kind: outcome.kind });
      }
      throw fail(`gave up after ${maxAttempts} attempts; last: ${last?.message ?? "?"}`, {
        status: last?.status,
        attempts: maxAttempts,
        kind: last?.kind,
      });
    } catch (e) {
      if (e instanceof LlmError) throw e;
      if (cancelled()) throw fail("call cancelled", { kind: "cancelled" });
      throw e;
    } finally {
      combined.s?.dispose();
    }
  }

  private async attempt(
    api: OpenAI,
    cfg: ModelConfig,
    req: ChatRequest,
    key: string,
    timeoutMs: number,
    signals: (AbortSignal | undefined)[],
  ): Promise<Outcome> {
    const at = new Attempt(timeoutMs, signals);
    try {
      const raw: unknown = await api.chat.completions.create(
        {
          model: cfg.modelId,
          messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
          ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
          ...(req.seed !== undefined ? { seed: req.seed } : {}),
        },
        { signal: at.controller.signal, headers: { "Idempotency-Key": key }, maxRetries: 0 },
      );
      const parsed = responseSchema.safeParse(raw);
      if (!parsed.success) {
        const empty = Array.isArray((raw as { choices?: unknown } | null)?.choices);
        return {
          ok: false,
          retry: true,
          kind: empty ? "empty-choices" : "invalid-body",
          message: empty
            ? "reply had no choices"
            : `malformed reply: ${parsed.error.issues[0]?.message ?? "?"}`,
        };
      }
      const choice = parsed.data.choices[0]!;
      const text = choice.message.content ?? "";
      const usage = parsed.data.usage ?? {
        // Some compatible servers omit usage; fall back to the estimate so spend is never silently zero.
        prompt_tokens: estimatePromptTokens(req),
        completion_tokens: Math.ceil(text.length / 4),
      };
      return {
        ok: true,
        text,
        finishReason: choice.finish_reason ?? null,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      };
    } catch (e) {
      return classify(e, at, signals, timeoutMs);
    } finally {
      at.dispose();
    }
  }
}

function classify(
  e: unknown,
  at: Attempt,
  signals: (AbortSignal | undefined)[],
  timeoutMs: number,
): Extract<Outcome, { ok: false }> {
  if (signals.some((s) => s?.aborted === true))
    return { ok: false, retry: false, kind: "cancelled", message: "cancelled" };
  if (at.timedOut)
    return { ok: false, retry: true, kind: "timeout", message: `no reply within ${timeoutMs} ms` };
  if (e instanceof APIUserAbortError)
    return { ok: false, retry: false, kind: "cancelled", message: "cancelled" };
  if (e instanceof APIConnectionError)
    return { ok: false, retry: true, kind: "connection", message: `connection error: ${causeMessage(e)}` };
  if (e instanceof APIError && typeof e.status === "number") {
    const status = e.status;
    const waitMs = status === 429 || status === 503 ? retryAfterMs(e.headers) : undefined;
    return {
      ok: false,
      retry: isRetryableStatus(status),
      kind: String(status),
      status,
      message: `HTTP ${status}: ${e.message}`,
      ...(waitMs !== undefined ? { waitMs } : {}),
    };
  }
  // A body cut short or not JSON: the request may or may not have completed; the Idempotency-Key makes a retry safe.
  return { ok: false, retry: true, kind: "invalid-body", message: `unreadable reply: ${causeMessage(e)}` };
}

function causeMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== e.message
    ? `${e.message} (${cause.message})`
    : e.message;
}

/** One signal that aborts when any of the given ones does; dispose() unhooks it from long-lived parents. */
function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose(): void } {
  const c = new AbortController();
  const unlinks: (() => void)[] = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    const on = (): void => c.abort(s.reason);
    s.addEventListener("abort", on, { once: true });
    unlinks.push(() => s.removeEventListener("abort", on));
  }
  return { signal: c.signal, dispose: () => unlinks.forEach((u) => u()) };
}
