import type { Rng } from "../util/random";
import { createRng, shuffled } from "../util/random";
import type { RoutingData } from "./routing";
import { selectRows } from "./routing";

/** NFKC + lowercase + collapse whitespace + trim: two queries with the same key are "the same question". */
export function normalizeQuery(q: string): string {
  return q.normalize("NFKC").toLowerCase().replace(/\s+/gu, " ").trim();
}

export interface SplitOptions {
  testFraction: number;
  seed: number;
  /** Stratify by `data.groups` (the per-query group: subject, task). */
  stratifyBy?: "group";
  /** Keep identical normalised queries on one side (default true). */
  dedupe?: boolean;
}

export interface Split {
  /** Row indices into the input data, ascending. */
  train: number[];
  test: number[];
}

export interface LeakageReport {
  trainQueries: number;
  testQueries: number;
  /** Distinct normalised queries present on both sides. */
  overlappingQueries: number;
  /** Test rows whose normalised query is also in train. */
  leakedTestRows: number;
  /** Up to 10 examples of leaked queries (normalised, cut to 120 chars). */
  examples: string[];
}

/** Groups of row indices that share a normalised query (in first-appearance order). */
export function queryGroups(queries: readonly string[]): number[][] {
  const byKey = new Map<string, number[]>();
  queries.forEach((q, i) => {
    const k = normalizeQuery(q);
    const g = byKey.get(k);
    if (g) g.push(i);
    else byKey.set(k, [i]);
  });
  return [...byKey.values()];
}

function validate(testFraction: number): void {
  if (!(testFraction > 0 && testFraction < 1))
    throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`);
}

function units(data: RoutingData, dedupe: boolean): number[][] {
  return dedupe ? queryGroups(data.queries) : data.queries.map((_q, i) => [i]);
}

/** The stratum of a unit: its first row's group (groups that share text across strata follow their first row). */
function strata(data: RoutingData, us: number[][], stratify: boolean): Map<string, number[][]> {
  const out = new Map<string, number[][]>();
  for (const u of us) {
    const key = stratify ? (data.groups?.[u[0]!] ?? "") : "";
    const list = out.get(key);
    if (list) list.push(u);
    else out.set(key, [u]);
  }
  return out;
}

/**
 * Seeded train/test split. Units are groups of rows with the same normalised query (dedupe, the
 * default) so no query lands on both sides; with `stratifyBy: "group"` each group is split at the
 * same fraction (rounded per stratum, at least one test unit in strata of 2+ units).
 */
export function trainTestSplit(data: RoutingData, opts: SplitOptions): Split {
  validate(opts.testFraction);
  if (opts.stratifyBy && !data.groups) throw new Error(`${data.name} has no groups to stratify by`);
  const rng = createRng(opts.seed);
  const train: number[] = [];
  const test: number[] = [];
  const st = strata(data, units(data, opts.dedupe ?? true), opts.stratifyBy === "group");
  for (const key of [...st.keys()].sort()) {
    const list = shuffled(st.get(key)!, rng);
    let nTest = Math.round(list.length * opts.testFraction);
    if (nTest === 0 && list.length >= 2 && opts.stratifyBy) nTest = 1;
    if (nTest === list.length && list.length >= 2) nTest = list.length - 1;
    list.forEach((u, i) => (i < nTest ? test : train).push(...u));
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train, test };
}

/** k folds of (train, test) that partition the data; same unit and stratification rules as trainTestSplit. */
export function kFold(
  data: RoutingData,
  opts: { k: number; seed: number; stratifyBy?: "group"; dedupe?: boolean },
): Split[] {
  if (!Number.isInteger(opts.k) || opts.k < 2)
    throw new RangeError(`k must be an integer >= 2, got ${opts.k}`);
  if (opts.stratifyBy && !data.groups) throw new Error(`${data.name} has no groups to stratify by`);
  const rng: Rng = createRng(opts.seed);
  const fold = new Int32Array(data.queries.length);
  const st = strata(data, units(data, opts.dedupe ?? true), opts.stratifyBy === "group");
  let offset = 0;
  for (const key of [...st.keys()].sort()) {
    // deal units round-robin, continuing the rotation across strata so fold sizes stay balanced
    shuffled(st.get(key)!, rng).forEach((u, i) => {
      for (const r of u) fold[r] = (offset + i) % opts.k;
    });
    offset = (offset + st.get(key)!.length) % opts.k;
  }
  const out: Split[] = [];
  for (let f = 0; f < opts.k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    fold.forEach((v, i) => (v === f ? test : train).push(i));
    out.push({ train, test });
  }
  return out;
}

export function applySplit(data: RoutingData, split: Split): { train: RoutingData; test: RoutingData } {
  return {
    train: { ...selectRows(data, split.train), name: `${data.name}-train` },
    test: { ...selectRows(data, split.test), name: `${data.name}-test` },
  };
}

/** Counts normalised queries present in both sets (e.g. the 119 LLMRouter test questions also in train). */
export function leakageReport(
  train: { queries: readonly string[] },
  test: { queries: readonly string[] },
): LeakageReport {
  const trainKeys = new Set(train.queries.map(normalizeQuery));
  const testKeys = test.queries.map(normalizeQuery);
  const overlap = new Set<string>();
  let leakedRows = 0;
  for (const k of testKeys) {
    if (trainKeys.has(k)) {
      overlap.add(k);
      leakedRows++;
    }
  }
  return {
    trainQueries: train.queries.length,
    testQueries: test.queries.length,
    overlappingQueries: overlap.size,
    leakedTestRows: leakedRows,
    examples: [...overlap].slice(0, 10).map((q) => (q.length > 120 ? q.slice(0, 117) + "..." : q)),
  };
}

/** Removes test rows whose normalised query is in train (the "dedupe before evaluating" fix). */
export function dropLeakedTestRows(train: RoutingData, test: RoutingData): RoutingData {
  const trainKeys = new Set(train.queries.map(normalizeQuery));
  const keep: number[] = [];
  test.queries.forEach((q, i) => {
    if (!trainKeys.has(normalizeQuery(q))) keep.push(i);
  });
  return selectRows(test, keep);
}
