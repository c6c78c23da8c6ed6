/**
 * The oracle's output files, schema-checked when written and when read back. Rows carry no timestamps or
 * latencies and keys are written in schema order, so a re-run (cached or not) is byte-identical.
 */
import { z } from "zod";
import type { RoutingData } from "../data/routing";
import { RouterlabError } from "../util/errors";
import { readJsonl } from "../util/jsonl";
import { parseWith } from "../util/zod-error";

const GradeSchema = z.enum(["A", "B", "C"]);
const Usd = z.number().finite().nonnegative();
const Tokens = z.number().int().nonnegative();

const AnswerBase = {
  model: z.string().min(1),
  answer: z.string(),
  promptTokens: Tokens,
  completionTokens: Tokens,
  /** usage x the model's configured prices (what the call cost when it was paid). */
  costUsd: Usd,
};

export const GradedAnswerSchema = z.strictObject({
  ...AnswerBase,
  grade: GradeSchema,
  /** simple-evals' first-letter parse of the grader's first reply. */
  referenceGrade: GradeSchema,
  unparsed: z.boolean(),
  retried: z.boolean(),
  graderReplies: z.array(z.string()).min(1).max(2),
  graderCostUsd: Usd,
});

export const JudgedAnswerSchema = z.strictObject({
  ...AnswerBase,
  /** LLM-as-judge quality in [0, 1]; null when the judge's reply never parsed. */
  quality: z.number().min(0).max(1).nullable(),
  qualityReplies: z.array(z.string()).min(1).max(2),
  judgeCostUsd: Usd,
});

const Winner = z.enum(["weak", "strong", "tie"]);
const Verdict = z.enum(["first", "second", "tie"]).nullable();

export const GradedRowSchema = z.strictObject({
  kind: z.literal("graded"),
  id: z.string().min(1),
  query: z.string(),
  gold: z.string(),
  topic: z.string().nullable(),
  weak: GradedAnswerSchema,
  strong: GradedAnswerSchema,
  /** `<weak grade>/<strong grade>`. */
  cell: z.string().regex(/^[ABC]\/[ABC]$/),
  label: z.string().min(1),
  /** metrics.md §4: strong graded A and weak not. */
  strongWins: z.boolean(),
});

export const JudgedRowSchema = z.strictObject({
  kind: z.literal("judged"),
  id: z.string().min(1),
  query: z.string(),
  weak: JudgedAnswerSchema,
  strong: JudgedAnswerSchema,
  pairwise: z.strictObject({
    firstShown: z.enum(["weak", "strong"]),
    verdicts: z.tuple([Verdict, Verdict]),
    winners: z.tuple([Winner, Winner]),
    winner: Winner,
    consistent: z.boolean(),
    replies: z.tuple([z.string(), z.string()]),
    costUsd: Usd,
  }),
  label: z.string().min(1),
  /** The bias-cancelled pairwise verdict is "strong". */
  strongWins: z.boolean(),
});

export const OracleRowSchema = z.discriminatedUnion("kind", [GradedRowSchema, JudgedRowSchema]);
export type OracleRow = z.infer<typeof OracleRowSchema>;
export type GradedRow = z.infer<typeof GradedRowSchema>;
export type JudgedRow = z.infer<typeof JudgedRowSchema>;

/** One row of the routing file: LLMRouter's routing-JSONL format (`lib/data/llmrouter.ts` loadRoutingJsonl). */
export const RoutingRowSchema = z.strictObject({
  query: z.string(),
  model_name: z.string().min(1),
  /** 1 iff graded A (SimpleQA), or the judge's quality score in [0, 1]. */
  performance: z.number().min(0).max(1).nullable(),
  input_tokens: Tokens,
  output_tokens: Tokens,
  cost: Usd,
  query_id: z.string().min(1),
  label: z.string().min(1),
});
export type RoutingRow = z.infer<typeof RoutingRowSchema>;

export const SftRowSchema = z.strictObject({
  id: z.string(),
  prompt: z.string(),
  completion: z.string().min(1),
});
export const DpoRowSchema = z.strictObject({
  id: z.string(),
  prompt: z.string(),
  chosen: z.string().min(1),
  rejected: z.string().min(1),
});
export type SftRow = z.infer<typeof SftRowSchema>;
export type DpoRow = z.infer<typeof DpoRowSchema>;

export const OUTPUT_FILES = {
  dataset: "oracle.jsonl",
  routing: "routing.jsonl",
  sft: "sft.jsonl",
  dpo: "dpo.jsonl",
  summary: "summary.json",
} as const;

export { writeFileAtomic } from "../util/atomic-write";

/**
 * Validates every row with `schema` (which also fixes the key order) and returns the JSONL text for `file`; a row
 * that does not match is an error naming the file, the line it would have had and the field.
 */
export function toJsonl<S extends z.ZodType>(rows: readonly unknown[], schema: S, file: string): string {
  return rows
    .map((r, i) => {
      const data: unknown = parseWith(schema, r, {
        file,
        line: i + 1,
        what: "row does not match its output schema",
      });
      return JSON.stringify(data) + "\n";
    })
    .join("");
}

/** Reads a JSONL file back through `schema`; errors name the file, line and field. */
export { readJsonl };

export function readOracleDataset(file: string): OracleRow[] {
  return readJsonl(file, OracleRowSchema);
}

function performanceOf(row: OracleRow, side: "weak" | "strong"): number | null {
  if (row.kind === "graded") return row[side].grade === "A" ? 1 : 0;
  return row[side].quality;
}

/**
 * Routing rows (weak then strong per query). A query text seen before is skipped (the routing format keys rows by
 * query text); the number skipped is returned.
 */
export function routingRows(rows: readonly OracleRow[]): { rows: RoutingRow[]; duplicatesSkipped: number } {
  const seen = new Set<string>();
  const out: RoutingRow[] = [];
  let duplicatesSkipped = 0;
  for (const r of rows) {
    if (seen.has(r.query)) {
      duplicatesSkipped++;
      continue;
    }
    seen.add(r.query);
    for (const side of ["weak", "strong"] as const) {
      const a = r[side];
      out.push({
        query: r.query,
        model_name: a.model,
        performance: performanceOf(r, side),
        input_tokens: a.promptTokens,
        output_tokens: a.completionTokens,
        cost: a.costUsd,
        query_id: r.id,
        label: r.label,
      });
    }
  }
  return { rows: out, duplicatesSkipped };
}

/** The same as in-memory RoutingData (models = [weak, strong]; NaN quality where a judge score is missing). */
export function oracleRoutingData(name: string, rows: readonly OracleRow[]): RoutingData {
  if (rows.length === 0) throw new RouterlabError("no oracle rows");
  const models = [rows[0]!.weak.model, rows[0]!.strong.model];
  const quality = new Float64Array(rows.length * 2);
  const cost = new Float64Array(rows.length * 2);
  rows.forEach((r, i) => {
    quality[i * 2] = performanceOf(r, "weak") ?? NaN;
    quality[i * 2 + 1] = performanceOf(r, "strong") ?? NaN;
    cost[i * 2] = r.weak.costUsd;
    cost[i * 2 + 1] = r.strong.costUsd;
  });
  return {
    name,
    queryIds: rows.map((r) => r.id),
    queries: rows.map((r) => r.query),
    models,
    quality,
    cost,
    groups: rows.map((r) => (r.kind === "graded" ? (r.topic ?? "unknown") : "judged")),
    qualityScale: { min: 0, max: 1 },
  };
}

export function sftRows(rows: readonly OracleRow[]): SftRow[] {
  return rows.map((r) => ({ id: r.id, prompt: r.query, completion: r.label }));
}

export function dpoRows(rows: readonly OracleRow[], rejectedFor: Readonly<Record<string, string>>): DpoRow[] {
  const out: DpoRow[] = [];
  for (const r of rows) {
    const rejected = rejectedFor[r.label];
    if (rejected !== undefined && rejected !== r.label)
      out.push({ id: r.id, prompt: r.query, chosen: r.label, rejected });
  }
  return out;
}
