import { z } from "zod";
import { assertGatewayCompatible } from "../embed/compat";
import type { EmbeddingSpec } from "../embed/types";
import { loadYamlConfig } from "../util/config";
import { RouterlabError } from "../util/errors";

/** The gateway's LiteLLM model list (only what export needs). Extra keys are allowed: paste the real config. */
export const GatewayModelsSchema = z.object({
  model_list: z
    .array(
      z.looseObject({
        model_name: z.string().min(1),
        litellm_params: z.looseObject({ model: z.string().min(1) }),
      }),
    )
    .min(1, "model_list must list at least one deployment"),
});
export type GatewayModels = z.infer<typeof GatewayModelsSchema>;

export function loadGatewayModels(file: string): GatewayModels {
  return loadYamlConfig(file, GatewayModelsSchema);
}

export interface LabelCheck {
  /** The deployments labels were checked against (`litellm_params.model`). */
  deployments: string[];
  warnings: string[];
}

/**
 * Labels must be exact `litellm_params.model` strings of the requested model group (§5). Refuses otherwise; warns
 * when a label is a substring of another deployment's model string (or vice versa), since a typo'd or removed
 * deployment would then silently route elsewhere.
 */
export function checkLabels(
  labels: readonly string[],
  models: GatewayModels,
  opts: { group?: string; file?: string } = {},
): LabelCheck {
  const file = opts.file ?? "gateway model list";
  const inGroup = opts.group
    ? models.model_list.filter((d) => d.model_name === opts.group)
    : models.model_list;
  if (inGroup.length === 0) {
    throw new RouterlabError(`no deployment has model_name '${opts.group}'`, { file, field: "model_name" });
  }
  const deployments = inGroup.map((d) => d.litellm_params.model);
  const missing = labels.filter((l) => !deployments.includes(l));
  if (missing.length > 0) {
    throw new RouterlabError(
      `router labels are not exact litellm_params.model values of ${opts.group ? `group '${opts.group}'` : "the model list"}: ${missing
        .map((m) => JSON.stringify(m))
        .join(", ")}`,
      { file, field: "litellm_params.model" },
      `the gateway would match these by substring or fall back to the first deployment; use exactly one of: ${deployments.join(", ")}`,
    );
  }
  const warnings: string[] = [];
  for (const l of new Set(labels)) {
    for (const d of new Set(deployments)) {
      if (d !== l && (d.includes(l) || l.includes(d))) {
        warnings.push(
          `label '${l}' substring-matches deployment '${d}': exact matching picks '${l}' today, but if that deployment is removed or renamed the gateway silently routes to '${d}'`,
        );
      }
    }
  }
  return { deployments, warnings };
}

/** Refuses when the router's training embeddings are not the gateway's (model, dimension, normalisation, length). */
export function checkEmbeddingSpec(spec: EmbeddingSpec | undefined, where: string): void {
  if (!spec) {
    throw new RouterlabError(
      "the router records no embedding spec, so it cannot be shown to match the gateway's embedder",
      { file: where, field: "embedding" },
      "train the router on embeddings from `routerlab embed` (all-MiniLM-L6-v2, fp32, 256 tokens)",
    );
  }
  assertGatewayCompatible(spec, where);
}
