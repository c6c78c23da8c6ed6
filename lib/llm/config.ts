/**
 * configs/models.yaml: the models routerlab may call, their prices and rate limits, and the roles
 * (weak, strong, grader, judge) that oracle and evaluation configs refer to. API keys are never in the
 * file: each model names the environment variable that holds its key.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseYamlConfig } from "../util/config";
import { RouterlabError } from "../util/errors";

export const ROLES = ["weak", "strong", "grader", "judge"] as const;
export type Role = (typeof ROLES)[number];

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands `${VAR}` and `${VAR:-default}`; returns the name of the first unset variable without a default. */
export function interpolateEnv(s: string, env: NodeJS.ProcessEnv): { value: string } | { missing: string } {
  let missing: string | undefined;
  const value = s.replace(INTERPOLATION, (_m, name: string, def: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== "") return v;
    if (def !== undefined) return def;
    missing ??= name;
    return "";
  });
  return missing !== undefined ? { missing } : { value };
}

function envString(env: NodeJS.ProcessEnv) {
  return z.string().transform((s, ctx) => {
    const r = interpolateEnv(s, env);
    if ("missing" in r) {
      ctx.addIssue({
        code: "custom",
        message: `environment variable ${r.missing} is not set (and '${s}' gives no \${${r.missing}:-default})`,
      });
      return z.NEVER;
    }
    return r.value;
  });
}

const positive = z.number().positive();

function modelSchema(env: NodeJS.ProcessEnv) {
  return z
    .object({
      name: z
        .string()
        .regex(
          /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
          "model names use letters, digits, _ . - (they become metric keys)",
        ),
      baseUrl: envString(env).pipe(z.url({ message: "baseUrl must be an http(s) URL" })),
      modelId: envString(env).pipe(z.string().min(1)),
      /** Name of the environment variable holding the key. Omit only for local servers that need none. */
      apiKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "apiKeyEnv is the NAME of an environment variable, not the key")
        .optional(),
      inputPricePerMTok: z.number().nonnegative(),
      outputPricePerMTok: z.number().nonnegative(),
      limits: z
        .object({
          concurrency: z.number().int().positive().default(8),
          rpm: positive.optional(),
          tpm: positive.optional(),
        })
        .strict()
        .default({ concurrency: 8 }),
      timeoutMs: z.number().int().positive().default(60_000),
      maxRetries: z.number().int().nonnegative().default(6),
      simulated: z.boolean().default(false),
    })
    .strict();
}

function modelsFileSchema(env: NodeJS.ProcessEnv) {
  return z
    .object({
      models: z.array(modelSchema(env)).min(1),
      roles: z.partialRecord(z.enum(ROLES), z.string()).default({}),
    })
    .strict()
    .superRefine((cfg, ctx) => {
      const seen = new Set<string>();
      cfg.models.forEach((m, i) => {
        if (seen.has(m.name))
          ctx.addIssue({
            code: "custom",
            path: ["models", i, "name"],
            message: `duplicate model '${m.name}'`,
          });
        seen.add(m.name);
      });
      for (const [role, name] of Object.entries(cfg.roles)) {
        if (!seen.has(name))
          ctx.addIssue({
            code: "custom",
            path: ["roles", role],
            message: `role '${role}' names model '${name}', which is not declared under models`,
          });
      }
    });
}

export type ModelConfig = z.infer<ReturnType<typeof modelSchema>>;

export interface ModelsConfig {
  /** The file it was loaded from (named in config errors). */
  readonly file: string;
  readonly models: Readonly<Record<string, ModelConfig>>;
  readonly roles: Readonly<Partial<Record<Role, string>>>;
}

export interface ModelOverride {
  baseUrl?: string;
  modelId?: string;
  apiKeyEnv?: string;
  timeoutMs?: number;
  maxRetries?: number;
  limits?: Partial<ModelConfig["limits"]>;
}

export interface ModelsConfigOverrides {
  /** Environment for `${VAR}` interpolation (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Replaces every model's baseUrl (e.g. point all models at a local sim server). */
  baseUrl?: string;
  /** Per-model overrides, by model name. */
  models?: Record<string, ModelOverride>;
  roles?: Partial<Record<Role, string>>;
}

/** Loads and validates a models file; errors name the file, line and field. */
export function loadModelsConfig(file: string, overrides: ModelsConfigOverrides = {}): ModelsConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read models config: ${(e as Error).message}`, { file });
  }
  return parseModelsConfig(text, file, overrides);
}

export function parseModelsConfig(
  text: string,
  file: string,
  overrides: ModelsConfigOverrides = {},
): ModelsConfig {
  const parsed = parseYamlConfig(text, file, modelsFileSchema(overrides.env ?? process.env));
  const models: Record<string, ModelConfig> = {};
  for (const m of parsed.models) {
    const o = overrides.models?.[m.name];
    models[m.name] = {
      ...m,
      ...(overrides.baseUrl !== undefined ? { baseUrl: overrides.baseUrl } : {}),
      ...(o?.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}),
      ...(o?.modelId !== undefined ? { modelId: o.modelId } : {}),
      ...(o?.apiKeyEnv !== undefined ? { apiKeyEnv: o.apiKeyEnv } : {}),
      ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o?.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
      limits: { ...m.limits, ...o?.limits },
    };
  }
  for (const name of Object.keys(overrides.models ?? {})) {
    if (!(name in models))
      throw new RouterlabError(`override for model '${name}', which is not declared`, { file });
  }
  const roles = { ...parsed.roles, ...overrides.roles };
  for (const [role, name] of Object.entries(roles)) {
    if (!(name in models))
      throw new RouterlabError(`role '${role}' names model '${name}', which is not declared`, {
        file,
        field: `roles.${role}`,
      });
  }
  return { file, models, roles };
}

/** The model name a role maps to; a clear error when the file does not define the role. */
export function modelForRole(config: ModelsConfig, role: Role): string {
  const name = config.roles[role];
  if (name === undefined)
    throw new RouterlabError(
      `no model for role '${role}'`,
      { file: config.file, field: `roles.${role}` },
      [`add 'roles: { ${role}: <model name> }' to the models file`].join(""),
    );
  return name;
}

/** A model by name, or an error listing the declared ones. */
export function modelConfig(config: ModelsConfig, name: string): ModelConfig {
  const m = config.models[name];
  if (!m)
    throw new RouterlabError(`unknown model '${name}' (declared: ${Object.keys(config.models).join(", ")})`, {
      file: config.file,
      field: "models",
    });
  return m;
}
