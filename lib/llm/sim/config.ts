/** Schemas for the simulator's models and faults (checked by `startSimServer`) and its YAML file, configs/sim.yaml. */
import { z } from "zod";
import { loadYamlConfig } from "../../util/config";
import type { SimFaults, SimModel } from "./types";

const Probability = z.number().min(0).max(1);
const Latency = z.number().int().min(0).max(600_000).optional();
const ModelId = z.string().regex(/^[A-Za-z0-9._:/-]+$/, "model ids are letters, digits and . _ : / -");

export const SimAnswerModelSchema = z.strictObject({
  id: ModelId,
  kind: z.literal("answer"),
  accuracy: Probability,
  notAttemptedRate: Probability,
  latencyMs: Latency,
  difficultyCorrelation: Probability.optional(),
});

export const SimGraderModelSchema = z.strictObject({
  id: ModelId,
  kind: z.literal("grader"),
  noisyRate: Probability.optional(),
  latencyMs: Latency,
});

export const SimJudgeModelSchema = z.strictObject({
  id: ModelId,
  kind: z.literal("judge"),
  positionBias: Probability.optional(),
  latencyMs: Latency,
});

export const SimModelSchema = z.discriminatedUnion("kind", [
  SimAnswerModelSchema,
  SimGraderModelSchema,
  SimJudgeModelSchema,
]);

export const SimModelsSchema = z
  .array(SimModelSchema)
  .min(1)
  .superRefine((models, ctx) => {
    const seen = new Set<string>();
    models.forEach((m, i) => {
      if (seen.has(m.id))
        ctx.addIssue({ code: "custom", message: `duplicate model id '${m.id}'`, path: [i, "id"] });
      seen.add(m.id);
    });
  });

export const SimFaultsSchema = z.strictObject({
  rate: Probability,
  kinds: z
    .array(z.enum(["429", "500", "timeout", "truncated", "empty"]))
    .min(1)
    .optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  timeoutHangMs: z.number().int().min(0).max(600_000).optional(),
});

/** configs/sim.yaml. Command-line flags override `port`, `seed`, `facts`, `faults.rate` and `log`. */
export const SimConfigSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(0),
  seed: z.number().int().default(0),
  /** `simpleqa` (the bundled SimpleQA CSV), a SimpleQA-format .csv, or a .jsonl of {question, answer[, kind]}. */
  facts: z.string().min(1).default("simpleqa"),
  models: SimModelsSchema,
  faults: SimFaultsSchema.default({ rate: 0 }),
  /** Name of the environment variable holding the required API key (none: no authentication). Never the key. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name")
    .optional(),
  /** Append-only JSONL request log. */
  log: z.string().min(1).optional(),
});
export type SimConfig = z.infer<typeof SimConfigSchema>;

export function loadSimConfig(file: string): SimConfig {
  return loadYamlConfig(file, SimConfigSchema);
}

// The schemas above must accept exactly the contract's shapes.
type Assert<T extends true> = T;
export type _ModelsMatch = Assert<z.infer<typeof SimModelSchema> extends SimModel ? true : false>;
export type _FaultsMatch = Assert<z.infer<typeof SimFaultsSchema> extends SimFaults ? true : false>;
