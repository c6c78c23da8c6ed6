import { ROLES } from "../llm/config";
import type { ModelsConfig, Role } from "../llm/config";
import { RouterlabError } from "../util/errors";
import type { OracleConfig } from "./config";
import type { OracleModels } from "./run";

/** A config entry names a role of the models file (weak / strong / grader / judge) or a declared model. */
export function resolveModel(models: ModelsConfig, ref: string, field: string, configFile: string): string {
  if ((ROLES as readonly string[]).includes(ref)) {
    const name = models.roles[ref as Role];
    if (name !== undefined) return name;
  }
  if (ref in models.models) return ref;
  throw new RouterlabError(
    `'${ref}' is neither a role defined in ${models.file} (roles: ${Object.keys(models.roles).join(", ") || "none"}) nor a declared model (${Object.keys(models.models).join(", ")})`,
    { file: configFile, field },
  );
}

export function resolveOracleModels(
  models: ModelsConfig,
  config: OracleConfig,
  configFile: string,
): OracleModels {
  const m = config.models;
  const graded = config.data.source === "simpleqa";
  return {
    weak: resolveModel(models, m.weak, "models.weak", configFile),
    strong: resolveModel(models, m.strong, "models.strong", configFile),
    // Only the role the source needs must resolve; the other is recorded as configured.
    grader: graded ? resolveModel(models, m.grader, "models.grader", configFile) : m.grader,
    judge: graded ? m.judge : resolveModel(models, m.judge, "models.judge", configFile),
  };
}

/** The judge and the two tiers' models of a labelling config, named `<prefix>judge`, `<prefix>tiers.weak.model`... */
export function resolveJudgeAndTiers(
  models: ModelsConfig,
  labels: { judge: string; tiers: { weak: { model: string }; strong: { model: string } } },
  prefix: string,
  configFile: string,
): { judge: string; weakModel: string; strongModel: string } {
  return {
    judge: resolveModel(models, labels.judge, `${prefix}judge`, configFile),
    weakModel: resolveModel(models, labels.tiers.weak.model, `${prefix}tiers.weak.model`, configFile),
    strongModel: resolveModel(models, labels.tiers.strong.model, `${prefix}tiers.strong.model`, configFile),
  };
}
