/**
 * The decoders behind the load-and-re-score check (lib/export/rescore.ts), one per file layout, each deciding the
 * probes with the gateway-exact scorer. `.pt` (MLP/MF): the STORED zip is parsed entry by entry with CRC-32 and size
 * checks, the tensors the companion JSON describes are rebuilt from the storages and must re-encode to the very same
 * bytes (routerlab's `.pt` files are canonical), then scored with the contract's formulas; ELO JSON: parsed and
 * validated (non-empty, finite numbers); KNN/SVM pickles: loaded by
 * the gateway's own loader in Python (`pickle.load` + `predict`), since pickles cannot be read without it.
 * Export formats (lib/export/formats) name theirs as `rescore` (the centroid files' decoder is in centroid-npy.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic-write";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { rowOf } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { BundleFile } from "./artifacts";
import { activationOf, eloJson, mfStateDict, mlpStateDict } from "./artifacts";
import { gatewayDecisions } from "./gateway-check";
import type { LinearLayer, MfWeights, MlpWeights } from "./gateway-scoring";
import { eloDecide, mfDecide, mfScores, mlpDecide, mlpLogits } from "./gateway-scoring";
import { crc32, writeTorchStateDict } from "./torch-zip";
import { parseWith } from "../util/zod-error";

function servedOf(files: readonly BundleFile[]): BundleFile {
  const served = files.find((f) => f.served);
  if (!served) throw new RouterlabError("bundle has no served file");
  return served;
}

/** The `.pt` zip's entries, every local header checked (STORED, sizes, CRC-32); throws on anything else. */
function zipEntries(b: Buffer, file: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  const bad = (msg: string): never => {
    throw new RouterlabError(`not a loadable torch file: ${msg}`, { file });
  };
  while (off + 4 <= b.length && b.readUInt32LE(off) === 0x04034b50) {
    if (off + 30 > b.length) bad("truncated local header");
    const method = b.readUInt16LE(off + 8);
    const crc = b.readUInt32LE(off + 14);
    const size = b.readUInt32LE(off + 18);
    const nameLen = b.readUInt16LE(off + 26);
    const extraLen = b.readUInt16LE(off + 28);
    const start = off + 30 + nameLen + extraLen;
    if (method !== 0) bad(`entry at ${off} is not STORED`);
    if (start + size > b.length) bad(`entry at ${off} is truncated`);
    const name = b.toString("utf8", off + 30, off + 30 + nameLen);
    const data = b.subarray(start, start + size);
    if (crc32(data) >>> 0 !== crc >>> 0) bad(`CRC-32 mismatch in ${name}`);
    out.set(name, data);
    off = start + size;
  }
  if (off + 4 > b.length || b.readUInt32LE(off) !== 0x02014b50) bad("no central directory after the entries");
  if (out.size === 0) bad("no entries");
  return out;
}

function storages(entries: Map<string, Buffer>, file: string): Float32Array[] {
  const names = [...entries.keys()];
  const folder = names[0]!.split("/")[0]!;
  const out: Float32Array[] = [];
  for (let i = 0; entries.has(`${folder}/data/${i}`); i++) {
    const d = entries.get(`${folder}/data/${i}`)!;
    if (d.length % 4 !== 0) throw new RouterlabError(`storage ${i} is not whole float32 values`, { file });
    out.push(Float32Array.from({ length: d.length / 4 }, (_, k) => d.readFloatLE(k * 4)));
  }
  if (!entries.has(`${folder}/data.pkl`)) throw new RouterlabError("no data.pkl", { file });
  return out;
}

const IdxToModel = z.record(z.string(), z.string());
const MlpCompanion = z.object({
  input_dim: z.int(),
  hidden_layer_sizes: z.array(z.int()),
  num_classes: z.int(),
  activation: z.string(),
  idx_to_model: IdxToModel,
});
const MfCompanion = z.object({
  latent_dim: z.int(),
  text_dim: z.int(),
  num_models: z.int(),
  idx_to_model: IdxToModel,
});

function parseJson<S extends z.ZodType>(bytes: Buffer, schema: S, file: string): z.infer<S> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new RouterlabError(`not JSON: ${(e as Error).message}`, { file });
  }
  return parseWith(schema, v, { file, jsonPath: "$" });
}

function labelsOf(m: Record<string, string>, n: number, file: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const l = m[String(i)];
    if (l === undefined) throw new RouterlabError(`idx_to_model has no label ${i}`, { file });
    return l;
  });
}

/** What a torch layout decodes to: the tensors re-encoded, and the decision plus the raw scores behind it. */
export interface TorchDecoded {
  bytesAgain: Buffer;
  decide: (e: Float32Array) => string;
}

/** One torch layout's decoder (MLP §6.2, MF §6.3): the format entry names its own. */
export type TorchDecoder = (companion: BundleFile, st: Float32Array[]) => TorchDecoded;

export const decodeMlpTorch: TorchDecoder = (companion, st) => {
  const c = parseJson(companion.bytes, MlpCompanion, companion.name);
  const widths = [c.input_dim, ...c.hidden_layer_sizes, c.num_classes];
  if (st.length !== 2 * (widths.length - 1))
    throw new RouterlabError(`${st.length} tensors, the companion describes ${2 * (widths.length - 1)}`);
  const layers: LinearLayer[] = widths.slice(0, -1).map((inDim, i) => ({
    inDim,
    outDim: widths[i + 1]!,
    weight: st[2 * i]!,
    bias: st[2 * i + 1]!,
  }));
  const m: MlpWeights = {
    inputDim: c.input_dim,
    hiddenLayerSizes: c.hidden_layer_sizes,
    activation: activationOf(c.activation),
    layers,
    labels: labelsOf(c.idx_to_model, c.num_classes, companion.name),
  };
  return {
    bytesAgain: writeTorchStateDict(mlpStateDict(m)),
    decide: (e) => `${mlpDecide(m, e)} ${Array.from(mlpLogits(m, e)).join(" ")}`,
  };
};

export const decodeMfTorch: TorchDecoder = (companion, st) => {
  const c = parseJson(companion.bytes, MfCompanion, companion.name);
  if (st.length !== 3) throw new RouterlabError(`${st.length} tensors, MF has 3`);
  const m: MfWeights = {
    latentDim: c.latent_dim,
    textDim: c.text_dim,
    P: st[0]!,
    textProj: st[1]!,
    classifier: st[2]!,
    labels: labelsOf(c.idx_to_model, c.num_models, companion.name),
  };
  return {
    bytesAgain: writeTorchStateDict(mfStateDict(m)),
    decide: (e) => `${mfDecide(m, e)} ${Array.from(mfScores(m, e)).join(" ")}`,
  };
};

/** Decodes a `.pt` + companion bundle with its layout's decoder and decides `X`: the decision, then the scores. */
export function decideTorch(
  decode: TorchDecoder,
  files: readonly BundleFile[],
  X: EmbeddingMatrix,
): string[] {
  const served = servedOf(files);
  const companionName = served.name.replace(/\.[^.]+$/, "") + ".json";
  const companion = files.find((f) => f.name === companionName);
  if (!companion) throw new RouterlabError(`no companion ${companionName}`, { file: served.name });
  const st = storages(zipEntries(served.bytes, served.name), served.name);
  // The decision and the raw scores behind it, so that another router with the same decisions still differs.
  let decoded: TorchDecoded;
  try {
    decoded = decode(companion, st);
  } catch (e) {
    throw new RouterlabError(`cannot load: ${(e as Error).message}`, { file: served.name });
  }
  if (!decoded.bytesAgain.equals(served.bytes))
    throw new RouterlabError(
      "the tensors do not re-encode to the same file (not the state_dict its companion describes)",
      { file: served.name },
    );
  return Array.from({ length: X.rows }, (_, i) => decoded.decide(rowOf(X, i)));
}

/** ELO JSON: the winner, then the digest of the canonical ratings. */
export function decideEloFiles(files: readonly BundleFile[], X: EmbeddingMatrix): string[] {
  const served = servedOf(files);
  const v = parseJson(served.bytes, z.record(z.string(), z.number()), served.name);
  const ratings = Object.entries(v);
  const canonical = eloJson(ratings); // non-empty, unique, finite
  return new Array<string>(X.rows).fill(`${eloDecide(ratings)} ${sha256Hex(canonical)}`);
}

/** A scikit-learn pickle, loaded and decided by the gateway's own loader in Python. */
export function decidePickle(kind: string, files: readonly BundleFile[], X: EmbeddingMatrix): string[] {
  const served = servedOf(files);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-rescore-"));
  try {
    const p = path.join(tmp, served.name);
    writeFileAtomic(p, served.bytes);
    return gatewayDecisions(kind, p, X);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
