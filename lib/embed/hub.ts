import { createHash, randomBytes } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { sha256File } from "../util/hash";
import { cacheDir } from "../util/paths";
import { provisionHint } from "./model";
import { writeFileAtomic } from "../util/atomic-write";
import { env } from "../util/env";

/**
 * Opt-in download of a sentence-transformers model from the Hugging Face hub (or a mirror speaking its
 * URL layout, `<endpoint>/<id>/resolve/<revision>/<file>`) into a local model directory that the
 * loader then uses like any other. Off unless `allowRemote` or ROUTERLAB_ALLOW_REMOTE_MODELS=1.
 */
export const DEFAULT_HUB_ENDPOINT = "https://huggingface.co";

/** Remote file -> local name. The hub's `onnx/model.onnx` is a plain BERT export (pooling done in JS). */
export const HUB_FILES: readonly { remote: string; local: string }[] = [
  { remote: "onnx/model.onnx", local: "model.onnx" },
  { remote: "tokenizer.json", local: "tokenizer.json" },
  { remote: "tokenizer_config.json", local: "tokenizer_config.json" },
  { remote: "config.json", local: "config.json" },
];

const HubFile = z.object({
  url: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int(),
  /** The sha256 the server announced (X-Linked-Etag / ETag), when it announced one. */
  announcedSha256: z.string().nullable(),
});
/** hub.json, written last into a downloaded model directory. */
export const HubManifest = z.object({
  modelId: z.string(),
  revision: z.string(),
  endpoint: z.string(),
  downloadedAt: z.string(),
  files: z.record(z.string(), HubFile),
});
export type HubManifest = z.infer<typeof HubManifest>;

export interface HubOptions {
  modelId: string;
  revision?: string;
  /** Opt-in to network access; default: $ROUTERLAB_ALLOW_REMOTE_MODELS === "1". */
  allowRemote?: boolean;
  /** Default: $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Parent of the per-model directories; default <cache root>/models/hub. */
  dir?: string;
  /** Per-file timeout; default $ROUTERLAB_HUB_TIMEOUT_MS or 10 minutes. */
  timeoutMs?: number;
}

export function remoteAllowed(explicit?: boolean): boolean {
  return explicit ?? env().ROUTERLAB_ALLOW_REMOTE_MODELS === true;
}

export function hubEndpoint(explicit?: string): string {
  return (explicit ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, "");
}

/** Local directory a hub model is downloaded into. */
export function hubModelDir(modelId: string, revision: string, root?: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, "--");
  return path.join(root ?? path.join(cacheDir(), "models", "hub"), safe(modelId), safe(revision));
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/** A sha256 hex digest from an ETag-style header value (hub LFS files announce their sha256). */
function announcedSha(headers: Headers): string | null {
  for (const h of ["x-linked-etag", "etag"]) {
    const v = headers.get(h)?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
    if (v && /^[0-9a-f]{64}$/.test(v)) return v;
  }
  return null;
}

function causeOf(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message ?? String(e)} (${cause})` : (err.message ?? String(e));
}

async function download(url: string, dest: string, timeoutMs: number): Promise<z.infer<typeof HubFile>> {
  const hint =
    "check the network and the endpoint (HF_ENDPOINT), or provision the model locally (routerlab embed-provision)";
  let res: Response;
  try {
    res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new RouterlabError(`cannot download ${url}: network error: ${causeOf(e)}`, { file: url }, hint);
  }
  if (!res.ok || !res.body) {
    throw new RouterlabError(
      `cannot download ${url}: HTTP ${res.status} ${res.statusText}` +
        (res.status === 401 || res.status === 404
          ? " (no such model/revision/file, or a gated repository)"
          : ""),
      { file: url },
      hint,
    );
  }
  const announced = announcedSha(res.headers);
  const tmp = `${dest}.${process.pid}.${randomBytes(4).toString("hex")}.part`;
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    body.on("data", (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    await pipeline(body, createWriteStream(tmp));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new RouterlabError(`cannot download ${url}: transfer failed: ${causeOf(e)}`, { file: url }, hint);
  }
  const sha256 = hash.digest("hex");
  if (announced !== null && announced !== sha256) {
    rmSync(tmp, { force: true });
    throw new RouterlabError(
      `checksum mismatch downloading ${url}: the server announced sha256 ${announced}, the ${bytes} bytes received hash to ${sha256}`,
      { file: url },
      "retry; if it persists the mirror serves a corrupt file",
    );
  }
  renameSync(tmp, dest);
  return { url, sha256, bytes, announcedSha256: announced };
}

/** Verifies a downloaded directory against its hub.json; returns null if it is not complete and intact. */
async function verifyDownloaded(dir: string): Promise<HubManifest | null> {
  const file = path.join(dir, "hub.json");
  if (!existsSync(file)) return null;
  let manifest: HubManifest;
  try {
    manifest = HubManifest.parse(JSON.parse(readFileSync(file, "utf8")));
  } catch {
    return null;
  }
  for (const { local } of HUB_FILES) {
    const entry = manifest.files[local];
    const p = path.join(dir, local);
    if (!entry || !existsSync(p) || statSync(p).size !== entry.bytes) return null;
    if ((await sha256File(p)) !== entry.sha256) return null;
  }
  return manifest;
}

/**
 * Returns a local directory holding `modelId` (model.onnx, tokenizer.json, tokenizer_config.json,
 * config.json, hub.json with the sha256 of each). A complete, intact earlier download is reused without
 * the network; otherwise the files are fetched only if remote loading is allowed.
 */
export async function ensureHubModel(opts: HubOptions): Promise<{ dir: string; manifest: HubManifest }> {
  const revision = opts.revision ?? "main";
  if (!MODEL_ID.test(opts.modelId)) {
    throw new RouterlabError(`not a hub model id: ${JSON.stringify(opts.modelId)} (expected owner/name)`, {
      file: "model",
    });
  }
  const dir = hubModelDir(opts.modelId, revision, opts.dir);
  const cached = await verifyDownloaded(dir);
  if (cached) return { dir, manifest: cached };
  if (!remoteAllowed(opts.allowRemote)) {
    throw new RouterlabError(
      `embedding model ${opts.modelId} is not available locally (${dir}) and remote model loading is disabled`,
      { file: dir },
      `set ROUTERLAB_ALLOW_REMOTE_MODELS=1 (or allowRemote: true) to download it from the hub, or use the default ` +
        `local model and ${provisionHint(path.join(cacheDir(), "models", "all-MiniLM-L6-v2"))}`,
    );
  }
  const endpoint = hubEndpoint(opts.endpoint);
  const timeoutMs = opts.timeoutMs ?? env().ROUTERLAB_HUB_TIMEOUT_MS ?? 10 * 60_000;
  mkdirSync(dir, { recursive: true });
  rmSync(path.join(dir, "hub.json"), { force: true });
  const files: Record<string, z.infer<typeof HubFile>> = {};
  for (const f of HUB_FILES) {
    const url = `${endpoint}/${opts.modelId}/resolve/${encodeURIComponent(revision)}/${f.remote}`;
    process.stderr.write(`[embed] downloading ${url}\n`);
    files[f.local] = await download(url, path.join(dir, f.local), timeoutMs);
  }
  const manifest: HubManifest = {
    modelId: opts.modelId,
    revision,
    endpoint,
    downloadedAt: new Date().toISOString(),
    files,
  };
  // hub.json goes last: its presence marks a complete download
  writeFileAtomic(path.join(dir, "hub.json"), JSON.stringify(manifest, null, 2) + "\n");
  return { dir, manifest };
}
