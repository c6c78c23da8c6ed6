/**
 * The questions the simulated models "know", indexed once at start-up so that recognising the question in a
 * request costs O(words in the message), independent of the number of facts.
 */
import type { SimFact } from "./types";
import { containsWords, normalize } from "./text";

/** Bucket used to draw plausible wrong answers: a different fact's answer of the same kind. */
export type FactKind = "number" | "date" | "person" | "place" | "other";

export interface IndexedFact {
  readonly index: number;
  readonly fact: SimFact;
  readonly normQuestion: string;
  readonly normAnswer: string;
  readonly kind: FactKind;
}

/** Words in the n-gram that keys the containment index. */
const KEY_WORDS = 3;

const MONTH = /\b(january|february|march|april|may|june|july|august|september|october|november|december)\b/i;

export function factKind(fact: SimFact): FactKind {
  const declared = fact.kind?.toLowerCase();
  if (declared === "number" || declared === "date" || declared === "person" || declared === "place")
    return declared;
  if (MONTH.test(fact.answer) || /^\s*\d{3,4}\s*$/.test(fact.answer)) return "date";
  if (/^[\s\d.,%$€£+-]+[a-z%]*\s*$/i.test(fact.answer) && /\d/.test(fact.answer)) return "number";
  return declared === undefined && /^(\p{Lu}[\p{L}.'-]*\s?){2,4}$/u.test(fact.answer.trim())
    ? "person"
    : "other";
}

export class FactIndex {
  readonly facts: readonly IndexedFact[];
  readonly byKind: ReadonlyMap<FactKind, readonly IndexedFact[]>;
  private readonly exact = new Map<string, IndexedFact>();
  /** First KEY_WORDS words of a question -> the facts whose question starts with them. */
  private readonly prefix = new Map<string, IndexedFact[]>();
  /** Questions shorter than KEY_WORDS words, by their whole normalised text. */
  private readonly short = new Map<string, IndexedFact>();

  constructor(facts: readonly SimFact[]) {
    const all: IndexedFact[] = [];
    const byKind = new Map<FactKind, IndexedFact[]>();
    facts.forEach((fact, index) => {
      const normQuestion = normalize(fact.question);
      if (normQuestion === "" || this.exact.has(normQuestion)) return; // first of duplicate questions wins
      const f: IndexedFact = {
        index,
        fact,
        normQuestion,
        normAnswer: normalize(fact.answer),
        kind: factKind(fact),
      };
      all.push(f);
      this.exact.set(normQuestion, f);
      const words = normQuestion.split(" ");
      if (words.length < KEY_WORDS) this.short.set(normQuestion, f);
      else {
        const key = words.slice(0, KEY_WORDS).join(" ");
        const list = this.prefix.get(key);
        if (list) list.push(f);
        else this.prefix.set(key, [f]);
      }
      const bucket = byKind.get(f.kind);
      if (bucket) bucket.push(f);
      else byKind.set(f.kind, [f]);
    });
    this.facts = all;
    this.byKind = byKind;
  }

  get size(): number {
    return this.facts.length;
  }

  /** The fact whose question is exactly the text (after normalisation). */
  exactMatch(text: string): IndexedFact | null {
    return this.exact.get(normalize(text)) ?? null;
  }

  /**
   * The fact whose question is the text or is contained in it as whole words (the longest such question when
   * several are), or null.
   */
  find(text: string): IndexedFact | null {
    const norm = normalize(text);
    const hit = this.exact.get(norm);
    if (hit) return hit;
    const words = norm.split(" ");
    let best: IndexedFact | null = null;
    for (let i = 0; i + KEY_WORDS <= words.length; i++) {
      const list = this.prefix.get(`${words[i]} ${words[i + 1]} ${words[i + 2]}`);
      if (!list) continue;
      for (const f of list) {
        if (
          (best === null || f.normQuestion.length > best.normQuestion.length) &&
          containsWords(norm, f.normQuestion)
        )
          best = f;
      }
    }
    if (best === null && this.short.size > 0) {
      for (let i = 0; i < words.length; i++) {
        for (let k = 1; k < KEY_WORDS && i + k <= words.length; k++) {
          const f = this.short.get(words.slice(i, i + k).join(" "));
          if (f && (best === null || f.normQuestion.length > best.normQuestion.length)) best = f;
        }
      }
    }
    return best;
  }
}
