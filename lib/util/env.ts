import { z } from "zod";
import { schemaError } from "./zod-error";

/**
 * routerlab's own environment variables, parsed once by a schema (docs/environment.md lists them all).
 * Read through `env()`; a malformed value is an error naming the variable.
 */
const EnvSchema = z.object({
  /**
   * Test hook: the atomic writer SIGKILLs its own process at its N-th write point (1-based), so tests can check
   * that a kill at any point leaves the old outputs or the new ones, never a mix or a truncated file.
   */
  ROUTERLAB_TEST_KILL_AT_WRITE: z.coerce.number().int().min(1).optional(),
});

export type Env = z.infer<typeof EnvSchema>;

/** Parses the `ROUTERLAB_*` variables of `source` (default: this process's environment). */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
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
