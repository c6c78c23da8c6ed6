import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import type { RouterScores, RouterState, RoutingTask } from "./types";
import { parseWith } from "../util/zod-error";

/** What every fitted router remembers about its task, stored in the model file's `meta`. */
export const FittedMetaSchema = z.object({
  setting: z.enum(["multi", "binary"]),
  models: z.array(z.string()).min(1),
  dim: z.number().int().nonnegative(),
});
export type FittedMeta = z.infer<typeof FittedMetaSchema>;

export function fittedMeta(X: EmbeddingMatrix, task: RoutingTask): FittedMeta {
  return { setting: task.kind, models: task.models.slice(), dim: X.dim };
}

/** Parses a state's `meta` with a kind's schema; a bad field is a RouterlabError naming its JSON path. */
export function parseStateMeta<T>(state: RouterState, schema: z.ZodType<T>, file = "model file"): T {
  return parseWith(schema, state.meta, {
    file,
    jsonPath: "$.meta",
    what: `invalid ${state.kind} router state`,
  });
}

export function parseFittedMeta(state: RouterState): FittedMeta {
  return parseStateMeta(state, FittedMetaSchema);
}

/** Scores from per-class probabilities (N x M); binary adds P(strong) = column 1. */
export function scoresFromProba(meta: FittedMeta, proba: Float64Array): RouterScores {
  const m = meta.models.length;
  if (meta.setting !== "binary") return { models: meta.models, perModel: proba };
  const n = proba.length / m;
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = proba[i * m + 1]!;
  return { models: meta.models, perModel: proba, strongProbability: p };
}

/** Binary scores from P(strong) per row: per model [1 - p, p] ([weak, strong]). */
export function strongScores(models: readonly string[], strongProbability: Float64Array): RouterScores {
  const perModel = new Float64Array(strongProbability.length * 2);
  strongProbability.forEach((p, i) => {
    perModel[i * 2] = 1 - p;
    perModel[i * 2 + 1] = p;
  });
  return { models, perModel, strongProbability };
}

export function tensor(
  data: Float32Array | Float64Array | Int32Array,
  shape: number[],
): { shape: number[]; data: Float32Array } {
  return { shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
}

export function requireTensor(state: RouterState, name: string): { shape: number[]; data: Float32Array } {
  const t = state.tensors[name];
  if (!t)
    throw new RouterlabError(`${state.kind} router state lacks tensor '${name}'`, {
      file: "model file",
      field: name,
    });
  return t;
}

/**
 * Per-answer quality of a task (rows x M): its observed quality matrix, or, without one, the label as the only
 * outcome (1 for the label model, 0 for the others).
 */
export function answerQuality(task: RoutingTask, rows: number): Float64Array {
  const M = task.models.length;
  if (task.quality) return task.quality;
  return Float64Array.from({ length: rows * M }, (_, i) =>
    task.labels[Math.floor(i / M)] === i % M ? 1 : 0,
  );
}
