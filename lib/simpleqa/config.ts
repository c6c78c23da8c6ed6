/** `configs/eval-simpleqa.yaml`: everything a SimpleQA evaluation run needs, validated at the edge. */
import path from "node:path";
import { z } from "zod";
import { SimpleQaSplitConfigSchema } from "../data/simpleqa-split";
import { loadYamlConfig } from "../util/config";
import { projectRoot } from "../util/paths";
import { PolicyLayerSchema } from "./policy";

const ThresholdSchema = z.discriminatedUnion("kind", [
  /** A fixed threshold: strong iff score >= value. */
  z.strictObject({ kind: z.literal("value"), value: z.number().min(0).max(1) }),
  /** The (1 - share)-quantile of the router's scores on the evaluated questions (unlabelled; RouteLLM's method). */
  z.strictObject({ kind: z.literal("share"), value: z.number().min(0).max(1) }),
  /** The threshold of a calibration record (`routerlab calibrate`, lib/calibrate/record.ts). */
  z.strictObject({ kind: z.literal("record"), file: z.string().min(1) }),
]);
export type ThresholdSpec = z.infer<typeof ThresholdSchema>;

export const EvalSimpleQaConfigSchema = z.strictObject({
  /** The models file (lib/llm: names, endpoints, prices, roles). Relative paths are from the repository root. */
  models: z.string().min(1).default("configs/models.yaml"),
  /** Model names per role; each defaults to the models file's `roles`. */
  roles: z
    .strictObject({
      weak: z.string().min(1).optional(),
      strong: z.string().min(1).optional(),
      grader: z.string().min(1).optional(),
    })
    .default({}),
  data: z
    .strictObject({
      /** A SimpleQA CSV (simple-evals' columns); default the bundled copy. */
      file: z.string().min(1).optional(),
      /** Must equal the oracle's split options: evaluation reads only the TEST side. */
      split: SimpleQaSplitConfigSchema,
      /** Evaluate a seeded sample of at most this many TEST questions. */
      limit: z.number().int().positive().optional(),
    })
    .default({ split: { seed: 42, testFraction: 0.2 } }),
  router: z.strictObject({
    /** A routerlab model file (`<name>.router.json`), binary (weak/strong) or a policy classifier. */
    file: z.string().min(1).optional(),
    threshold: ThresholdSchema.default({ kind: "value", value: 0.5 }),
    /**
     * Policy classifiers: the labels whose probabilities add up to the strong score (default Complex_Query).
     * Ignored for binary routers (their score is P(strong needed)).
     */
    strongPolicies: z.array(z.string().min(1)).min(1).default(["Complex_Query"]),
    /** Binary routers: scores within this distance of the threshold are labelled Ambiguous_Query. */
    ambiguousMargin: z.number().min(0).max(0.5).default(0.1),
  }),
  answer: z
    .strictObject({
      /** Optional system prompt (null: none, as in simple-evals). */
      system: z.string().nullable().default(null),
      /** The user message; `{question}` is replaced by the question. */
      template: z
        .string()
        .includes("{question}", { message: "the template must contain {question}" })
        .default("{question}"),
      temperature: z.number().min(0).max(2).default(0),
      maxTokens: z.number().int().positive().default(256),
    })
    .default({ system: null, template: "{question}", temperature: 0, maxTokens: 256 }),
  grader: z
    .strictObject({
      temperature: z.number().min(0).max(2).default(0),
      maxTokens: z.number().int().positive().default(8),
    })
    .default({ temperature: 0, maxTokens: 8 }),
  /** Random router at the routed strong share: averaged over this many seeds (seed, seed + 1, ...). */
  randomSeeds: z.number().int().min(1).max(1000).default(10),
  /** Optional policy-mapping layers, each evaluated like the router. */
  policies: z.array(PolicyLayerSchema).default([]),
  /** Questions asked at once (the client still enforces each model's own limits). */
  concurrency: z.number().int().min(1).max(256).default(16),
  seed: z.number().int().nonnegative().default(0),
  output: z
    .strictObject({ dir: z.string().min(1).default("out/eval-simpleqa") })
    .default({ dir: "out/eval-simpleqa" }),
  tracking: z
    .strictObject({
      experiment: z.string().min(1).default("simpleqa-evaluation"),
      /** MLflow server; default MLFLOW_TRACKING_URI, else the local journal only. */
      uri: z.string().min(1).optional(),
    })
    .default({ experiment: "simpleqa-evaluation" }),
});
export type EvalSimpleQaConfig = z.infer<typeof EvalSimpleQaConfigSchema>;

export function loadEvalSimpleQaConfig(file: string): EvalSimpleQaConfig {
  return loadYamlConfig(file, EvalSimpleQaConfigSchema);
}

/** Config paths are relative to the repository root (like every routerlab config). */
export function resolveFromRoot(p: string): string {
  return path.isAbsolute(p) ? p : path.join(projectRoot(), p);
}
