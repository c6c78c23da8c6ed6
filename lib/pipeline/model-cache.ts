import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { EmbeddingSpec } from "../embed/types";
import { saveRouterState, stableStringify } from "../routers/model-file";
import { loadRouter } from "../routers/registry";
import type { Router } from "../routers/types";
import { sha256Hex } from "../util/hash";
import { cacheDir } from "../util/paths";
import { writeFileAtomic } from "../util/atomic-write";

/**
 * Trained routers keyed by everything that determines them: router kind and hyperparameters, the
 * training rows and labels, the embedding spec and the seed. A warm re-run loads instead of fitting.
 */
export function trainedModelKey(parts: {
  kind: string;
  hyperparameters: Record<string, unknown>;
  trainIds: readonly string[];
  labels: Int32Array;
  /** Observed quality the task carries (routers that regress quality learn from it, not only from labels). */
  quality?: Float64Array;
  spec: EmbeddingSpec;
  seed: number;
}): string {
  return sha256Hex(
    stableStringify(
      {
        kind: parts.kind,
        hyperparameters: parts.hyperparameters,
        ids: sha256Hex(parts.trainIds.join("\n")),
        labels: sha256Hex(
          new Uint8Array(parts.labels.buffer, parts.labels.byteOffset, parts.labels.byteLength),
        ),
        ...(parts.quality
          ? {
              quality: sha256Hex(
                new Uint8Array(parts.quality.buffer, parts.quality.byteOffset, parts.quality.byteLength),
              ),
            }
          : {}),
        spec: parts.spec,
        seed: parts.seed,
      },
      0,
    ),
  );
}

function base(key: string): string {
  return path.join(cacheDir(), "trained", key.slice(0, 2), key);
}

export function loadCachedRouter(key: string): Router | undefined {
  const b = base(key);
  if (!existsSync(`${b}.router.json`)) return undefined;
  try {
    return loadRouter(`${b}.router.json`);
  } catch {
    return undefined; // a damaged entry is refitted and overwritten
  }
}

/** Whether a trained model is cached under `key` (without loading it). */
export function hasCachedRouter(key: string): boolean {
  return existsSync(`${base(key)}.router.json`);
}

export function saveCachedRouter(key: string, router: Router): void {
  const b = base(key);
  saveRouterState(router.state(), b);
}

/**
 * Scores of a cached model on given rows (a fold's test part): a warm run reads them instead of loading
 * and re-scoring the model (SVM scoring alone is most of a warm run). Keyed by the model key and the rows.
 */
function scoresFile(modelKey: string, rowIds: readonly string[]): string {
  const k = sha256Hex(`${modelKey}\n${sha256Hex(rowIds.join("\n"))}`);
  return path.join(cacheDir(), "trained", k.slice(0, 2), `${k}.scores.f64`);
}

export function loadCachedScores(modelKey: string, rowIds: readonly string[]): Float64Array | undefined {
  const file = scoresFile(modelKey, rowIds);
  if (!existsSync(file)) return undefined;
  const buf = readFileSync(file);
  if (buf.byteLength !== rowIds.length * 8) return undefined; // torn or stale: re-score
  const out = new Float64Array(rowIds.length);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function saveCachedScores(modelKey: string, rowIds: readonly string[], scores: Float64Array): void {
  const file = scoresFile(modelKey, rowIds);
  writeFileAtomic(file, new Uint8Array(scores.buffer, scores.byteOffset, scores.byteLength));
}
