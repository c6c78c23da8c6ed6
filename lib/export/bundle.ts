import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { assertSafeName, writeFolderAtomic } from "../util/atomic-write";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { BundleFile, ExportKind } from "./artifacts";
import type { Manifest, SigningKey, VerifyKey } from "./manifest";
import {
  effectiveSignatureType,
  manifestJson,
  parseManifest,
  signManifest,
  verifyKeyFromEnv,
  verifyManifestSignature,
} from "./manifest";

export const MANIFEST_NAME = "manifest.json";

export interface ManifestOptions {
  kind: ExportKind;
  description?: string;
  createdAt?: string;
  metadata?: Record<string, unknown>;
  key?: SigningKey;
}

/** Manifest over bare file names, served file first (the gateway scans entries in list order, §8.2). */
export function buildManifest(files: readonly BundleFile[], opts: ManifestOptions): Manifest {
  const names = files.map((f) => f.name);
  if (new Set(names).size !== names.length)
    throw new RouterlabError(`bundle file names are not unique: ${names.join(", ")}`);
  const ordered = [...files.filter((f) => f.served), ...files.filter((f) => !f.served)];
  const m: Manifest = {
    version: "1.0",
    created_at: opts.createdAt ?? new Date().toISOString().replace("Z", "+00:00"),
    description: opts.description ?? `routerlab ${opts.kind} router`,
    signature_type: "none",
    metadata: opts.metadata ?? {},
    artifacts: ordered.map((f) => ({
      path: f.name,
      sha256: sha256Hex(f.bytes),
      tags: [opts.kind, f.served ? "served" : "companion"],
    })),
  };
  return signManifest(m, opts.key);
}

/** Names a bundle folder may hold: the manifest and artifact files (served and companion). */
export function isBundleFileName(name: string): boolean {
  return name === MANIFEST_NAME || /^[\w.-]+\.(pt|pth|pkl|json|npy)$/.test(name);
}

/**
 * Writes a bundle (artifact files + manifest.json) as one folder swap: the whole bundle appears at `dir` or the
 * previous one stays (a re-export with another stem or kind leaves no stale file). `dir` is the bundle's own folder:
 * one holding anything but bundle files is refused. Not for the gateway's live directory (see `publishToDir`).
 */
export function writeBundleDir(dir: string, files: readonly BundleFile[], opts: ManifestOptions): Manifest {
  const manifest = buildManifest(files, opts);
  writeFolderAtomic(
    dir,
    [
      ...files.map((f) => ({ name: assertSafeName(f.name, "bundle file name"), data: f.bytes })),
      { name: MANIFEST_NAME, data: manifestJson(manifest) },
    ],
    { owns: isBundleFileName },
  );
  return manifest;
}

export interface VerifyOptions {
  /** Explicit key; by default the gateway's own variables (LLMROUTER_MODEL_PUBLIC_KEY_B64/_PATH, _HMAC_SECRET). */
  key?: VerifyKey;
  requireSignature?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface VerifyReport {
  ok: boolean;
  problems: string[];
  checked: string[];
  signature: "verified" | "none";
}

/** The gateway's entry lookup (§8.2): first entry, in list order, equal to, suffix of, or sharing a basename with `p`. */
export function gatewayEntryFor(m: Manifest, servedPath: string): number {
  return m.artifacts.findIndex(
    (a) =>
      a.path === servedPath ||
      servedPath.endsWith(a.path) ||
      path.basename(a.path) === path.basename(servedPath),
  );
}

/**
 * Checks a bundle directory the way the gateway will, and stricter: every entry hashes to its file (lowercase hex),
 * basenames are unique, the gateway's lookup finds each file's own entry, and the signature verifies.
 */
export function verifyBundleDir(dir: string, opts: VerifyOptions = {}): VerifyReport {
  const file = path.join(dir, MANIFEST_NAME);
  if (!existsSync(file))
    return { ok: false, problems: [`${file}: no manifest`], checked: [], signature: "none" };
  const problems: string[] = [];
  let m: Manifest;
  try {
    m = parseManifest(readFileSync(file, "utf8"), file);
  } catch (e) {
    return { ok: false, problems: [(e as Error).message], checked: [], signature: "none" };
  }
  const checked: string[] = [];
  const bases = m.artifacts.map((a) => path.basename(a.path));
  if (new Set(bases).size !== bases.length)
    problems.push(`manifest basenames are not unique: ${bases.join(", ")}`);
  m.artifacts.forEach((a, i) => {
    const where = `${file} $.artifacts[${i}]`;
    if (!/^[0-9a-f]{64}$/.test(a.sha256)) problems.push(`${where}.sha256 is not 64 lowercase hex characters`);
    const target = path.join(dir, path.basename(a.path));
    if (!existsSync(target)) {
      problems.push(`${where}.path: ${a.path} not found in ${dir}`);
      return;
    }
    const got = sha256Hex(readFileSync(target));
    if (got !== a.sha256) problems.push(`${where}: SHA256 hash mismatch for ${a.path} (file is ${got})`);
    if (gatewayEntryFor(m, target) !== i) {
      problems.push(
        `${where}: the gateway would match ${target} to entry ${gatewayEntryFor(m, target)}, not this one`,
      );
    }
    checked.push(a.path);
  });
  const declared = m.signature_type.toLowerCase();
  const type = effectiveSignatureType(m);
  if (declared !== type)
    problems.push(`signature_type '${m.signature_type}' is unknown: the gateway treats it as none`);
  let signature: VerifyReport["signature"] = "none";
  if (type !== "none") {
    const key = opts.key ?? verifyKeyFromEnv(type, opts.env ?? process.env);
    if (!key) {
      problems.push(
        type === "ed25519"
          ? "manifest is Ed25519-signed but no key is set (LLMROUTER_MODEL_PUBLIC_KEY_B64 or _PATH)"
          : "manifest is HMAC-signed but LLMROUTER_MODEL_HMAC_SECRET is not set",
      );
    } else {
      try {
        if (verifyManifestSignature(m, key)) signature = "verified";
        else problems.push(`${type} signature does not verify (wrong key, or signed content changed)`);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  } else if (opts.requireSignature) problems.push("manifest is not signed");
  return { ok: problems.length === 0, problems, checked, signature };
}

/** Artifact files in a directory that the manifest does not list. */
export function unlistedFiles(dir: string, m: Manifest): string[] {
  const listed = new Set(m.artifacts.map((a) => path.basename(a.path)));
  return readdirSync(dir).filter(
    (f) => f !== MANIFEST_NAME && /\.(pt|pth|pkl|json)$/.test(f) && !listed.has(f),
  );
}
