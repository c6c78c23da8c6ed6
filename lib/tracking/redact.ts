/**
 * Secret redaction. Everything routerlab writes about a run (journal, params, tags, artifacts it
 * generates, log lines) passes through here first, so API keys, S3 secret keys and credentials in
 * URLs never leave the process.
 */

export const REDACTED = "***REDACTED***";

const SECRET_KEY =
  /(^|[^a-z])(key|api[-_]?key|apikey|secret|token|password|passwd|pwd|credential|private[-_]?key|access[-_]?key|auth|authorization|cookie|session[-_]?key)s?($|[^a-z])/i;

/** True if a config/param key names something secret, e.g. `openai_api_key`, `S3.secretKey`, `token`. */
export function isSecretKey(key: string): boolean {
  // Split camelCase so `secretKey` and `apiKey` are caught too.
  const spaced = key.replace(/([a-z0-9])([A-Z])/g, "$1_$2");
  return SECRET_KEY.test(spaced);
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+)(?::[^\s/@]*)?@/gi;
const URL_SECRET_QUERY =
  /([?&](?:access_token|token|api[-_]?key|apikey|key|secret|password|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s"']+/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** Removes credentials embedded in URLs (userinfo, token-like query parameters) and auth headers. */
export function redactString(s: string, extraSecrets: readonly string[] = []): string {
  let out = s
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}${REDACTED}@`)
    .replace(URL_SECRET_QUERY, (_m, prefix: string) => `${prefix}${REDACTED}`)
    .replace(BEARER, (_m, kind: string) => `${kind} ${REDACTED}`);
  for (const secret of extraSecrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Values of secrets known to this process (from the environment) that must never be written. */
export function knownSecretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v.length >= 8 && isSecretKey(k)) out.push(v);
  }
  return out;
}

/** Deeply redacts a JSON-like value: secret-looking keys lose their value, strings lose URL credentials. */
export function redactValue(value: unknown, extraSecrets: readonly string[] = []): unknown {
  if (typeof value === "string") return redactString(value, extraSecrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, extraSecrets));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] =
        isSecretKey(k) && v !== null && v !== undefined && typeof v !== "object"
          ? REDACTED
          : redactValue(v, extraSecrets);
    }
    return out;
  }
  return value;
}

/** Flattens a nested config into `a.b.c` keys with string values (MLflow params). */
export function flattenConfig(
  value: unknown,
  prefix = "",
  out: Record<string, string> = {},
): Record<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = "{}";
    for (const [k, v] of entries) flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = typeof value === "string" ? value : JSON.stringify(value ?? null);
  }
  return out;
}

/** Values stored under secret-looking keys anywhere in a config (so they can be scrubbed from free text). */
export function secretValuesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) secretValuesIn(v, out);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (isSecretKey(k) && (typeof v === "string" || typeof v === "number") && String(v).length >= 4)
        out.push(String(v));
      else secretValuesIn(v, out);
    }
  }
  return out;
}

/** Replaces only exact known secret values (for free text such as HTML, where URL patterns could be code). */
export function scrubKnownSecrets(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const secret of secrets)
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}
