/**
 * Router scores exchanged between `routerlab train`, `evaluate` and `calibrate`, and the binary datasets
 * they are evaluated on. Parsed once at the edge with zod; errors name the file and JSON path.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { loadGsm8k, loadMmlu, ROUTELLM_STRONG, ROUTELLM_WEAK } from "../data/routellm";
import { RouterlabError } from "../util/errors";
import { dataDir } from "../util/paths";
import { writeFileAtomic } from "../util/atomic-write";
import { parseWith } from "../util/zod-error";

export const ScoresFileSchema = z
  .object({
    router: z.string().min(1),
    dataset: z.string().min(1),
    queryIds: z.array(z.string()).min(1),
    /** Candidate models; for binary scores [weak, strong]. */
    models: z.array(z.string()).min(1),
    /** Binary setting: P(strong needed) per query, aligned with queryIds. */
    strongProbability: z.array(z.number()).optional(),
    /** Per-model predicted quality, one row per query (N x M). */
    perModel: z.array(z.array(z.number())).optional(),
    /** How the scores were produced (e.g. "5-fold out-of-fold"), shown in reports. */
    regime: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    if (!v.strongProbability && !v.perModel)
      ctx.addIssue({ code: "custom", message: "needs strongProbability or perModel", path: [] });
    if (v.strongProbability && v.strongProbability.length !== v.queryIds.length)
      ctx.addIssue({
        code: "custom",
        message: `has ${v.strongProbability.length} values but queryIds has ${v.queryIds.length}`,
        path: ["strongProbability"],
      });
    v.perModel?.forEach((row, i) => {
      if (row.length !== v.models.length)
        ctx.addIssue({
          code: "custom",
          message: `row has ${row.length} values, models has ${v.models.length}`,
          path: ["perModel", i],
        });
    });
    if (v.perModel && v.perModel.length !== v.queryIds.length)
      ctx.addIssue({
        code: "custom",
        message: `has ${v.perModel.length} rows but queryIds has ${v.queryIds.length}`,
        path: ["perModel"],
      });
    if (new Set(v.queryIds).size !== v.queryIds.length)
      ctx.addIssue({ code: "custom", message: "query ids are not unique", path: ["queryIds"] });
  });

export type ScoresFile = z.infer<typeof ScoresFileSchema>;

export function parseScoresFile(value: unknown, file: string): ScoresFile {
  return parseWith(ScoresFileSchema, value, { file, jsonPath: "$" });
}

export function loadScoresFile(file: string): ScoresFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read scores file: ${(e as Error).message}`, { file });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RouterlabError(`invalid JSON: ${(e as Error).message}`, { file });
  }
  return parseScoresFile(value, file);
}

export function saveScoresFile(file: string, scores: ScoresFile): void {
  writeFileAtomic(file, JSON.stringify(ScoresFileSchema.parse(scores)) + "\n");
}

/** The binary score per query: strongProbability, or the strong column of perModel. */
export function strongScores(s: ScoresFile, file = "(scores)"): Float64Array {
  if (s.strongProbability) return Float64Array.from(s.strongProbability);
  const strong = s.models.length - 1;
  if (s.models.length !== 2)
    throw new RouterlabError("binary evaluation needs strongProbability or two models [weak, strong]", {
      file,
      field: "models",
    });
  return Float64Array.from(s.perModel!, (row) => row[strong]!);
}

/** A binary (weak/strong) dataset with per-query outcomes. */
export interface BinaryDataset {
  readonly name: string;
  readonly models: readonly [string, string];
  readonly queryIds: readonly string[];
  readonly texts: readonly string[];
  readonly groups?: readonly string[];
  readonly yWeak: Float64Array;
  readonly yStrong: Float64Array;
}

export const BINARY_DATASETS = ["routellm-mmlu", "routellm-gsm8k"] as const;

/** Loads a bundled binary dataset by name (decontaminated, as in the RouteLLM paper). */
export function loadBinaryDataset(name: string): BinaryDataset {
  const root = path.join(dataDir(), "routellm");
  let rows: { id: string; prompt: string; weakCorrect: boolean; strongCorrect: boolean; subject?: string }[];
  if (name === "routellm-mmlu") rows = loadMmlu(path.join(root, "mmlu")).rows;
  else if (name === "routellm-gsm8k") rows = loadGsm8k(path.join(root, "gsm8k")).rows;
  else
    throw new RouterlabError(
      `unknown dataset '${name}'`,
      undefined,
      `choose one of ${BINARY_DATASETS.join(", ")}`,
    );
  return {
    name,
    models: [ROUTELLM_WEAK, ROUTELLM_STRONG],
    queryIds: rows.map((r) => r.id),
    texts: rows.map((r) => r.prompt),
    ...(rows[0]?.subject !== undefined ? { groups: rows.map((r) => r.subject ?? "") } : {}),
    yWeak: Float64Array.from(rows, (r) => (r.weakCorrect ? 1 : 0)),
    yStrong: Float64Array.from(rows, (r) => (r.strongCorrect ? 1 : 0)),
  };
}

/** Aligns a scores file with a dataset by query id; every scored id must exist in the dataset. */
export function alignScores(
  scores: ScoresFile,
  data: BinaryDataset,
  file = "(scores)",
): { scores: Float64Array; yWeak: Float64Array; yStrong: Float64Array; queryIds: string[] } {
  const index = new Map(data.queryIds.map((id, i) => [id, i]));
  const s = strongScores(scores, file);
  const yWeak = new Float64Array(s.length);
  const yStrong = new Float64Array(s.length);
  scores.queryIds.forEach((id, k) => {
    const i = index.get(id);
    if (i === undefined)
      throw new RouterlabError(`query id '${id}' is not in dataset ${data.name}`, {
        file,
        path: `$.queryIds[${k}]`,
      });
    yWeak[k] = data.yWeak[i]!;
    yStrong[k] = data.yStrong[i]!;
  });
  return { scores: s, yWeak, yStrong, queryIds: [...scores.queryIds] };
}
