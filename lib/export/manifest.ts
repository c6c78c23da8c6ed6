import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
} from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { parseWith } from "../util/zod-error";

/** Manifest schema (gateway-contract.md §8.1). Parsed once, at the edge. */
export const ManifestEntrySchema = z.object({
  path: z.string().min(1),
  sha256: z.string(),
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
  created_at: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export const ManifestSchema = z.object({
  version: z.string({ error: 'version must be a string such as "1.0" (a number changes the signed bytes)' }),
  created_at: z.string().optional(),
  description: z.string().optional(),
  signature_type: z.string(),
  signature: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  artifacts: z.array(ManifestEntrySchema).min(1),
});
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type SignatureType = "ed25519" | "hmac-sha256" | "none";

export function parseManifest(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RouterlabError(`manifest is not valid JSON: ${(e as Error).message}`, { file });
  }
  return parseWith(ManifestSchema, raw, { file, jsonPath: "$" });
}

/** The gateway's reading of `signature_type`: case-insensitive; anything unknown counts as none. */
export function effectiveSignatureType(m: Manifest): SignatureType {
  const t = m.signature_type.toLowerCase();
  return t === "ed25519" || t === "hmac-sha256" ? t : "none";
}

// ---------- Python-canonical JSON (json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)) ----------

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else out += "\\u" + c.toString(16).padStart(4, "0"); // UTF-16 units: surrogate pairs come out as two escapes
  }
  return out + '"';
}

function codePointCompare(a: string, b: string): number {
  const ia = Array.from(a);
  const ib = Array.from(b);
  for (let i = 0; i < Math.min(ia.length, ib.length); i++) {
    const d = ia[i]!.codePointAt(0)! - ib[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ia.length - ib.length;
}

export type CanonicalValue = string | number | boolean | CanonicalValue[] | { [k: string]: CanonicalValue };

export function pythonJsonDumps(v: CanonicalValue): string {
  if (typeof v === "string") return pyString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new RouterlabError("canonical JSON: only integers are supported");
    return String(v);
  }
  if (Array.isArray(v)) return "[" + v.map(pythonJsonDumps).join(",") + "]";
  const keys = Object.keys(v).sort(codePointCompare);
  return "{" + keys.map((k) => pyString(k) + ":" + pythonJsonDumps(v[k]!)).join(",") + "}";
}

/** The exact bytes the gateway verifies a signature over (§8.3). */
export function canonicalBytes(m: Manifest): Buffer {
  const content: { [k: string]: CanonicalValue } = {
    version: m.version,
    artifacts: [...m.artifacts]
      .map((a) => ({ path: a.path, sha256: a.sha256 }))
      .sort((a, b) => codePointCompare(a.path, b.path)),
  };
  if (m.created_at) content.created_at = m.created_at;
  if (m.description) content.description = m.description;
  return Buffer.from(pythonJsonDumps(content), "utf8");
}

// ---------- keys ----------

const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export type SigningKey = { type: "ed25519"; key: KeyObject } | { type: "hmac-sha256"; secret: Buffer };
export type VerifyKey = { type: "ed25519"; key: KeyObject } | { type: "hmac-sha256"; secret: Buffer };

function looksPem(b: Buffer): boolean {
  return b.toString("latin1").includes("-----BEGIN");
}

/** Key bytes as given: PEM text or raw 32 bytes as they are, anything else read as base64. */
function keyBytes(material: Buffer | string): Buffer {
  const b = typeof material === "string" ? Buffer.from(material, "utf8") : material;
  return !looksPem(b) && b.length !== 32 ? Buffer.from(b.toString("utf8").trim(), "base64") : b;
}

/** Ed25519 private key from raw 32 bytes, PEM (PKCS#8) text, or base64 of either. */
export function ed25519PrivateKey(material: Buffer | string): KeyObject {
  const b = keyBytes(material);
  if (looksPem(b)) return createPrivateKey({ key: b.toString("utf8"), format: "pem" });
  if (b.length !== 32)
    throw new RouterlabError("Ed25519 private key must be 32 raw bytes, PEM, or base64 of either");
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, b]), format: "der", type: "pkcs8" });
}

/** Ed25519 public key the way the gateway accepts it: raw 32 bytes or PEM SPKI (optionally base64 of either). */
export function ed25519PublicKey(material: Buffer | string): KeyObject {
  const b = keyBytes(material);
  if (looksPem(b)) return createPublicKey({ key: b.toString("utf8"), format: "pem" });
  if (b.length !== 32)
    throw new RouterlabError("Ed25519 public key must be 32 raw bytes or PEM SubjectPublicKeyInfo");
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, b]), format: "der", type: "spki" });
}

/** Raw 32-byte public key, base64: the value for `LLMROUTER_MODEL_PUBLIC_KEY_B64`. */
export function publicKeyB64(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const der = pub.export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32).toString("base64");
}

/**
 * Signing key from the environment or files:
 * `ROUTERLAB_SIGNING_KEY_ED25519` (base64 raw / PEM), `ROUTERLAB_SIGNING_KEY_ED25519_PATH` (raw or PEM file),
 * `ROUTERLAB_SIGNING_KEY_HMAC` (secret text), `ROUTERLAB_SIGNING_KEY_HMAC_PATH` (file). Returns undefined if none set.
 */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv = process.env): SigningKey | undefined {
  if (env.ROUTERLAB_SIGNING_KEY_ED25519)
    return { type: "ed25519", key: ed25519PrivateKey(env.ROUTERLAB_SIGNING_KEY_ED25519) };
  if (env.ROUTERLAB_SIGNING_KEY_ED25519_PATH) {
    return { type: "ed25519", key: ed25519PrivateKey(readKeyFile(env.ROUTERLAB_SIGNING_KEY_ED25519_PATH)) };
  }
  if (env.ROUTERLAB_SIGNING_KEY_HMAC)
    return { type: "hmac-sha256", secret: Buffer.from(env.ROUTERLAB_SIGNING_KEY_HMAC, "utf8") };
  if (env.ROUTERLAB_SIGNING_KEY_HMAC_PATH) {
    return { type: "hmac-sha256", secret: readKeyFile(env.ROUTERLAB_SIGNING_KEY_HMAC_PATH) };
  }
  return undefined;
}

/** Verification key from the gateway's own variables (§3), so `verify` checks what the gateway will check. */
export function verifyKeyFromEnv(
  type: SignatureType,
  env: NodeJS.ProcessEnv = process.env,
): VerifyKey | undefined {
  if (type === "ed25519") {
    if (env.LLMROUTER_MODEL_PUBLIC_KEY_B64) {
      return { type, key: ed25519PublicKey(Buffer.from(env.LLMROUTER_MODEL_PUBLIC_KEY_B64, "base64")) };
    }
    if (env.LLMROUTER_MODEL_PUBLIC_KEY_PATH) {
      return { type, key: ed25519PublicKey(readKeyFile(env.LLMROUTER_MODEL_PUBLIC_KEY_PATH)) };
    }
  }
  if (type === "hmac-sha256" && env.LLMROUTER_MODEL_HMAC_SECRET) {
    return { type, secret: Buffer.from(env.LLMROUTER_MODEL_HMAC_SECRET, "utf8") };
  }
  return undefined;
}

function readKeyFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new RouterlabError(`cannot read key file: ${(e as Error).message}`, { file });
  }
}

// ---------- sign / verify ----------

export function signatureOver(bytes: Buffer, key: SigningKey): string {
  if (key.type === "hmac-sha256") return createHmac("sha256", key.secret).update(bytes).digest("base64");
  return edSign(null, bytes, key.key).toString("base64");
}

export function signManifest(m: Manifest, key: SigningKey | undefined): Manifest {
  const base: Manifest = { ...m };
  delete base.signature;
  if (!key) return { ...base, signature_type: "none" };
  return { ...base, signature_type: key.type, signature: signatureOver(canonicalBytes(m), key) };
}

/** True iff the manifest's signature verifies with `key` (§8.4). Throws if the signature is absent or malformed. */
export function verifyManifestSignature(m: Manifest, key: VerifyKey): boolean {
  const type = effectiveSignatureType(m);
  if (type === "none") return true;
  if (type !== key.type) return false;
  if (!m.signature || !/^[A-Za-z0-9+/]*={0,2}$/.test(m.signature) || m.signature.length % 4 !== 0) {
    throw new RouterlabError("manifest signature is missing or not padded standard base64");
  }
  const sig = Buffer.from(m.signature, "base64");
  const bytes = canonicalBytes(m);
  if (key.type === "hmac-sha256") {
    const want = createHmac("sha256", key.secret).update(bytes).digest();
    return sig.length === want.length && want.equals(sig);
  }
  if (sig.length !== 64) return false;
  return edVerify(null, bytes, key.key, sig);
}

export function manifestJson(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + "\n", "utf8");
}
