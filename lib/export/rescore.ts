/**
 * Load-and-re-score before publishing (issue 17 item 5): a manifest whose hashes match proves nothing about a file
 * that was truncated and re-hashed. Before promote, rollback, or a publish into the gateway's folder, every bundle is
 * loaded with its format's decoder and decided on a fixed set of seeded probe embeddings with the gateway-exact
 * scorer; the digest of those decisions must equal the one `routerlab export` recorded in the manifest metadata
 * (`probe_check`).
 *
 * Decoders: `.pt` (MLP/MF): the STORED zip is parsed entry by entry with CRC-32 and size checks, the tensors the
 * companion JSON describes are rebuilt from the storages and must re-encode to the very same bytes (routerlab's
 * `.pt` files are canonical), then scored with the contract's formulas; ELO JSON: parsed and validated (non-empty,
 * finite numbers); centroids: `.npy` parsed, shape and norm checked; KNN/SVM pickles: loaded by the gateway's own
 * loader in Python (`pickle.load` + `predict`), since pickles cannot be read without it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { rowOf } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import { createRng } from "../util/random";
import type { BundleFile, ExportKind } from "./artifacts";
import { activationOf, eloJson, GATEWAY_DIM, mfStateDict, mlpStateDict } from "./artifacts";
import { MANIFEST_NAME } from "./bundle";
import { centroidFilesDecide } from "./formats/centroid-npy";
import { gatewayDecisions } from "./gateway-check";
import type { LinearLayer, MfWeights, MlpWeights } from "./gateway-scoring";
import { eloDecide, mfDecide, mfScores, mlpDecide, mlpLogits } from "./gateway-scoring";
import { parseManifest } from "./manifest";
import { crc32, writeTorchStateDict } from "./torch-zip";

export const PROBE_SEED = 20260217;
export const PROBE_ROWS = 64;

/** Seeded unit-norm probe embeddings (the same on every machine). */
export function probeMatrix(rows = PROBE_ROWS, dim = GATEWAY_DIM, seed = PROBE_SEED): EmbeddingMatrix {
  const rng = createRng(seed);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let nn = 0;
    for (let j = 0; j < dim; j++) nn += (data[r * dim + j] = rng.normal()) ** 2;
    const n = Math.sqrt(nn);
    for (let j = 0; j < dim; j++) data[r * dim + j] = data[r * dim + j]! / n;
  }
  return { data, rows, dim };
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
  const r = schema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new RouterlabError(issue.message, { file, path: "$." + issue.path.map(String).join(".") });
  }
  return r.data;
}

function labelsOf(m: Record<string, string>, n: number, file: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const l = m[String(i)];
    if (l === undefined) throw new RouterlabError(`idx_to_model has no label ${i}`, { file });
    return l;
  });
}

function decideTorch(kind: "mlp" | "mf", files: readonly BundleFile[], X: EmbeddingMatrix): string[] {
  const served = files.find((f) => f.served)!;
  const companionName = served.name.replace(/\.[^.]+$/, "") + ".json";
  const companion = files.find((f) => f.name === companionName);
  if (!companion) throw new RouterlabError(`no companion ${companionName}`, { file: served.name });
  const st = storages(zipEntries(served.bytes, served.name), served.name);
  let bytesAgain: Buffer;
  // The decision and the raw scores behind it, so that another router with the same decisions still differs.
  let decide: (e: Float32Array) => string;
  try {
    if (kind === "mlp") {
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
      bytesAgain = writeTorchStateDict(mlpStateDict(m));
      decide = (e) => `${mlpDecide(m, e)} ${Array.from(mlpLogits(m, e)).join(" ")}`;
    } else {
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
      bytesAgain = writeTorchStateDict(mfStateDict(m));
      decide = (e) => `${mfDecide(m, e)} ${Array.from(mfScores(m, e)).join(" ")}`;
    }
  } catch (e) {
    throw new RouterlabError(`cannot load: ${(e as Error).message}`, { file: served.name });
  }
  if (!bytesAgain.equals(served.bytes))
    throw new RouterlabError(
      "the tensors do not re-encode to the same file (not the state_dict its companion describes)",
      { file: served.name },
    );
  return Array.from({ length: X.rows }, (_, i) => decide(rowOf(X, i)));
}

/**
 * Loads a bundle with its format's decoder and decides `X` with the gateway-exact scorer: one line per row, the
 * decision followed (MLP/MF) by the scores behind it; ELO and centroid lines carry the decoded parameters' digest.
 */
export function rescoreBundle(kind: ExportKind, files: readonly BundleFile[], X = probeMatrix()): string[] {
  const served = files.find((f) => f.served);
  if (!served) throw new RouterlabError("bundle has no served file");
  switch (kind) {
    case "mlp":
    case "mf":
      return decideTorch(kind, files, X);
    case "elo": {
      const v = parseJson(served.bytes, z.record(z.string(), z.number()), served.name);
      const ratings = Object.entries(v);
      const canonical = eloJson(ratings); // non-empty, unique, finite
      return new Array<string>(X.rows).fill(`${eloDecide(ratings)} ${sha256Hex(canonical)}`);
    }
    case "centroid": {
      const digest = sha256Hex(files.map((f) => `${f.name} ${sha256Hex(f.bytes)}`).join("\n"));
      return centroidFilesDecide(files, X).map((c) => `${c ? "complex" : "simple"} ${digest}`);
    }
    case "knn":
    case "svm": {
      const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-rescore-"));
      try {
        const p = path.join(tmp, served.name);
        writeFileSync(p, served.bytes);
        return gatewayDecisions(kind, p, X);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  }
}

export function decisionsDigest(decisions: readonly string[]): string {
  return sha256Hex(decisions.join("\n"));
}

/** What export records: the digest of the gateway-exact decisions on the seeded probes. */
export function probeCheck(
  kind: ExportKind,
  files: readonly BundleFile[],
): { seed: number; rows: number; sha256: string } {
  return { seed: PROBE_SEED, rows: PROBE_ROWS, sha256: decisionsDigest(rescoreBundle(kind, files)) };
}

const ProbeCheckSchema = z.object({ seed: z.int(), rows: z.int().positive(), sha256: z.string() });

/**
 * Refuses to publish a bundle whose files do not load, or whose re-scored probe decisions differ from those recorded
 * at export. Bundles exported before `probe_check` existed are still loaded and scored.
 */
export function assertRescores(files: readonly BundleFile[], manifestBytes: Buffer, where: string): void {
  const m = parseManifest(manifestBytes.toString("utf8"), `${where}/${MANIFEST_NAME}`);
  const tag = m.artifacts[0]?.tags?.[0];
  const kinds: readonly string[] = ["mlp", "mf", "elo", "knn", "svm", "centroid"];
  if (!tag || !kinds.includes(tag))
    throw new RouterlabError(`manifest does not name the router type (tag '${tag}')`, {
      file: `${where}/${MANIFEST_NAME}`,
    });
  const recorded = ProbeCheckSchema.safeParse(
    (m.metadata as Record<string, unknown> | undefined)?.probe_check,
  );
  const X = recorded.success
    ? probeMatrix(recorded.data.rows, GATEWAY_DIM, recorded.data.seed)
    : probeMatrix();
  let decisions: string[];
  try {
    decisions = rescoreBundle(tag as ExportKind, files, X);
  } catch (e) {
    throw new RouterlabError(
      `refusing to publish ${where}: its ${tag} artifact does not load: ${(e as Error).message}`,
    );
  }
  if (recorded.success && decisionsDigest(decisions) !== recorded.data.sha256)
    throw new RouterlabError(
      `refusing to publish ${where}: its ${tag} artifact, re-scored on the export's probes, decides differently than when it was exported`,
    );
}
