import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { EmbeddingSpecSchema } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { RouterState } from "./types";
import { FILE_SET_JOURNAL, recoverFileSet, writeFileSetAtomic } from "../util/atomic-write";
import { parseWith } from "../util/zod-error";

/**
 * The routerlab model file: `<name>.router.json` (kind, hyperparameters, meta, tensor index) plus
 * `<name>.router.bin` (the tensors, concatenated little-endian float32, in sorted-name order).
 * Bytes are deterministic: keys are sorted, and nothing time-dependent is written unless the caller
 * puts it in `meta`.
 */
export const MODEL_FILE_FORMAT = "routerlab-router";
export const MODEL_FILE_VERSION = 1;

const TensorEntrySchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  /** Byte offset into the .bin file. */
  offset: z.number().int().nonnegative(),
  /** Number of float32 values. */
  length: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const ModelFileSchema = z.strictObject({
  format: z.literal(MODEL_FILE_FORMAT),
  version: z.literal(MODEL_FILE_VERSION),
  kind: z.string().min(1),
  hyperparameters: z.record(z.string(), z.unknown()),
  meta: z.record(z.string(), z.unknown()),
  bin: z.strictObject({ file: z.string().min(1), bytes: z.number().int().nonnegative(), sha256: z.string() }),
  tensors: z.array(TensorEntrySchema),
});
export type ModelFile = z.infer<typeof ModelFileSchema>;

/** JSON with recursively sorted object keys; non-finite numbers are rejected (JSON cannot hold them). */
export function stableStringify(value: unknown, indent = 2): string {
  const norm = (v: unknown, at: string): unknown => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new RouterlabError(`cannot save non-finite number ${v} in a model file`, {
        file: "model file",
        path: at,
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => norm(x, `${at}[${i}]`));
    if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array) {
      return Array.from(v, (x, i) => norm(x, `${at}[${i}]`));
    }
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = norm(x, `${at}.${k}`);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(value, "$"), null, indent) + "\n";
}

function toLittleEndianBytes(data: Float32Array): Uint8Array {
  if (endianness() === "LE") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

function fromLittleEndianBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Strips a `.router.json` / `.router.bin` suffix. */
export function modelBasePath(p: string): string {
  return p.replace(/\.router\.(json|bin)$/, "");
}

/** Writes `<base>.router.json` and `<base>.router.bin`; returns both paths. */
export function saveRouterState(state: RouterState, base: string): { json: string; bin: string } {
  const b = modelBasePath(base);
  const jsonPath = `${b}.router.json`;
  const binPath = `${b}.router.bin`;
  const names = Object.keys(state.tensors).sort();
  const parts: Uint8Array[] = [];
  const entries: z.infer<typeof TensorEntrySchema>[] = [];
  let offset = 0;
  for (const name of names) {
    const t = state.tensors[name]!;
    const expected = t.shape.reduce((a, x) => a * x, 1);
    if (expected !== t.data.length) {
      throw new RouterlabError(
        `tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(", ")}]`,
        {
          file: jsonPath,
          field: name,
        },
      );
    }
    const bytes = toLittleEndianBytes(t.data);
    parts.push(bytes);
    entries.push({ name, shape: t.shape.slice(), offset, length: t.data.length, sha256: sha256Hex(bytes) });
    offset += bytes.length;
  }
  const bin = Buffer.concat(parts);
  const file: ModelFile = {
    format: MODEL_FILE_FORMAT,
    version: MODEL_FILE_VERSION,
    kind: state.kind,
    hyperparameters: state.hyperparameters,
    meta: state.meta,
    bin: { file: path.basename(binPath), bytes: bin.length, sha256: sha256Hex(bin) },
    tensors: entries,
  };
  // the pair appears together (the JSON names the .bin's hash): a full disk or a kill keeps the previous pair
  writeFileSetAtomic(path.dirname(path.resolve(jsonPath)), [
    { name: path.basename(binPath), data: bin },
    { name: path.basename(jsonPath), data: stableStringify(file) },
  ]);
  return { json: jsonPath, bin: binPath };
}

/**
 * A save killed after its journal leaves the pair mixed (a new .bin beside the old .json) until the next write into
 * the folder: the loader completes the set first (or, with no journal, removes a dead writer's staged files). A
 * live writer's journal is left to it.
 */
function completePair(jsonPath: string): void {
  const dir = path.dirname(path.resolve(jsonPath));
  try {
    recoverFileSet(dir, { reader: true });
  } catch (e) {
    if (e instanceof RouterlabError) throw e;
    throw new RouterlabError(
      `a killed save left this model pair half-replaced and it cannot be completed here (${(e as Error).message})`,
      { file: path.join(dir, FILE_SET_JOURNAL) },
      "load it once from a writable copy of the folder, or save the model again",
    );
  }
}

/** Reads and verifies a model file (schema, sizes, checksums). Accepts the .json, the .bin or the base path. */
export function loadRouterState(p: string): RouterState {
  const jsonPath = `${modelBasePath(p)}.router.json`;
  completePair(jsonPath);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch (e) {
    throw new RouterlabError(`cannot read model file: ${(e as Error).message}`, { file: jsonPath });
  }
  const mf = parseWith(ModelFileSchema, raw, { file: jsonPath, jsonPath: "$" });
  const binPath = path.join(path.dirname(jsonPath), mf.bin.file);
  let bin: Buffer;
  try {
    bin = readFileSync(binPath);
  } catch (e) {
    throw new RouterlabError(`cannot read model tensors: ${(e as Error).message}`, { file: binPath });
  }
  if (bin.length !== mf.bin.bytes || sha256Hex(bin) !== mf.bin.sha256) {
    throw new RouterlabError(
      `tensor file does not match its index (size ${bin.length}, expected ${mf.bin.bytes}, or checksum differs)`,
      { file: binPath },
    );
  }
  const tensors: RouterState["tensors"] = {};
  mf.tensors.forEach((t, i) => {
    const bytes = bin.subarray(t.offset, t.offset + t.length * 4);
    const expected = t.shape.reduce((a, x) => a * x, 1);
    if (bytes.length !== t.length * 4 || expected !== t.length || sha256Hex(bytes) !== t.sha256) {
      throw new RouterlabError(`tensor '${t.name}' is inconsistent with its shape or checksum`, {
        file: jsonPath,
        path: `$.tensors[${i}]`,
      });
    }
    const data = fromLittleEndianBytes(bytes);
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new RouterlabError(
        `tensor '${t.name}' holds a non-finite value (${data[bad]}) at element ${bad}`,
        {
          file: binPath,
          path: `$.tensors[${i}]`,
          field: t.name,
        },
      );
    tensors[t.name] = { shape: t.shape, data };
  });
  return { kind: mf.kind, hyperparameters: mf.hyperparameters, meta: mf.meta, tensors };
}

/** The recorded embedding spec, or undefined when the model file has none; a malformed one is an error. */
export function embeddingSpecOf(state: RouterState, file = "model file"): EmbeddingSpec | undefined {
  if (state.meta.embedding === undefined) return undefined;
  return parseWith(EmbeddingSpecSchema, state.meta.embedding, {
    file,
    jsonPath: "$.meta.embedding",
    what: "invalid embedding spec",
  });
}

/**
 * Training rows kept in the model file (tensors `training.X`, `training.y` = indices into `meta.models`) for
 * exporters that must refit in another library (an SVM pickle is fitted by scikit-learn on the same data).
 */
export function withTrainingData(
  state: RouterState,
  X: EmbeddingMatrix,
  labels: ArrayLike<number>,
): RouterState {
  return {
    ...state,
    tensors: {
      ...state.tensors,
      "training.X": { shape: [X.rows, X.dim], data: X.data.slice(0, X.rows * X.dim) },
      "training.y": { shape: [labels.length], data: Float32Array.from(labels) },
    },
  };
}

export function trainingDataOf(state: RouterState): { X: EmbeddingMatrix; labels: string[] } | undefined {
  const X = state.tensors["training.X"];
  const y = state.tensors["training.y"];
  if (!X || !y) return undefined;
  const models = z.array(z.string()).safeParse(state.meta.models);
  if (!models.success || X.shape[0] !== y.data.length) {
    throw new RouterlabError("training data in the model file is inconsistent with meta.models", {
      file: "model file",
      field: "training.y",
    });
  }
  const labels = Array.from(y.data, (v) => models.data[v]);
  if (labels.some((l) => l === undefined))
    throw new RouterlabError("training label index out of range", {
      file: "model file",
      field: "training.y",
    });
  return { X: { data: X.data, rows: X.shape[0]!, dim: X.shape[1]! }, labels: labels as string[] };
}
