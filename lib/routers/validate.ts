/**
 * Bad-input checks every router runs before training starts (issue 5 §10): empty sets, dimension mismatches,
 * non-finite embeddings, labels out of range, a single class, unknown model names. Each failure is a RouterlabError
 * that says what is wrong and where.
 */
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import type { RoutingTask } from "./types";

export interface ValidateOptions {
  /** Where the data came from, used in messages (default "training data"). */
  source?: string;
  /** Expected embedding width, e.g. 384 for the gateway's embedder. */
  expectedDim?: number;
  /** Refuse a task whose labels contain only one class (default true). */
  requireTwoClasses?: boolean;
}

/** Checks an embedding matrix: non-empty, consistent shape, expected width, every value finite. */
export function validateEmbeddings(X: EmbeddingMatrix, opts: ValidateOptions = {}): void {
  const file = opts.source ?? "training data";
  if (X.rows <= 0) throw new RouterlabError("the training set is empty (0 rows)", { file });
  if (!Number.isInteger(X.dim) || X.dim <= 0)
    throw new RouterlabError(`embedding dim must be a positive integer, got ${X.dim}`, { file });
  if (X.data.length !== X.rows * X.dim)
    throw new RouterlabError(
      `embedding matrix has ${X.data.length} values but rows x dim = ${X.rows} x ${X.dim} = ${X.rows * X.dim}`,
      { file },
    );
  if (opts.expectedDim !== undefined && X.dim !== opts.expectedDim)
    throw new RouterlabError(`embedding dim is ${X.dim}, expected ${opts.expectedDim}`, {
      file,
      field: "dim",
    });
  for (let i = 0; i < X.data.length; i++) {
    if (!Number.isFinite(X.data[i]!)) {
      const row = Math.floor(i / X.dim);
      throw new RouterlabError(
        `embedding row ${row}, column ${i - row * X.dim} is ${X.data[i]} (not finite)`,
        { file, path: `$[${row}][${i - row * X.dim}]` },
        "re-embed the queries; NaN usually means an empty or failed embedding",
      );
    }
  }
}

/** Checks a task against its embeddings: label count, label range, model names, number of classes. */
export function validateTask(X: EmbeddingMatrix, task: RoutingTask, opts: ValidateOptions = {}): void {
  const file = opts.source ?? "training data";
  validateEmbeddings(X, opts);
  if (task.labels.length !== X.rows)
    throw new RouterlabError(`${task.labels.length} labels for ${X.rows} embedding rows`, {
      file,
      field: "labels",
    });
  if (task.models.length < 2)
    throw new RouterlabError(`a router needs at least 2 candidate models, got ${task.models.length}`, {
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
  const nClasses = task.kind === "binary" ? 2 : task.models.length;
  const counts = new Array<number>(nClasses).fill(0);
  for (let i = 0; i < task.labels.length; i++) {
    const l = task.labels[i]!;
    if (l < 0 || l >= nClasses)
      throw new RouterlabError(
        `label ${l} at row ${i} is out of range 0..${nClasses - 1} (${task.kind} task over ${task.models.join(", ")})`,
        { file, path: `labels[${i}]` },
      );
    counts[l]! += 1;
  }
  const present = counts.filter((c) => c > 0).length;
  if ((opts.requireTwoClasses ?? true) && present < 2) {
    const only = counts.findIndex((c) => c > 0);
    const name = task.kind === "binary" ? (only === 1 ? "strong" : "weak") : task.models[only];
    throw new RouterlabError(
      `all ${task.labels.length} labels are the single class '${name}': nothing to learn`,
      { file, field: "labels" },
      "check the labelling rule or use a baseline router that always picks one model",
    );
  }
  const M = task.models.length;
  if (task.quality && task.quality.length !== X.rows * M)
    throw new RouterlabError(`quality has ${task.quality.length} values, expected ${X.rows} x ${M}`, {
      file,
      field: "quality",
    });
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
