/**
 * The local OpenAI-compatible simulator's contract (lib/llm/sim/server.ts). Everything it serves is simulated and
 * labelled so (`x-routerlab-simulated: 1` header, `system_fingerprint: "routerlab-sim"`).
 */
import type { TokenUsage } from "../types";

/** A question the simulated models "know": they answer it correctly, wrongly or not at all, deterministically. */
export interface SimFact {
  readonly question: string;
  readonly answer: string;
  /** Optional answer type (SimpleQA's answer_type: Person, Number, Date, Place, Other) used to draw plausible wrong answers. */
  readonly kind?: string;
}

export interface SimAnswerModel {
  readonly id: string;
  readonly kind: "answer";
  /** P(correct answer) per question, drawn deterministically from (model id, question, seed). */
  readonly accuracy: number;
  /** P("I don't know") among the non-correct answers' share; the rest are confidently wrong. */
  readonly notAttemptedRate: number;
  readonly latencyMs?: number;
  /**
   * P(a question's outcome comes from its shared per-question draw rather than a per-model one), default 0.7: models
   * keep their own accuracy but tend to fail on the same questions (weak-correct/strong-wrong stays possible).
   */
  readonly difficultyCorrelation?: number;
}

/** Replies with one letter for the SimpleQA grader template: A (match), B (contradiction), C (not attempted). */
export interface SimGraderModel {
  readonly id: string;
  readonly kind: "grader";
  /** Share of replies given in a noisy form (e.g. "CORRECT", "The answer is A.") to exercise the strict parser. */
  readonly noisyRate?: number;
  readonly latencyMs?: number;
}

/** A pairwise judge: prefers the answer that matches a known fact, with a configurable position bias. */
export interface SimJudgeModel {
  readonly id: string;
  readonly kind: "judge";
  /** P(answering "first" regardless of content). */
  readonly positionBias?: number;
  readonly latencyMs?: number;
}

export type SimModel = SimAnswerModel | SimGraderModel | SimJudgeModel;

export interface SimFaults {
  /** Total probability that a (non-replay) request gets a fault, split evenly over `kinds`. */
  readonly rate: number;
  readonly kinds?: readonly ("429" | "500" | "timeout" | "truncated" | "empty")[];
  readonly retryAfterSeconds?: number;
  /** How long a "timeout" fault hangs before the socket is destroyed. */
  readonly timeoutHangMs?: number;
}

export interface SimServerOptions {
  readonly host?: string;
  /** 0 or absent: a free port. */
  readonly port?: number;
  readonly models: readonly SimModel[];
  readonly facts: readonly SimFact[];
  readonly seed: number;
  readonly faults?: SimFaults;
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
  readonly apiKey?: string;
  /** Append-only JSONL request log (one line per request), for runs in another process. */
  readonly logFile?: string;
}

export interface SimRequestRecord {
  readonly seq: number;
  readonly time: string;
  readonly model: string;
  /** The known question (SimFact.question) the request is about, or null when none was recognised. */
  readonly question: string | null;
  /** sha256 of the canonical request body. */
  readonly requestHash: string;
  /** The client's `Idempotency-Key` header, if any. */
  readonly idempotencyKey: string | null;
  readonly status: number;
  readonly fault: string | null;
  /** True when an already-completed idempotency key was replayed (served from the server's memory, not billed). */
  readonly replay: boolean;
  readonly usage: TokenUsage | null;
}

export interface SimServer {
  /** Base URL for OpenAI clients, ending in `/v1`. */
  readonly url: string;
  requests(): readonly SimRequestRecord[];
  /** Billed usage per model id (faults and replays excluded). */
  usage(): Readonly<Record<string, TokenUsage>>;
  close(): Promise<void>;
}
