import { z } from "zod";
import { schemaError } from "./zod-error";

/**
 * routerlab's own environment variables, parsed by one schema (docs/environment.md lists them all). Library code
 * reads them through `env()`, never `process.env.ROUTERLAB_*`; a malformed value is an error naming the variable.
 * An empty value counts as unset.
 */

const path = z.string().min(1);
/** "1"/"true" or "0"/"false". */
const flag = z.enum(["1", "0", "true", "false"]).transform((v) => v === "1" || v === "true");
const positiveInt = z.coerce.number().int().positive();

const EnvSchema = z.object({
  // folders and interpreters
  ROUTERLAB_DATA_DIR: path.optional(),
  ROUTERLAB_OUT_DIR: path.optional(),
  ROUTERLAB_CACHE_DIR: path.optional(),
  ROUTERLAB_TRACKING_DIR: path.optional(),
  ROUTERLAB_EMBEDDING_MODEL_DIR: path.optional(),
  ROUTERLAB_PYTHON: path.optional(),
  ROUTERLAB_EXPORT_PYTHON: path.optional(),
  ROUTERLAB_EXPORT_BASE_PYTHON: path.optional(),
  ROUTERLAB_VENV: path.optional(),
  // behaviour
  ROUTERLAB_QUIET: flag.optional(),
  ROUTERLAB_ALLOW_REMOTE_MODELS: flag.optional(),
  ROUTERLAB_HUB_TIMEOUT_MS: positiveInt.optional(),
  ROUTERLAB_EMBED_THREADS: positiveInt.optional(),
  ROUTERLAB_EMBED_SPIN: flag.optional(),
  ROUTERLAB_KNN_THREADS: positiveInt.optional(),
  ROUTERLAB_TF_BACKEND: z.enum(["tensorflow", "wasm", "cpu"]).optional(),
  ROUTERLAB_USER: z.string().min(1).optional(),
  ROUTERLAB_SIM_URL: z.url().optional(),
  ROUTERLAB_NOTEBOOK_SAMPLE: positiveInt.optional(),
  /**
   * Test hook: the atomic writer SIGKILLs its own process at its N-th write point (1-based), so tests can check
   * that a kill at any point leaves the old outputs or the new ones, never a mix or a truncated file.
   */
  ROUTERLAB_TEST_KILL_AT_WRITE: positiveInt.optional(),
  /** Test hook: the atomic writer appends "<N> <path>" for each write point to this file (which N to kill at). */
  ROUTERLAB_TEST_WRITE_LOG: path.optional(),
});

export type Env = z.infer<typeof EnvSchema>;
export const ENV_VARIABLES = Object.keys(EnvSchema.shape) as (keyof Env)[];

/** Parses the `ROUTERLAB_*` variables of `source` (default: this process's environment). */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const picked: Record<string, string> = {};
  for (const key of ENV_VARIABLES) {
    const v = source[key];
    if (v !== undefined && v !== "") picked[key] = v;
  }
  const r = EnvSchema.safeParse(picked);
  if (r.success) return r.data;
  const name = String(r.error.issues[0]!.path[0] ?? "(environment)");
  throw schemaError(r.error, {
    file: "(environment)",
    what: `environment variable ${name}=${JSON.stringify(picked[name])}`,
  });
}

/** The process environment, parsed on every call (cheap; tests change variables between calls). */
export function env(): Env {
  return parseEnv(process.env);
}
