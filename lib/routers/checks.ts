/**
 * The one set of input checks every router runs (training before any work starts, queries before scoring), and
 * the one "not fitted" error. Each failure is a RouterlabError that says what is wrong and where.
 */
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import type { Queries, RoutingTask } from "./types";

export interface TrainingCheckOptions {
  /** Expected embedding width (e.g. 384 for the gateway's embedder); unset = any. */
  expectedDim?: number;
  /** Fewest label classes present (default 2). */
  minClasses?: number;
  /** The kind reads query texts: `texts` must be given, one per row. */
  readsTexts?: boolean;
  /** The kind reads the task's quality matrix: it must be rows x models. */
  readsQuality?: boolean;
  /** The kind (named here for the error) learns P(strong): a multi-model task is refused. */
  binaryOnly?: string;
}

/** Throws on a bad shape, a wrong width or a non-finite value. */
export function checkEmbeddings(
  X: EmbeddingMatrix,
  what: string,
  expectedDim?: number,
  expectedWhy = "expected",
): void {
  if (!Number.isInteger(X.rows) || !Number.isInteger(X.dim) || X.dim <= 0 || X.rows < 0) {
    throw new RouterlabError(`${what}: invalid shape ${X.rows} x ${X.dim}`, { file: what });
  }
  if (X.data.length !== X.rows * X.dim) {
    throw new RouterlabError(
      `${what}: data has ${X.data.length} values, expected rows*dim = ${X.rows * X.dim}`,
      { file: what },
    );
  }
  if (expectedDim !== undefined && X.dim !== expectedDim) {
    throw new RouterlabError(`${what}: dimension mismatch: got ${X.dim}, ${expectedWhy} ${expectedDim}`, {
      file: what,
      field: "dim",
    });
  }
  const d = X.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!)) {
      const row = Math.floor(i / X.dim);
      throw new RouterlabError(
        `${what}: non-finite value ${d[i]} at row ${row}, column ${i % X.dim}`,
        { file: what, path: `[${row}][${i % X.dim}]` },
        "re-embed the queries; NaN usually means an empty or failed embedding",
      );
    }
  }
}

function checkSideInputs(q: Queries, what: string, readsTexts: boolean): void {
  if (readsTexts && q.texts === undefined)
    throw new RouterlabError(`${what}: this router reads the query texts, and none were given`, {
      file: what,
      field: "texts",
    });
  for (const [field, v] of [
    ["texts", q.texts],
    ["groups", q.groups],
  ] as const) {
    if (v !== undefined && v.length !== q.X.rows)
      throw new RouterlabError(`${what}: ${v.length} ${field} for ${q.X.rows} embedding rows`, {
        file: what,
        field,
      });
  }
}

/** Queries to score: the embeddings' width must be the fitted one; texts must be there when the kind reads them. */
export function checkQueries(q: Queries, fittedDim: number | undefined, readsTexts = false): void {
  const dim = fittedDim !== undefined && fittedDim > 0 ? fittedDim : undefined;
  checkEmbeddings(q.X, "query embeddings", dim, "the router was fitted on");
  checkSideInputs(q, "query embeddings", readsTexts);
}

/** Per-class counts of a task's labels. */
export function labelCounts(task: RoutingTask): number[] {
  const counts = new Array<number>(task.models.length).fill(0);
  for (const l of task.labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

/**
 * A training pair: non-empty, finite embeddings of the expected width, one label per row in range, distinct
 * non-empty model names, at least `minClasses` classes, texts when read, quality of the right size when read.
 */
export function checkTraining(q: Queries, task: RoutingTask, opts: TrainingCheckOptions = {}): void {
  const X = q.X;
  const file = "training data";
  if (X.rows === 0) throw new RouterlabError("the training set is empty (0 rows)", { file });
  checkEmbeddings(X, "training embeddings", opts.expectedDim);
  checkSideInputs(q, "training data", opts.readsTexts ?? false);
  if (task.labels.length !== X.rows) {
    throw new RouterlabError(
      `dimension mismatch: ${X.rows} embedding rows but ${task.labels.length} labels`,
      {
        file,
        field: "labels",
      },
    );
  }
  const M = task.models.length;
  if (M < 2)
    throw new RouterlabError(`a router needs at least 2 candidate models, got ${M}`, {
      file,
      field: "models",
    });
  const seen = new Set<string>();
  for (const m of task.models) {
    if (typeof m !== "string" || m.trim() === "")
      throw new RouterlabError(`empty model name in ${JSON.stringify(task.models)}`, {
        file,
        field: "models",
      });
    if (seen.has(m)) throw new RouterlabError(`duplicate model name '${m}'`, { file, field: "models" });
    seen.add(m);
  }
  for (let i = 0; i < task.labels.length; i++) {
    const l = task.labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= M) {
      throw new RouterlabError(
        `label ${l} at row ${i} is out of range 0..${M - 1} (${task.kind} task over ${task.models.join(", ")})`,
        { file, path: `labels[${i}]` },
      );
    }
  }
  const counts = labelCounts(task);
  const present = counts.filter((c) => c > 0).length;
  const minClasses = opts.minClasses ?? 2;
  if (present < minClasses) {
    const only = task.models[counts.findIndex((c) => c > 0)];
    throw new RouterlabError(
      `the training labels contain a single class ('${only}'): a router needs at least ${minClasses} classes`,
      { file, field: "labels" },
      "change the label rule or the training split, or use a baseline (always-weak/always-strong/single-model)",
    );
  }
  for (const field of opts.readsQuality ? (["quality"] as const) : []) {
    const v = task[field];
    if (v && v.length !== X.rows * M)
      throw new RouterlabError(`${field} has ${v.length} values, expected ${X.rows} x ${M}`, { file, field });
  }
  if (opts.binaryOnly !== undefined && task.kind !== "binary")
    throw new RouterlabError(
      `the ${opts.binaryOnly} router scores P(strong): it needs a binary (weak/strong) task`,
      { file: "training task", field: "setting" },
    );
}

/** Resolves model names against a task's models, failing clearly on an unknown one. */
export function resolveModels(
  names: readonly string[],
  models: readonly string[],
  file = "config",
): number[] {
  return names.map((n) => {
    const i = models.indexOf(n);
    if (i < 0)
      throw new RouterlabError(`unknown model '${n}' (known: ${models.join(", ")})`, {
        file,
        field: "models",
      });
    return i;
  });
}

/** The one "not fitted" error: returns the fitted state or throws. */
export function requireFitted<T>(value: T | undefined, kind: string): T {
  if (value === undefined)
    throw new RouterlabError(`the ${kind} router is not fitted: call fit() or load a model file first`);
  return value;
}
