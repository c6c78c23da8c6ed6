/**
 * The 9-cell oracle matrix: the weak model's grade x the strong model's grade (each A = correct, B = incorrect,
 * C = not attempted) mapped to a routing label by a configurable table.
 */
import { z } from "zod";
import type { Grade } from "../eval/simpleqa";

export const GRADES: readonly Grade[] = ["A", "B", "C"];
export const GRADE_NAMES: Readonly<Record<Grade, string>> = {
  A: "correct",
  B: "incorrect",
  C: "not_attempted",
};

/** A cell key such as `A/B`: weak graded A, strong graded B. */
export type CellKey = `${Grade}/${Grade}`;
export const CELL_KEYS: readonly CellKey[] = GRADES.flatMap((w) => GRADES.map((s) => `${w}/${s}` as CellKey));

const LabelName = z.string().regex(/^[A-Za-z][\w.-]*$/, "a label is a name: letters, digits, '_', '.', '-'");

/** `weak grade -> strong grade -> label`; every one of the 9 cells must be present. */
export const LabelTableSchema = z.strictObject({
  A: z.strictObject({ A: LabelName, B: LabelName, C: LabelName }),
  B: z.strictObject({ A: LabelName, B: LabelName, C: LabelName }),
  C: z.strictObject({ A: LabelName, B: LabelName, C: LabelName }),
});
export type LabelTable = z.infer<typeof LabelTableSchema>;

export const STANDARD = "Standard_Query";
export const COMPLEX = "Complex_Query";
export const AMBIGUOUS = "Ambiguous_Query";

/**
 * Default policy: the weak model suffices when it is correct (Standard_Query); the strong model is needed when only
 * it is correct (Complex_Query); when neither is correct the query is Ambiguous_Query.
 */
export const DEFAULT_LABEL_TABLE: LabelTable = {
  A: { A: STANDARD, B: STANDARD, C: STANDARD },
  B: { A: COMPLEX, B: AMBIGUOUS, C: AMBIGUOUS },
  C: { A: COMPLEX, B: AMBIGUOUS, C: AMBIGUOUS },
};

export function cellKey(weak: Grade, strong: Grade): CellKey {
  return `${weak}/${strong}`;
}

export function labelFor(table: LabelTable, weak: Grade, strong: Grade): string {
  return table[weak][strong];
}

/** Every label the table can produce, in first-appearance order over the cells (row-major). */
export function tableLabels(table: LabelTable): string[] {
  const out: string[] = [];
  for (const w of GRADES) for (const s of GRADES) if (!out.includes(table[w][s])) out.push(table[w][s]);
  return out;
}

export type OracleMatrix = Record<CellKey, number>;

export function emptyMatrix(): OracleMatrix {
  return Object.fromEntries(CELL_KEYS.map((k) => [k, 0])) as OracleMatrix;
}

export function countMatrix(pairs: readonly { weak: Grade; strong: Grade }[]): OracleMatrix {
  const m = emptyMatrix();
  for (const p of pairs) m[cellKey(p.weak, p.strong)] += 1;
  return m;
}

/** The matrix as a text table: rows = weak grade, columns = strong grade, each cell `count label`. */
export function formatMatrix(
  matrix: OracleMatrix,
  table: LabelTable,
  names = { weak: "weak", strong: "strong" },
): string {
  const head = [`${names.weak} \\ ${names.strong}`, ...GRADES.map((g) => `${g} ${GRADE_NAMES[g]}`)];
  const rows = GRADES.map((w) => [
    `${w} ${GRADE_NAMES[w]}`,
    ...GRADES.map((s) => `${matrix[cellKey(w, s)]} ${table[w][s]}`),
  ]);
  const widths = head.map((_, i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("-+-"), ...rows.map(line)].join("\n");
}

/** Label counts implied by a matrix and a table, in `tableLabels` order. */
export function labelDistribution(matrix: OracleMatrix, table: LabelTable): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of tableLabels(table)) out[l] = 0;
  for (const w of GRADES) for (const s of GRADES) out[table[w][s]]! += matrix[cellKey(w, s)];
  return out;
}
