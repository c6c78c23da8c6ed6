/**
 * The simulated SimpleQA grader. It recognises the official simple-evals GRADER_TEMPLATE (the text in
 * lib/oracle/grader.ts): the graded example is the `Question: ` / `Gold target: ` / `Predicted answer: ` block after
 * "Here is a new example." (the template's own few-shot examples above it are skipped). Replies one letter:
 * A when the normalised predicted answer contains the normalised gold target as whole words, C for an
 * "I don't know"-style reply, else B.
 */
import type { SimGraderModel } from "./types";
import { containsWords, looksNotAttempted, normalize, uniform } from "./text";

export interface GraderPrompt {
  readonly question: string;
  readonly target: string;
  readonly predicted: string;
}

const NEW_EXAMPLE = "Here is a new example.";
const Q = "Question: ";
const GOLD = "\nGold target: ";
const PRED = "\nPredicted answer: ";
const END = "\n```\n\nGrade the predicted answer";

/** The graded example in a grader prompt, or null when the text is not a SimpleQA grader prompt. */
export function parseGraderPrompt(text: string): GraderPrompt | null {
  const from = text.indexOf(NEW_EXAMPLE);
  const body = from >= 0 ? text.slice(from) : text;
  const p = body.lastIndexOf(PRED);
  if (p < 0) return null;
  const g = body.lastIndexOf(GOLD, p);
  if (g < 0) return null;
  const qAt = body.lastIndexOf(`\n${Q}`, g);
  const qStart = qAt >= 0 ? qAt + 1 + Q.length : body.startsWith(Q) ? Q.length : -1;
  if (qStart < 0) return null;
  const end = body.indexOf(END, p);
  return {
    question: body.slice(qStart, g),
    target: body.slice(g + GOLD.length, p),
    predicted: body.slice(p + PRED.length, end >= 0 ? end : undefined).replace(/\n```\s*$/, ""),
  };
}

export type Letter = "A" | "B" | "C";

export function gradeLetter(prompt: GraderPrompt): Letter {
  const predicted = normalize(prompt.predicted);
  if (containsWords(predicted, normalize(prompt.target))) return "A";
  if (predicted === "" || looksNotAttempted(predicted)) return "C";
  return "B";
}

const NOISY: Record<Letter, readonly string[]> = {
  A: ["CORRECT", "The answer is: A", "a", "A: CORRECT", "Grade: A"],
  B: ["INCORRECT", "The answer is: B", "b", "B: INCORRECT", "Grade: B"],
  C: ["NOT_ATTEMPTED", "The answer is: C", "c", "C: NOT_ATTEMPTED", "Grade: C"],
};

/**
 * The reply text. With `noisyRate`, a seeded share of prompts is first answered in a noisy form that routerlab's
 * strict parser rejects; `retry` (the server saw this prompt answered noisily before and this request is at
 * temperature 0) gets the clean letter, so a client's retry-at-temperature-0 path is exercised and succeeds.
 */
export function graderReply(
  model: SimGraderModel,
  letter: Letter,
  promptKey: string,
  seed: number,
  retry: boolean,
): { text: string; noisy: boolean } {
  const rate = model.noisyRate ?? 0;
  if (retry || rate <= 0 || uniform(seed, "noisy", model.id, promptKey) >= rate)
    return { text: letter, noisy: false };
  const forms = NOISY[letter];
  const k = Math.floor(uniform(seed, "noisy-form", model.id, promptKey) * forms.length);
  return { text: forms[Math.min(k, forms.length - 1)]!, noisy: true };
}
