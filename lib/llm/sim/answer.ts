/**
 * Answer models: for a known question the reply is correct, "I don't know" or confidently wrong, drawn from
 * (model id, question, seed) only. Temperature, the request's own `seed` and the wording around the question do not
 * change it, so every re-run (and every retry) of a question gets the same answer from the same model.
 */
import type { FactIndex, IndexedFact } from "./facts";
import type { SimAnswerModel } from "./types";
import { containsWords, normalize, pick, uniform } from "./text";

export type AnswerOutcome = "correct" | "not_attempted" | "incorrect" | "unknown";

export interface SimAnswer {
  readonly text: string;
  readonly outcome: AnswerOutcome;
}

/** Default share of the draw that is per question (shared by all models) rather than per model; see `drawFor`. */
export const DEFAULT_DIFFICULTY_CORRELATION = 0.7;

const CORRECT_FORMS = [
  (a: string) => a,
  (a: string) => `${a}.`,
  (a: string) => `The answer is ${a}.`,
  (a: string) => `It is ${a}.`,
  (a: string) => `I believe the answer is ${a}.`,
] as const;

const NOT_ATTEMPTED_FORMS = [
  "I don't know.",
  "I'm not sure; I don't have reliable information about that.",
  "I don't know the answer to that question.",
  "I cannot answer that without more information.",
] as const;

const WRONG_FORMS = [(a: string) => a, (a: string) => `${a}.`, (a: string) => `The answer is ${a}.`] as const;

/**
 * The model's uniform for a question. With probability `correlation` (itself a seeded coin per model and question)
 * it is the question's shared "difficulty" draw, otherwise a private one: each model keeps its configured accuracy
 * exactly in expectation, while strong and weak models tend to fail on the same questions as real models do.
 */
function drawFor(model: SimAnswerModel, q: string, seed: number): number {
  const correlation = model.difficultyCorrelation ?? DEFAULT_DIFFICULTY_CORRELATION;
  if (uniform(seed, "shared?", model.id, q) < correlation) return uniform(seed, "difficulty", q);
  return uniform(seed, "answer", model.id, q);
}

export function outcomeFor(
  model: SimAnswerModel,
  fact: IndexedFact,
  seed: number,
): Exclude<AnswerOutcome, "unknown"> {
  const u = drawFor(model, fact.normQuestion, seed);
  if (u < model.accuracy) return "correct";
  const v = model.accuracy >= 1 ? 0 : (u - model.accuracy) / (1 - model.accuracy);
  return v < model.notAttemptedRate ? "not_attempted" : "incorrect";
}

export function answerFor(
  model: SimAnswerModel,
  fact: IndexedFact | null,
  index: FactIndex,
  seed: number,
): SimAnswer {
  if (fact === null) return { text: "", outcome: "unknown" };
  const outcome = outcomeFor(model, fact, seed);
  const gold = bare(fact.fact.answer);
  const form = (n: number) => pick(n, seed, "form", model.id, fact.normQuestion);
  switch (outcome) {
    case "correct":
      return { outcome, text: CORRECT_FORMS[form(CORRECT_FORMS.length)]!(gold) };
    case "not_attempted":
      return { outcome, text: NOT_ATTEMPTED_FORMS[form(NOT_ATTEMPTED_FORMS.length)]! };
    case "incorrect":
      return {
        outcome,
        text: WRONG_FORMS[form(WRONG_FORMS.length)]!(bare(wrongAnswer(model.id, fact, index, seed))),
      };
  }
}

/** The answer without surrounding spaces and a trailing period (the reply forms add their own). */
function bare(answer: string): string {
  return answer.trim().replace(/\.+$/, "");
}

/** A deterministic reply to a question the server does not know: generic, attempted, never a known fact. */
export function genericAnswer(modelId: string, lastUser: string, seed: number): string {
  const words = lastUser.trim().split(/\s+/).slice(0, 8).join(" ");
  const openers = ["Here is my answer", "In short", "Briefly", "My answer"];
  const opener = openers[pick(openers.length, seed, "generic", modelId, lastUser)]!;
  return `${opener}: this is a simulated reply from ${modelId} to "${words}${words.length < lastUser.trim().length ? " ..." : ""}".`;
}

/** True when a wrong candidate would be graded correct (it contains the gold answer or the reverse). */
function overlaps(candidate: string, fact: IndexedFact): boolean {
  const c = normalize(candidate);
  return c === "" || containsWords(c, fact.normAnswer) || containsWords(fact.normAnswer, c);
}

/**
 * A plausible wrong answer: for numbers and dates the gold answer with one number perturbed, otherwise another
 * fact's answer of the same kind (person for a person, place for a place ...).
 */
export function wrongAnswer(modelId: string, fact: IndexedFact, index: FactIndex, seed: number): string {
  const answer = fact.fact.answer;
  if ((fact.kind === "number" || fact.kind === "date") && /\d/.test(answer)) {
    const perturbed = perturbNumber(answer, uniform(seed, "perturb", modelId, fact.normQuestion));
    if (!overlaps(perturbed, fact)) return perturbed;
  }
  const bucket = index.byKind.get(fact.kind) ?? [];
  const pool = bucket.length > 1 ? bucket : index.facts;
  const start = pick(pool.length, seed, "wrong", modelId, fact.normQuestion);
  for (let k = 0; k < Math.min(pool.length, 16); k++) {
    const other = pool[(start + k * 7919) % pool.length]!;
    if (other !== fact && !overlaps(other.fact.answer, fact)) return other.fact.answer;
  }
  return `not ${answer}`;
}

/** Changes the last number in the text by a seeded, non-zero amount (about 1-20% for big numbers, 1-5 for small). */
export function perturbNumber(text: string, u: number): string {
  const re = /\d[\d,]*(\.\d+)?/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === null) return text;
  const raw = last[0];
  const decimals = last[1] ? last[1].length - 1 : 0;
  const value = Number(raw.replace(/,/g, ""));
  const sign = u < 0.5 ? -1 : 1;
  const mag = (u < 0.5 ? u * 2 : (u - 0.5) * 2) * 0.999;
  let delta: number;
  if (decimals > 0) delta = Math.max(10 ** -decimals, Math.abs(value) * (0.05 + 0.15 * mag));
  else if (Math.abs(value) < 100 || /^\d{4}$/.test(raw)) delta = 1 + Math.floor(mag * 5);
  else delta = Math.max(1, Math.round(Math.abs(value) * (0.05 + 0.15 * mag)));
  let next = value + sign * delta;
  if (next < 0 || (next === 0 && value !== 0)) next = value + delta;
  let formatted = decimals > 0 ? next.toFixed(decimals) : String(Math.round(next));
  if (raw.includes(",") && decimals === 0) formatted = formatted.replace(/\B(?=(\d{3})+$)/g, ",");
  return text.slice(0, last.index) + formatted + text.slice(last.index + raw.length);
}
