import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import { RouterlabError, errorMessage } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { BundleFile } from "./artifacts";
import type { VerifyOptions, VerifyReport } from "./bundle";
import { MANIFEST_NAME, verifyBundleDir } from "./bundle";
import type { VerifyKey } from "./manifest";
import { parseManifest } from "./manifest";
import type { PublishResult } from "./publish-dir";
import { publishToDir } from "./publish-dir";
import { assertRescores } from "./rescore";
import { safeJoin, writeFileAtomic, writePoint } from "../util/atomic-write";
import { env } from "../util/env";
import { parseWith } from "../util/zod-error";

/**
 * Promotion through S3/MinIO (gateway-contract.md §11). Layout per router name, under an optional prefix:
 *   models/<router>/<version>/            immutable: served file, companion JSON, manifest.json, routerlab/provenance.json
 *   models/<router>/current/              a copy of the promoted version (the gateway's LLMROUTER_MODEL_S3_KEY)
 *   models/<router>/CURRENT.pointer       {version, previous, ...}: changed only by a conditional write
 *   models/<router>/CURRENT.copied        {version, served_sha256}: written once current/ holds that version whole
 *   models/<router>/audit/<time>-<id>     one object per promotion or rollback (append-only)
 */

export interface Store {
  s3: S3Client;
  bucket: string;
  prefix: string;
  /** Test/fault hook, called before every S3 write or delete with its key (a throw stops the run there). */
  beforeWrite?: (key: string) => void;
}

export function storeFromEnv(bucket: string, prefix = "", env: NodeJS.ProcessEnv = process.env): Store {
  const endpoint = env.ROUTERLAB_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const s3 = new S3Client({
    region: env.AWS_REGION ?? "us-east-1",
    forcePathStyle: true,
    maxAttempts: 2,
    ...(endpoint ? { endpoint } : {}),
  });
  return { s3, bucket, prefix: prefix && !prefix.endsWith("/") ? prefix + "/" : prefix };
}

export const PointerSchema = z.object({
  router: z.string(),
  version: z.string(),
  previous: z.string().nullable(),
  served: z.string(),
  served_sha256: z.string(),
  changed_at: z.string(),
  by: z.string(),
  why: z.string(),
  action: z.enum(["promote", "rollback"]),
  mlflow_version: z.string().nullable().optional(),
  previous_mlflow_version: z.string().nullable().optional(),
});
export type Pointer = z.infer<typeof PointerSchema>;

export const AuditEventSchema = z.object({
  action: z.enum(["promote", "rollback"]),
  router: z.string(),
  who: z.string(),
  when: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  why: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export class ConcurrentPromotionError extends RouterlabError {
  constructor(router: string) {
    super(
      `another promotion or rollback of '${router}' changed the current pointer first; nothing was changed`,
      undefined,
      "re-read the current version (routerlab verify --s3 ...) and retry if still wanted",
    );
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
function checkName(what: string, v: string): void {
  if (!NAME.test(v)) throw new RouterlabError(`${what} '${v}' must match ${NAME.source}`);
}

const key = (st: Store, router: string, ...rest: string[]) =>
  `${st.prefix}models/${router}/${rest.join("/")}`;

function status(e: unknown): number | undefined {
  return e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
}

async function getBytes(st: Store, k: string): Promise<{ bytes: Buffer; etag: string } | undefined> {
  try {
    const r = await st.s3.send(new GetObjectCommand({ Bucket: st.bucket, Key: k }));
    const bytes = Buffer.from(await r.Body!.transformToByteArray());
    return { bytes, etag: r.ETag ?? "" };
  } catch (e) {
    if (status(e) === 404 || (e as { name?: string }).name === "NoSuchKey") return undefined;
    throw new RouterlabError(`S3 read of s3://${st.bucket}/${k} failed: ${errorMessage(e)}`);
  }
}

async function put(
  st: Store,
  k: string,
  body: Uint8Array,
  cond?: { ifMatch?: string; ifNoneMatch?: "*" },
): Promise<void> {
  writePoint(`s3://${st.bucket}/${k}`);
  st.beforeWrite?.(k);
  await st.s3.send(
    new PutObjectCommand({
      Bucket: st.bucket,
      Key: k,
      Body: body,
      ...(cond?.ifMatch ? { IfMatch: cond.ifMatch } : {}),
      ...(cond?.ifNoneMatch ? { IfNoneMatch: cond.ifNoneMatch } : {}),
    }),
  );
}

export async function readPointer(
  st: Store,
  router: string,
): Promise<{ pointer: Pointer; etag: string } | undefined> {
  const k = key(st, router, "CURRENT.pointer");
  const got = await getBytes(st, k);
  if (!got) return undefined;
  const pointer = parseWith(PointerSchema, JSON.parse(got.bytes.toString("utf8")), {
    file: `s3://${st.bucket}/${k}`,
    jsonPath: "$",
  });
  return { pointer, etag: got.etag };
}

async function writePointer(st: Store, router: string, p: Pointer, etag: string | undefined): Promise<void> {
  try {
    await put(
      st,
      key(st, router, "CURRENT.pointer"),
      Buffer.from(JSON.stringify(p, null, 2)),
      etag ? { ifMatch: etag } : { ifNoneMatch: "*" },
    );
  } catch (e) {
    if (status(e) === 412 || status(e) === 409) throw new ConcurrentPromotionError(router);
    throw new RouterlabError(
      `S3 write of the current pointer failed; the pointer is unchanged: ${errorMessage(e)}`,
    );
  }
}

/** Reads a local bundle directory (as written by `routerlab export`): manifest order, served file first. */
export function readBundle(dir: string): { files: BundleFile[]; manifest: Buffer } {
  const manifestBytes = readFileSync(path.join(dir, MANIFEST_NAME));
  const m = parseManifest(manifestBytes.toString("utf8"), path.join(dir, MANIFEST_NAME));
  const servedIdx = Math.max(
    0,
    m.artifacts.findIndex((a) => a.tags?.includes("served")),
  );
  const files = m.artifacts.map((a, i) => ({
    name: path.basename(a.path),
    bytes: readFileSync(path.join(dir, path.basename(a.path))),
    served: i === servedIdx,
  }));
  return { files, manifest: manifestBytes };
}

async function listVersionFiles(st: Store, router: string, version: string): Promise<string[]> {
  const pre = key(st, router, version) + "/";
  const r = await st.s3.send(new ListObjectsV2Command({ Bucket: st.bucket, Prefix: pre }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(pre.length));
}

async function copyToCurrent(
  st: Store,
  router: string,
  files: readonly BundleFile[],
  manifest: Buffer,
): Promise<void> {
  await put(st, key(st, router, "current", MANIFEST_NAME), manifest);
  for (const f of files.filter((x) => !x.served)) await put(st, key(st, router, "current", f.name), f.bytes);
  for (const f of files.filter((x) => x.served)) await put(st, key(st, router, "current", f.name), f.bytes);
  // current/ holds exactly this bundle: files of the bundle it replaces (another type, another stem) are removed,
  // or a startup download of the prefix would copy them next to the new ones.
  const keep = new Set([MANIFEST_NAME, ...files.map((f) => f.name)]);
  for (const name of await listVersionFiles(st, router, "current"))
    if (!keep.has(name)) {
      const k = key(st, router, "current", name);
      writePoint(`s3://${st.bucket}/${k} (delete)`);
      st.beforeWrite?.(k);
      await st.s3.send(new DeleteObjectCommand({ Bucket: st.bucket, Key: k }));
    }
}

/** A version's bundle from its immutable folder, every artifact checked against the manifest's hash. */
async function loadVersion(
  st: Store,
  router: string,
  version: string,
): Promise<{ files: BundleFile[]; manifest: Buffer }> {
  const mKey = key(st, router, version, MANIFEST_NAME);
  const got = await getBytes(st, mKey);
  if (!got) throw new RouterlabError(`version ${version} of '${router}' does not exist`);
  const m = parseManifest(got.bytes.toString("utf8"), `s3://${st.bucket}/${mKey}`);
  const servedIdx = Math.max(
    0,
    m.artifacts.findIndex((a) => a.tags?.includes("served")),
  );
  const files: BundleFile[] = [];
  for (const [i, a] of m.artifacts.entries()) {
    const f = await getBytes(st, key(st, router, version, path.basename(a.path)));
    if (!f || sha256Hex(f.bytes) !== a.sha256)
      throw new RouterlabError(
        `version ${version}: ${a.path} is missing or does not match its manifest hash`,
      );
    files.push({ name: path.basename(a.path), bytes: f.bytes, served: i === servedIdx });
  }
  return { files, manifest: got.bytes };
}

const CopiedSchema = z.object({ version: z.string(), served_sha256: z.string() });

/**
 * Makes `current/` a whole copy of the version the pointer names. S3 has no multi-object rename and the gateway
 * downloads the `current/` prefix directly, so the pointer is the journal: it is written first, `CURRENT.copied`
 * last, and until they agree every promote and rollback first copies the pointer's
 * version into `current/` again. A copy that lost a race (the marker changed under it) starts over. Returns whether
 * `current/` was rewritten.
 */
export async function completeCurrent(st: Store, router: string): Promise<boolean> {
  const markerKey = key(st, router, "CURRENT.copied");
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await readPointer(st, router);
    if (!cur) return false;
    const marker = await getBytes(st, markerKey);
    if (marker) {
      const done = parseWith(CopiedSchema, JSON.parse(marker.bytes.toString("utf8")), {
        file: `s3://${st.bucket}/${markerKey}`,
        jsonPath: "$",
      });
      if (done.version === cur.pointer.version && done.served_sha256 === cur.pointer.served_sha256)
        return attempt > 0;
    }
    const { files, manifest } = await loadVersion(st, router, cur.pointer.version);
    await copyToCurrent(st, router, files, manifest);
    const body = Buffer.from(
      JSON.stringify({ version: cur.pointer.version, served_sha256: cur.pointer.served_sha256 }, null, 2),
    );
    try {
      await put(st, markerKey, body, marker ? { ifMatch: marker.etag } : { ifNoneMatch: "*" });
    } catch (e) {
      if (status(e) !== 412 && status(e) !== 409)
        throw new RouterlabError(
          `S3 write of s3://${st.bucket}/${markerKey} failed; the next promote or rollback copies version ` +
            `${cur.pointer.version} into current/ again: ${errorMessage(e)}`,
        );
    }
  }
  throw new ConcurrentPromotionError(router);
}

/**
 * `routerlab verify --s3`: checks `models/<router>/current/` as the gateway downloads it (manifest hashes, entry
 * matching, signature) and that it holds the version the pointer names. A `current/` left torn by a killed promote
 * or rollback is first completed to the pointer's version, as every promote and rollback does first: verifying a
 * torn copy would only report what the next promote repairs anyway, while the gateway may download it meanwhile.
 * That completion is verify's only write, and it happens only when `current/` and `CURRENT.copied` disagree. A
 * problem is a located error naming `current/manifest.json` in the bucket.
 */
export async function verifyCurrent(
  st: Store,
  router: string,
  opts: VerifyOptions = {},
): Promise<{ version: string; completed: boolean; checked: string[]; signature: VerifyReport["signature"] }> {
  checkName("router name", router);
  const completed = await completeCurrent(st, router);
  const cur = await readPointer(st, router);
  if (!cur)
    throw new RouterlabError(`no router '${router}' is promoted here (no current pointer)`, {
      file: `s3://${st.bucket}/${key(st, router, "CURRENT.pointer")}`,
    });
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-verify-s3-"));
  try {
    await downloadBundle(st, router, "current", dir);
    const report = verifyBundleDir(dir, opts);
    const problems = report.problems.map((p) =>
      p.replaceAll(dir, `s3://${st.bucket}/${key(st, router, "current")}`),
    );
    if (report.ok && !servedMatches(dir, cur.pointer.served_sha256))
      problems.push(
        `current/${cur.pointer.served} is not the served file of version ${cur.pointer.version} (the pointer's)`,
      );
    if (problems.length > 0)
      throw new RouterlabError(`verification failed:\n  ${problems.join("\n  ")}`, {
        file: `s3://${st.bucket}/${key(st, router, "current", MANIFEST_NAME)}`,
      });
    return { version: cur.pointer.version, completed, checked: report.checked, signature: report.signature };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function appendAudit(st: Store, ev: AuditEvent): Promise<string> {
  const k = key(
    st,
    ev.router,
    "audit",
    `${ev.when.replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.json`,
  );
  await put(st, k, Buffer.from(JSON.stringify(ev, null, 2)), { ifNoneMatch: "*" });
  return k;
}

export async function readAudit(st: Store, router: string): Promise<AuditEvent[]> {
  const pre = key(st, router, "audit") + "/";
  const out: AuditEvent[] = [];
  let token: string | undefined;
  do {
    const r = await st.s3.send(
      new ListObjectsV2Command({ Bucket: st.bucket, Prefix: pre, ContinuationToken: token }),
    );
    for (const o of r.Contents ?? []) {
      const got = await getBytes(st, o.Key!);
      if (got) out.push(AuditEventSchema.parse(JSON.parse(got.bytes.toString("utf8"))));
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => a.when.localeCompare(b.when));
}

/** Every object under `models/<router>/` (relative keys, sorted), e.g. to show the published layout. */
export async function listRouterObjects(
  st: Store,
  router: string,
): Promise<{ key: string; bytes: number }[]> {
  const pre = key(st, router);
  const out: { key: string; bytes: number }[] = [];
  let token: string | undefined;
  do {
    const r = await st.s3.send(
      new ListObjectsV2Command({ Bucket: st.bucket, Prefix: pre, ContinuationToken: token }),
    );
    for (const o of r.Contents ?? []) out.push({ key: o.Key!.slice(pre.length), bytes: o.Size ?? 0 });
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort((x, y) => x.key.localeCompare(y.key));
}

/** One object under `models/<router>/` (e.g. `<version>/routerlab/provenance.json`), or undefined. */
export async function readRouterObject(st: Store, router: string, rel: string): Promise<Buffer | undefined> {
  return (await getBytes(st, key(st, router, rel)))?.bytes;
}

/** MLflow registry hooks: registration with alias `champion` (old champion becomes `previous`) and audit tags. */
export interface Registry {
  register(modelName: string, source: string, runId: string | undefined): Promise<string>;
  setAliases(modelName: string, champion: string, previous: string | null): Promise<void>;
  tag(modelName: string, version: string, tags: Record<string, string>): Promise<void>;
  findVersionBySource(modelName: string, source: string): Promise<string | null>;
}

export interface PromoteOptions {
  router: string;
  bundleDir: string;
  version?: string;
  who?: string;
  why: string;
  provenance: Record<string, unknown>;
  verifyKey?: VerifyKey;
  registry?: Registry;
  runId?: string;
  /** Test/fault hook, awaited between steps. */
  onStep?: (step: "uploaded" | "before-pointer" | "pointer-written") => Promise<void>;
}

export interface PromoteResult {
  version: string;
  previous: string | null;
  pointer: Pointer;
  mlflowVersion: string | null;
  audit: string;
}

function who(w?: string): string {
  return w ?? env().ROUTERLAB_USER ?? process.env.USER ?? os.userInfo().username;
}

/** The pointer a promote or rollback writes: `version` (serving `served`) replaces what `cur` names. */
function nextPointer(
  o: { router: string; who?: string; why: string },
  action: Pointer["action"],
  version: string,
  served: { name: string; sha256: string },
  cur: Pointer | undefined,
  mlflowVersion: string | null,
): Pointer {
  return {
    router: o.router,
    version,
    previous: cur?.version ?? null,
    served: served.name,
    served_sha256: served.sha256,
    changed_at: new Date().toISOString(),
    by: who(o.who),
    why: o.why,
    action,
    mlflow_version: mlflowVersion,
    previous_mlflow_version: cur?.mlflow_version ?? null,
  };
}

function auditEvent(p: Pointer): AuditEvent {
  return {
    action: p.action,
    router: p.router,
    who: p.by,
    when: p.changed_at,
    from: p.previous,
    to: p.version,
    why: p.why,
  };
}

export async function promote(st: Store, o: PromoteOptions): Promise<PromoteResult> {
  checkName("router name", o.router);
  const report = verifyBundleDir(o.bundleDir, o.verifyKey ? { key: o.verifyKey } : {});
  if (!report.ok)
    throw new RouterlabError(`bundle ${o.bundleDir} does not verify: ${report.problems.join("; ")}`);
  const { files, manifest } = readBundle(o.bundleDir);
  assertRescores(files, manifest, o.bundleDir);
  const served = files.find((f) => f.served)!;
  const servedSha = sha256Hex(served.bytes);
  const version =
    o.version ??
    `v${new Date()
      .toISOString()
      .replace(/[-:TZ.]/g, "")
      .slice(0, 14)}-${servedSha.slice(0, 8)}`;
  checkName("version", version);
  if (version === "current" || version === "audit")
    throw new RouterlabError(`version name '${version}' is reserved`);
  // 0. a promote or rollback killed while copying into current/ is completed before anything else
  await completeCurrent(st, o.router);
  // 1. the immutable version folder (create-only; an identical retry is accepted)
  const all: [string, Buffer][] = [
    ...files.map((f) => [f.name, f.bytes] as [string, Buffer]),
    [MANIFEST_NAME, manifest],
    [
      "routerlab/provenance.json",
      Buffer.from(JSON.stringify({ ...o.provenance, router: o.router, version }, null, 2)),
    ],
  ];
  for (const [name, bytes] of all) {
    const k = key(st, o.router, version, name);
    try {
      await put(st, k, bytes, { ifNoneMatch: "*" });
    } catch (e) {
      if (status(e) !== 412 && status(e) !== 409)
        throw new RouterlabError(
          `S3 upload of ${k} failed; the current pointer is unchanged: ${errorMessage(e)}`,
        );
      const existing = await getBytes(st, k);
      if (name !== "routerlab/provenance.json" && (!existing || !existing.bytes.equals(bytes))) {
        throw new RouterlabError(
          `version ${version} of '${o.router}' already exists with different content (versions are immutable)`,
        );
      }
    }
  }
  await o.onStep?.("uploaded");
  // 2. the pointer, conditionally
  const cur = await readPointer(st, o.router);
  await o.onStep?.("before-pointer");
  const pointer = nextPointer(
    o,
    "promote",
    version,
    { name: served.name, sha256: servedSha },
    cur?.pointer,
    null,
  );
  await writePointer(st, o.router, pointer, cur?.etag);
  await o.onStep?.("pointer-written");
  // 3. the winner updates current/ (whatever the pointer names by then), the audit log and the registry
  await completeCurrent(st, o.router);
  const audit = await appendAudit(st, auditEvent(pointer));
  let mlflowVersion: string | null = null;
  if (o.registry) {
    mlflowVersion = await o.registry.register(
      o.router,
      `s3://${st.bucket}/${key(st, o.router, version)}/`,
      o.runId,
    );
    await o.registry.setAliases(o.router, mlflowVersion, pointer.previous_mlflow_version ?? null);
    await o.registry.tag(o.router, mlflowVersion, auditTags(pointer));
    const withMlflow = { ...pointer, mlflow_version: mlflowVersion };
    const now = await readPointer(st, o.router);
    if (now && now.pointer.version === version)
      await writePointer(st, o.router, withMlflow, now.etag).catch(() => undefined);
  }
  return { version, previous: pointer.previous, pointer, mlflowVersion, audit };
}

function auditTags(p: Pointer): Record<string, string> {
  return {
    "routerlab.action": p.action,
    "routerlab.by": p.by,
    "routerlab.when": p.changed_at,
    "routerlab.from": p.previous ?? "",
    "routerlab.to": p.version,
    "routerlab.why": p.why,
  };
}

export interface RollbackOptions {
  router: string;
  /** A named version; default: the pointer's `previous`. */
  to?: string;
  who?: string;
  why: string;
  registry?: Registry;
}

export async function rollback(st: Store, o: RollbackOptions): Promise<PromoteResult> {
  await completeCurrent(st, o.router);
  const cur = await readPointer(st, o.router);
  if (!cur) throw new RouterlabError(`'${o.router}' has never been promoted; nothing to roll back`);
  const target = o.to ?? cur.pointer.previous;
  if (!target) throw new RouterlabError(`'${o.router}' has no previous version; name one with --to`);
  checkName("version", target);
  const { files, manifest: mBytes } = await loadVersion(st, o.router, target);
  assertRescores(files, mBytes, `version ${target} of '${o.router}'`);
  const served = files.find((f) => f.served)!;
  let targetMlflow: string | null = null;
  if (o.registry)
    targetMlflow = await o.registry.findVersionBySource(
      o.router,
      `s3://${st.bucket}/${key(st, o.router, target)}/`,
    );
  const servedRef = { name: served.name, sha256: sha256Hex(served.bytes) };
  const pointer = nextPointer(o, "rollback", target, servedRef, cur.pointer, targetMlflow);
  await writePointer(st, o.router, pointer, cur.etag);
  await completeCurrent(st, o.router);
  const audit = await appendAudit(st, auditEvent(pointer));
  if (o.registry && targetMlflow) {
    await o.registry.setAliases(o.router, targetMlflow, cur.pointer.mlflow_version ?? null);
    await o.registry.tag(o.router, targetMlflow, auditTags(pointer));
  }
  return { version: target, previous: cur.pointer.version, pointer, mlflowVersion: targetMlflow, audit };
}

// ---------------- sync sidecar ----------------

export interface SyncOptions {
  router: string;
  gatewayDir: string;
  verifyKey?: VerifyKey;
  requireSignature?: boolean;
}

export interface SyncResult {
  changed: boolean;
  version: string | null;
  publish?: PublishResult;
}

const STATE = ".routerlab-sync-state";
const SyncStateSchema = z.object({ version: z.string(), served_sha256: z.string() });

/** The installed version as the last sync recorded it; unreadable or missing means "reinstall". */
function readSyncState(file: string): { version?: string; served_sha256?: string } {
  try {
    const r = SyncStateSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return r.success ? r.data : {};
  } catch {
    return {};
  }
}

/** Staging folders and temp files left by a sync process that died (its pid is gone). */
function removeStaleSyncFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = /^\.routerlab-staging-(\d+)-|\.routerlab-tmp-(\d+)-|^\.routerlab-sync-state\.(\d+)\.tmp$/.exec(
      name,
    );
    if (!m) continue;
    const pid = Number(m[1] ?? m[2] ?? m[3]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM";
      }
    }
    if (!alive) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Downloads a bundle's files (`version` or `current`) into a staging folder; a file gone mid-download is an error. */
async function downloadBundle(st: Store, router: string, version: string, dir: string): Promise<void> {
  const names = (await listVersionFiles(st, router, version)).filter((n) => !n.includes("/"));
  for (const n of names) {
    const got = await getBytes(st, key(st, router, version, n));
    if (!got)
      throw new RouterlabError(`${version}/${n} disappeared during download`, {
        file: `s3://${st.bucket}/${key(st, router, version, n)}`,
      });
    writeFileAtomic(safeJoin(dir, n, "bundle file name"), got.bytes);
  }
}

/** Whether a downloaded bundle's served file (by its manifest) has the pointer's hash. */
function servedMatches(dir: string, servedSha256: string): boolean {
  const served = readBundle(dir).files.find((f) => f.served);
  return served !== undefined && sha256Hex(served.bytes) === servedSha256;
}

/**
 * One sidecar poll: if the current pointer names a version other than the one installed, download it into a staging
 * folder beside the gateway's files, verify hashes and signature, then publish it in the gateway-safe order. Any
 * failure leaves the gateway's files exactly as they were.
 */
export async function syncOnce(st: Store, o: SyncOptions): Promise<SyncResult> {
  const cur = await readPointer(st, o.router);
  if (!cur) return { changed: false, version: null };
  const statePath = path.join(o.gatewayDir, STATE);
  removeStaleSyncFiles(o.gatewayDir);
  const state = readSyncState(statePath);
  const servedPath = path.join(o.gatewayDir, cur.pointer.served);
  if (
    state.version === cur.pointer.version &&
    existsSync(servedPath) &&
    sha256Hex(readFileSync(servedPath)) === cur.pointer.served_sha256
  ) {
    return { changed: false, version: cur.pointer.version };
  }
  const staging = path.join(
    o.gatewayDir,
    `.routerlab-staging-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(staging);
  try {
    await downloadBundle(st, o.router, cur.pointer.version, staging);
    const report = verifyBundleDir(staging, {
      ...(o.verifyKey ? { key: o.verifyKey } : {}),
      requireSignature: o.requireSignature ?? false,
    });
    if (!report.ok)
      throw new RouterlabError(
        `version ${cur.pointer.version} does not verify; keeping the installed files: ${report.problems.join("; ")}`,
      );
    const { files, manifest } = readBundle(staging);
    if (!servedMatches(staging, cur.pointer.served_sha256)) {
      throw new RouterlabError(
        `version ${cur.pointer.version}: served file does not match the pointer; keeping the installed files`,
      );
    }
    const publish = publishToDir(o.gatewayDir, files, manifest);
    writeFileAtomic(
      statePath,
      JSON.stringify({ version: cur.pointer.version, served_sha256: cur.pointer.served_sha256 }),
    );
    return { changed: true, version: cur.pointer.version, publish };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The sidecar loop: polls every `intervalMs` until `signal` aborts; logs and keeps serving on errors. */
export async function syncLoop(
  st: Store,
  o: SyncOptions & { intervalMs: number; signal?: AbortSignal; log?: (msg: string) => void },
): Promise<void> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  while (!o.signal?.aborted) {
    try {
      const r = await syncOnce(st, o);
      if (r.changed) log(`sync: installed ${o.router} ${r.version} (${r.publish?.order.join(" → ")})`);
    } catch (e) {
      log(`sync: ${errorMessage(e)}`);
    }
    await new Promise<void>((res) => {
      const t = setTimeout(res, o.intervalMs);
      o.signal?.addEventListener("abort", () => {
        clearTimeout(t);
        res();
      });
    });
  }
}

/** Lists installed files (for messages). */
export function installedFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith("."));
}
