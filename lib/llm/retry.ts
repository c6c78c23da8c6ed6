/**
 * What is worth retrying, and how long to wait: jittered exponential backoff from a seeded generator, or the
 * server's own `Retry-After` / `retry-after-ms` when it sends one.
 */
import { RouterlabError } from "../util/errors";
import type { Rng } from "../util/random";

export interface LlmErrorDetails {
  /** The model as named in the models file. */
  model: string;
  status?: number;
  attempts?: number;
  /** What went wrong on the last attempt: "429", "500", "timeout", "connection", "invalid-body", "empty-choices", ... */
  kind?: string;
  /** The models file, for configuration problems. */
  configFile?: string;
}

/** A failed LLM call: names the model, the HTTP status and the number of attempts. Never contains an API key. */
export class LlmError extends RouterlabError {
  readonly model: string;
  readonly status?: number;
  readonly attempts?: number;
  readonly kind?: string;
  constructor(message: string, details: LlmErrorDetails, hint?: string) {
    const parts = [`model '${details.model}'`];
    if (details.status !== undefined) parts.push(`HTTP ${details.status}`);
    if (details.attempts !== undefined)
      parts.push(`${details.attempts} attempt${details.attempts === 1 ? "" : "s"}`);
    super(
      `${message} (${parts.join(", ")})`,
      details.configFile !== undefined ? { file: details.configFile } : undefined,
      hint,
    );
    this.name = "LlmError";
    this.model = details.model;
    this.status = details.status;
    this.attempts = details.attempts;
    this.kind = details.kind;
  }
}

export interface BackoffOptions {
  /** First retry's base delay (ms); doubles each attempt. */
  baseMs: number;
  /** Cap on any backoff delay (ms). */
  maxMs: number;
  /** Cap on a server-requested Retry-After (ms); longer requests fail the call instead of stalling the run. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, maxRetryAfterMs: 120_000 };

/** "Equal jitter": half the exponential delay fixed, half uniform, drawn from the seeded generator. */
export function backoffMs(attempt: number, opts: BackoffOptions, rng: Rng): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + (exp / 2) * rng.next();
}

interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The wait a response asks for, in ms: `retry-after-ms`, else `Retry-After` as seconds or an HTTP date.
 * Undefined when absent or unparsable.
 */
export function retryAfterMs(
  headers: HeaderSource | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "") {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = headers.get("retry-after");
  if (ra === null || ra.trim() === "") return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return secs >= 0 ? secs * 1000 : undefined;
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** HTTP statuses that are worth retrying: rate limits, timeouts, conflicts and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Sleeps `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error("aborted"));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error("aborted"));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
