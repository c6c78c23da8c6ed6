/**
 * LLM-as-judge for rows without gold answers: a blind pairwise comparison judged in both orders (position bias is
 * measured and cancelled: a verdict counts only when both orders agree) and a per-answer quality score in [0, 1].
 */
import type { CallOptions, LlmClient, TokenUsage } from "../llm/types";
import { createRng } from "../util/random";
import { sha256Hex } from "../util/hash";

/** The pairwise prompt. Model names never appear: the answers are "Assistant 1" and "Assistant 2". */
export const PAIRWISE_TEMPLATE = `Please act as an impartial judge and evaluate the two AI assistants' answers to the user question below. Prefer the answer that is factually correct and answers the question; ignore length and style. Do not let the order of the answers or the assistants' names influence you.

[User Question]
{question}

[The Start of Assistant 1's Answer]
{answer_1}
[The End of Assistant 1's Answer]

[The Start of Assistant 2's Answer]
{answer_2}
[The End of Assistant 2's Answer]

Which answer is better? Reply with exactly one word: "first" (Assistant 1), "second" (Assistant 2) or "tie".`;

/** The single-answer quality prompt; the reply is an integer 0-10, scored as reply/10. */
export const QUALITY_TEMPLATE = `Please act as an impartial judge and rate the quality of the AI assistant's answer to the user question below: is it correct, complete and helpful? An answer that declines to answer scores low.

[User Question]
{question}

[The Start of the Assistant's Answer]
{answer}
[The End of the Assistant's Answer]

Reply with a single integer from 0 (useless or wrong) to 10 (fully correct and helpful), and nothing else.`;

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => values[k] ?? m);
}

export function renderPairwisePrompt(question: string, answer1: string, answer2: string): string {
  return fill(PAIRWISE_TEMPLATE, { question, answer_1: answer1, answer_2: answer2 });
}

export function renderQualityPrompt(question: string, answer: string): string {
  return fill(QUALITY_TEMPLATE, { question, answer });
}

export type PositionVerdict = "first" | "second" | "tie";

/** Trim, lowercase, strip quotes and a trailing period; accept only first / second / tie. */
export function parsePairwiseVerdict(reply: string): PositionVerdict | null {
  let s = reply.trim().toLowerCase();
  s = s.replace(/^["'`]+|["'`.]+$/g, "").trim();
  return s === "first" || s === "second" || s === "tie" ? s : null;
}

/** Trim and strip a trailing period; accept an integer 0-10 (optionally written `n/10`) and return n/10. */
export function parseQualityScore(reply: string): number | null {
  const m = /^\s*(\d{1,2})(?:\s*\/\s*10)?\s*\.?\s*$/.exec(reply);
  if (!m) return null;
  const n = Number(m[1]);
  return n >= 0 && n <= 10 ? n / 10 : null;
}

export type Side = "weak" | "strong";
export type PairWinner = Side | "tie";

export interface PairJudgement {
  /** Which side was shown first in the first judgement (the second judgement swaps them). */
  readonly firstShown: Side;
  /** Raw verdicts in the two orders (null: unparsed reply, counted as a tie). */
  readonly verdicts: readonly [PositionVerdict | null, PositionVerdict | null];
  /** The verdicts translated back to sides. */
  readonly winners: readonly [PairWinner, PairWinner];
  /** The counted verdict: the winner if both orders agree, else a tie. */
  readonly winner: PairWinner;
  readonly consistent: boolean;
  readonly replies: readonly [string, string];
  readonly usage: TokenUsage;
  readonly costUsd: number;
}

export interface JudgeOptions {
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly call?: CallOptions;
}

/**
 * The presentation order for a row, from (seed, row id) alone, so it does not depend on which rows are judged or in
 * what order they finish.
 */
export function firstShownFor(seed: number, rowId: string): Side {
  const h = parseInt(sha256Hex(`${seed}\u0000${rowId}`).slice(0, 8), 16);
  return createRng(h).next() < 0.5 ? "weak" : "strong";
}

function toWinner(v: PositionVerdict | null, first: Side): PairWinner {
  if (v === null || v === "tie") return "tie";
  const second: Side = first === "weak" ? "strong" : "weak";
  return v === "first" ? first : second;
}

/** Judges the pair in both orders; the order of the first judgement comes from `firstShownFor(seed, rowId)`. */
export async function judgePair(
  client: LlmClient,
  judgeModel: string,
  input: { rowId: string; question: string; weak: string; strong: string },
  seed: number,
  opts: JudgeOptions = {},
): Promise<PairJudgement> {
  const firstShown = firstShownFor(seed, input.rowId);
  const orders: [Side, Side][] =
    firstShown === "weak"
      ? [
          ["weak", "strong"],
          ["strong", "weak"],
        ]
      : [
          ["strong", "weak"],
          ["weak", "strong"],
        ];
  const results = await Promise.all(
    orders.map(([a, b]) =>
      client.chat(
        {
          model: judgeModel,
          messages: [{ role: "user", content: renderPairwisePrompt(input.question, input[a], input[b]) }],
          temperature: opts.temperature ?? 0,
          ...(opts.maxTokens !== undefined ? { maxTokens: opts.maxTokens } : {}),
        },
        opts.call,
      ),
    ),
  );
  const verdicts = [parsePairwiseVerdict(results[0]!.text), parsePairwiseVerdict(results[1]!.text)] as const;
  const winners = [toWinner(verdicts[0], orders[0]![0]), toWinner(verdicts[1], orders[1]![0])] as const;
  const consistent = winners[0] === winners[1];
  return {
    firstShown,
    verdicts,
    winners,
    winner: consistent ? winners[0] : "tie",
    consistent,
    replies: [results[0]!.text, results[1]!.text],
    usage: {
      promptTokens: results[0]!.usage.promptTokens + results[1]!.usage.promptTokens,
      completionTokens: results[0]!.usage.completionTokens + results[1]!.usage.completionTokens,
    },
    costUsd: results[0]!.originalCostUsd + results[1]!.originalCostUsd,
  };
}

export interface PositionBiasReport {
  /** Judgements (two per pair). */
  readonly judgements: number;
  readonly first: number;
  readonly second: number;
  readonly tie: number;
  readonly unparsed: number;
  /**
   * (first - second) / (first + second) over decisive raw verdicts: 0 = no preference for a position, +1 = always the
   * first shown. Because every pair is shown in both orders, content cancels out of this difference.
   */
  readonly bias: number;
  /** Share of pairs whose two orders disagreed (counted as ties). */
  readonly inconsistentRate: number;
  readonly pairs: number;
}

export function positionBias(
  judgements: readonly Pick<PairJudgement, "verdicts" | "consistent">[],
): PositionBiasReport {
  let first = 0;
  let second = 0;
  let tie = 0;
  let unparsed = 0;
  let inconsistent = 0;
  for (const j of judgements) {
    for (const v of j.verdicts) {
      if (v === "first") first++;
      else if (v === "second") second++;
      else if (v === "tie") tie++;
      else unparsed++;
    }
    if (!j.consistent) inconsistent++;
  }
  return {
    judgements: judgements.length * 2,
    first,
    second,
    tie,
    unparsed,
    bias: first + second > 0 ? (first - second) / (first + second) : 0,
    inconsistentRate: judgements.length > 0 ? inconsistent / judgements.length : 0,
    pairs: judgements.length,
  };
}

export interface QualityJudgement {
  /** In [0, 1]; null when the reply did not parse after one retry at temperature 0. */
  readonly score: number | null;
  readonly replies: readonly string[];
  readonly usage: TokenUsage;
  readonly costUsd: number;
}

/** LLM-as-judge quality of one answer in [0, 1], with one retry at temperature 0 on an unparsable reply. */
export async function judgeQuality(
  client: LlmClient,
  judgeModel: string,
  question: string,
  answer: string,
  opts: JudgeOptions = {},
): Promise<QualityJudgement> {
  const content = renderQualityPrompt(question, answer);
  const ask = (temperature: number, attempt: number) =>
    client.chat(
      {
        model: judgeModel,
        messages: [{ role: "user", content }],
        temperature,
        ...(opts.maxTokens !== undefined ? { maxTokens: opts.maxTokens } : {}),
        ...(attempt > 0 ? { seed: attempt } : {}),
      },
      opts.call,
    );
  const first = await ask(opts.temperature ?? 0, 0);
  const replies = [first.text];
  let score = parseQualityScore(first.text);
  let usage = first.usage;
  let cost = first.originalCostUsd;
  if (score === null) {
    const again = await ask(0, 1);
    replies.push(again.text);
    score = parseQualityScore(again.text);
    usage = {
      promptTokens: usage.promptTokens + again.usage.promptTokens,
      completionTokens: usage.completionTokens + again.usage.completionTokens,
    };
    cost += again.originalCostUsd;
  }
  return { score, replies, usage, costUsd: cost };
}
