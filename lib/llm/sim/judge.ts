/**
 * The simulated LLM judge. Recognised prompt formats (the oracle builds its prompts to match):
 *
 * Pairwise: two anonymised answers in blocks, in any of these conventions
 *   - `[The Start of Assistant 1's Answer]` ... `[The End of Assistant 1's Answer]`, same for Assistant 2 (MT-Bench);
 *   - `[Answer 1]` ... `[Answer 2]` ... (optionally closed by `[End of Answer 1]` / `[End of Answer 2]`);
 *   - `[Response A]` / `Response A:` ... `[Response B]` / `Response B:` ... (optionally `[End of Response A]` ...).
 *   An unclosed last block ends at the next line starting with `[`, else at the end of the prompt. The question is
 *   the text after `[User Question]` / `[Question]` / `Question:` before the first block (or, failing that, any
 *   known question contained in the prompt before the first block).
 *   The reply vocabulary follows the prompt: `first` / `second` / `tie` when the prompt quotes "first" and
 *   "second"; `A` / `B` / `tie` for the Response A/B convention or when it quotes "A" and "B"; else `1` / `2` / `tie`.
 *   Verdict: the answer containing the gold answer wins over an "I don't know", which wins over a wrong answer
 *   (for an unknown question: an attempted answer wins over "I don't know"); equal -> tie. With `positionBias` a
 *   seeded share of prompts gets "first" whatever the content.
 *
 * Single-answer quality: `[The Start of the Assistant's Answer]` ... `[The End of the Assistant's Answer]`; the
 *   reply is an integer 0-10 (correct 8-10, not attempted 2, wrong 0-1; unknown question: attempted 6, else 2).
 */
import type { FactIndex, IndexedFact } from "./facts";
import type { SimJudgeModel } from "./types";
import { containsWords, looksNotAttempted, normalize, pick, uniform } from "./text";

interface Convention {
  readonly starts: readonly [string, string];
  readonly ends: readonly [string, string];
  readonly vocab: "12" | "AB";
}

const CONVENTIONS: readonly Convention[] = [
  {
    starts: ["[The Start of Assistant 1's Answer]", "[The Start of Assistant 2's Answer]"],
    ends: ["[The End of Assistant 1's Answer]", "[The End of Assistant 2's Answer]"],
    vocab: "12",
  },
  { starts: ["[Answer 1]", "[Answer 2]"], ends: ["[End of Answer 1]", "[End of Answer 2]"], vocab: "12" },
  {
    starts: ["[Response A]", "[Response B]"],
    ends: ["[End of Response A]", "[End of Response B]"],
    vocab: "AB",
  },
  {
    starts: ["Response A:", "Response B:"],
    ends: ["[End of Response A]", "[End of Response B]"],
    vocab: "AB",
  },
];

const QUESTION_MARKERS = ["[User Question]", "[Question]", "Question:"] as const;
const QUALITY_START = "[The Start of the Assistant's Answer]";
const QUALITY_END = "[The End of the Assistant's Answer]";

export interface PairwisePrompt {
  readonly kind: "pairwise";
  readonly question: string | null;
  readonly answers: readonly [string, string];
  readonly vocab: readonly [string, string, string];
  /** Text before the first answer block (where the question is looked for). */
  readonly preamble: string;
}

export interface QualityPrompt {
  readonly kind: "quality";
  readonly question: string | null;
  readonly answer: string;
  readonly preamble: string;
}

function blockEnd(text: string, from: number, endMarker: string, stopAt?: number): number {
  const e = text.indexOf(endMarker, from);
  if (e >= 0 && (stopAt === undefined || e < stopAt)) return e;
  if (stopAt !== undefined) return stopAt;
  const nextBracket = text.indexOf("\n[", from);
  return nextBracket >= 0 ? nextBracket : text.length;
}

function questionIn(preamble: string): string | null {
  for (const m of QUESTION_MARKERS) {
    const at = preamble.lastIndexOf(m);
    if (at >= 0) {
      const q = preamble.slice(at + m.length).trim();
      if (q !== "") return q;
    }
  }
  return null;
}

function vocabulary(text: string, conv: Convention): readonly [string, string, string] {
  if (text.includes('"first"') && text.includes('"second"')) return ["first", "second", "tie"];
  if (conv.vocab === "AB" || (text.includes('"A"') && text.includes('"B"'))) return ["A", "B", "tie"];
  return ["1", "2", "tie"];
}

export function parseJudgePrompt(text: string): PairwisePrompt | QualityPrompt | null {
  for (const conv of CONVENTIONS) {
    const s1 = text.indexOf(conv.starts[0]);
    if (s1 < 0) continue;
    const s2 = text.indexOf(conv.starts[1], s1 + conv.starts[0].length);
    if (s2 < 0) continue;
    const a1From = s1 + conv.starts[0].length;
    const a2From = s2 + conv.starts[1].length;
    const answer1 = text.slice(a1From, blockEnd(text, a1From, conv.ends[0], s2)).trim();
    const answer2 = text.slice(a2From, blockEnd(text, a2From, conv.ends[1])).trim();
    const preamble = text.slice(0, s1);
    return {
      kind: "pairwise",
      question: questionIn(preamble),
      answers: [answer1, answer2],
      vocab: vocabulary(text, conv),
      preamble,
    };
  }
  const q = text.indexOf(QUALITY_START);
  if (q >= 0) {
    const from = q + QUALITY_START.length;
    const preamble = text.slice(0, q);
    return {
      kind: "quality",
      question: questionIn(preamble),
      answer: text.slice(from, blockEnd(text, from, QUALITY_END)).trim(),
      preamble,
    };
  }
  return null;
}

/** The fact a judge prompt is about: its question block, else any known question in the preamble. */
export function judgeFact(p: PairwisePrompt | QualityPrompt, index: FactIndex): IndexedFact | null {
  if (p.question !== null) {
    const f = index.exactMatch(p.question) ?? index.find(p.question);
    if (f) return f;
  }
  return index.find(p.preamble);
}

/** 2: contains the gold answer, 1: "I don't know", 0: wrong. Unknown question: 1 attempted, 0 not attempted. */
function merit(answer: string, fact: IndexedFact | null): number {
  const norm = normalize(answer);
  const na = norm === "" || looksNotAttempted(norm);
  if (fact === null) return na ? 0 : 1;
  if (containsWords(norm, fact.normAnswer)) return 2;
  return na ? 1 : 0;
}

export function judgeReply(
  model: SimJudgeModel,
  p: PairwisePrompt | QualityPrompt,
  fact: IndexedFact | null,
  promptKey: string,
  seed: number,
): { text: string; biased: boolean } {
  if (p.kind === "quality") {
    const m = merit(p.answer, fact);
    const jitter = pick(3, seed, "quality", model.id, promptKey);
    if (fact === null) return { text: m === 1 ? "6" : "2", biased: false };
    return { text: String(m === 2 ? 8 + jitter : m === 1 ? 2 : jitter % 2), biased: false };
  }
  const bias = model.positionBias ?? 0;
  if (bias > 0 && uniform(seed, "position-bias", model.id, promptKey) < bias)
    return { text: p.vocab[0], biased: true };
  const m1 = merit(p.answers[0], fact);
  const m2 = merit(p.answers[1], fact);
  return { text: m1 > m2 ? p.vocab[0] : m2 > m1 ? p.vocab[1] : p.vocab[2], biased: false };
}
