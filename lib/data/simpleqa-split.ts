import { z } from "zod";
import type { SimpleQaRow } from "./simpleqa";
import { leakageReport, trainTestSplit } from "./split";
import type { LeakageReport } from "./split";

export interface SimpleQaSplitOptions {
  readonly seed: number;
  readonly testFraction: number;
  /** Stratify by topic (default true) so both sides cover every topic. */
  readonly stratifyByTopic?: boolean;
}

export interface SimpleQaSplit {
  readonly train: readonly SimpleQaRow[];
  readonly test: readonly SimpleQaRow[];
  readonly leakage: LeakageReport;
  readonly options: SimpleQaSplitOptions;
}

/**
 * The one seeded, de-duplicated SimpleQA train/test split. Oracle generation reads only `train`, SimpleQA
 * evaluation only `test`; both call this with the same options so the sides never overlap.
 */
export function splitSimpleQa(rows: readonly SimpleQaRow[], opts: SimpleQaSplitOptions): SimpleQaSplit {
  const stratify = opts.stratifyByTopic ?? true;
  const asRouting = {
    name: "simpleqa",
    queryIds: rows.map((r) => r.id),
    queries: rows.map((r) => r.problem),
    models: [],
    quality: new Float64Array(0),
    cost: new Float64Array(0),
    groups: rows.map((r) => r.topic),
  };
  const s = trainTestSplit(asRouting, {
    seed: opts.seed,
    testFraction: opts.testFraction,
    stratifyBy: stratify ? "group" : undefined,
  });
  const train = s.train.map((i) => rows[i]!);
  const test = s.test.map((i) => rows[i]!);
  const leakage = leakageReport(
    { queries: train.map((r) => r.problem) },
    { queries: test.map((r) => r.problem) },
  );
  if (leakage.leakedTestRows > 0)
    throw new Error(`simpleqa split leaked ${leakage.leakedTestRows} test rows into train`);
  return { train, test, leakage, options: opts };
}

/** The split options as configs spell them (oracle and SimpleQA evaluation must use the same values). */
export const SimpleQaSplitConfigSchema = z
  .strictObject({
    seed: z.number().int().nonnegative().default(42),
    testFraction: z.number().gt(0).lt(1).default(0.2),
  })
  .default({ seed: 42, testFraction: 0.2 });
