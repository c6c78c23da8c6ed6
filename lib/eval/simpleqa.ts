/** SimpleQA grading letters and metrics (§2-§3 of the metrics spec). Rates are fractions in [0, 1]. */

export type Grade = "A" | "B" | "C";

export interface SimpleqaMetrics {
  readonly n: number;
  readonly correct: number;
  readonly incorrect: number;
  readonly notAttempted: number;
  readonly attempted: number;
  /** Correct given attempted; 0 when nothing was attempted. */
  readonly cga: number;
  /** Harmonic mean of correct and CGA; 0 when both are 0. */
  readonly f: number;
}

export function simpleqaFromCounts(nA: number, nB: number, nC: number): SimpleqaMetrics {
  const n = nA + nB + nC;
  if (n === 0) throw new Error("simpleqa metrics: no graded items");
  const correct = nA / n;
  const incorrect = nB / n;
  const notAttempted = nC / n;
  const attempted = correct + incorrect;
  const cga = attempted > 0 ? correct / attempted : 0;
  const f = cga + correct > 0 ? (2 * cga * correct) / (cga + correct) : 0;
  return { n, correct, incorrect, notAttempted, attempted, cga, f };
}

export function simpleqaMetrics(grades: readonly Grade[]): SimpleqaMetrics {
  let a = 0;
  let b = 0;
  let c = 0;
  for (const g of grades) {
    if (g === "A") a++;
    else if (g === "B") b++;
    else c++;
  }
  return simpleqaFromCounts(a, b, c);
}

/**
 * routerlab's strict parser: trim, strip surrounding quotes and a trailing period, then accept only an
 * exact `A`, `B` or `C`. Returns null when the reply does not parse (retry, then count as unparsed).
 */
export function parseGraderLetter(reply: string | null | undefined): Grade | null {
  if (reply === null || reply === undefined) return null;
  let s = reply.trim();
  for (;;) {
    const before = s;
    if (s.endsWith(".")) s = s.slice(0, -1).trim();
    const m = /^(["'`“‘])(.*)(["'`”’])$/s.exec(s);
    if (m) s = m[2]!.trim();
    if (s === before) break;
  }
  return s === "A" || s === "B" || s === "C" ? s : null;
}

/** simple-evals' parser: the first uppercase A, B or C anywhere in the reply, else C. */
export function referenceParse(reply: string | null | undefined): Grade {
  const m = /[ABC]/.exec(reply ?? "");
  return m ? (m[0] as Grade) : "C";
}

export interface ParsedGrades {
  readonly grades: Grade[];
  readonly referenceGrades: Grade[];
  /** Replies the strict parser rejected (counted as C). Always shown. */
  readonly unparsed: number;
  /** Items where the strict and the reference parse differ. */
  readonly disagreements: number;
}

/** Parse final grader replies (after any retry) both ways. */
export function parseGrades(replies: readonly (string | null)[]): ParsedGrades {
  const grades: Grade[] = [];
  const referenceGrades: Grade[] = [];
  let unparsed = 0;
  let disagreements = 0;
  for (const r of replies) {
    const strict = parseGraderLetter(r);
    if (strict === null) unparsed++;
    const g = strict ?? "C";
    const ref = referenceParse(r);
    if (g !== ref) disagreements++;
    grades.push(g);
    referenceGrades.push(ref);
  }
  return { grades, referenceGrades, unparsed, disagreements };
}
