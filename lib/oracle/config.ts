/** `configs/oracle.yaml`: everything an oracle run depends on, validated at the edge. */
import { z } from "zod";
import { SimpleQaSplitConfigSchema } from "../data/simpleqa-split";
import { loadYamlConfig } from "../util/config";
import { DEFAULT_LABEL_TABLE, LabelTableSchema } from "./labels";

const Temperature = z.number().min(0).max(2);

const SimpleQaSource = z.strictObject({
  source: z.literal("simpleqa"),
  /** A SimpleQA CSV in the official format; default: the bundled data/simpleqa/simple_qa_test_set.csv. */
  file: z.string().min(1).optional(),
  /** The shared SimpleQA split (lib/data/simpleqa-split.ts). Oracle generation reads TRAIN only. */
  split: SimpleQaSplitConfigSchema,
  /** Label at most this many train questions: a seeded sample, kept in split order. */
  limit: z.number().int().positive().optional(),
  sampleSeed: z.number().int().nonnegative().default(0),
});

const JsonlSource = z.strictObject({
  /** Rows without gold answers, e.g. trace-derived: one JSON object `{ "id": ..., "query": ... }` per line. */
  source: z.literal("jsonl"),
  file: z.string().min(1),
  limit: z.number().int().positive().optional(),
  sampleSeed: z.number().int().nonnegative().default(0),
});

const TracesSource = z.strictObject({
  /** The LLM calls in a Jaeger or OTLP JSON trace export (query text built as the gateway does); judged. */
  source: z.literal("traces"),
  file: z.string().min(1),
  limit: z.number().int().positive().optional(),
  sampleSeed: z.number().int().nonnegative().default(0),
});

export const OracleConfigSchema = z.strictObject({
  data: z.discriminatedUnion("source", [SimpleQaSource, JsonlSource, TracesSource]),
  models: z
    .strictObject({
      /** The models file (names, endpoints, prices, roles). */
      file: z.string().min(1).default("configs/models.yaml"),
      /** A role declared in the models file (weak / strong / grader / judge) or a model name. */
      weak: z.string().min(1).default("weak"),
      strong: z.string().min(1).default("strong"),
      grader: z.string().min(1).default("grader"),
      judge: z.string().min(1).default("judge"),
    })
    .default({
      file: "configs/models.yaml",
      weak: "weak",
      strong: "strong",
      grader: "grader",
      judge: "judge",
    }),
  answer: z
    .strictObject({
      system: z.string().nullable().default(null),
      /** The user message; `{question}` is replaced by the question. simple-evals sends the bare question. */
      template: z
        .string()
        .includes("{question}", { message: "must contain {question}" })
        .default("{question}"),
      temperature: Temperature.default(0),
      maxTokens: z.number().int().positive().default(256),
    })
    .default({ system: null, template: "{question}", temperature: 0, maxTokens: 256 }),
  grader: z
    .strictObject({
      temperature: Temperature.default(0),
      maxTokens: z.number().int().positive().default(16),
    })
    .default({ temperature: 0, maxTokens: 16 }),
  judge: z
    .strictObject({
      temperature: Temperature.default(0),
      maxTokens: z.number().int().positive().default(16),
      /** Seeds the per-row presentation order of the pairwise judge. */
      orderSeed: z.number().int().nonnegative().default(0),
      /** Pairwise winner -> label for rows without gold answers. */
      labels: z
        .strictObject({ weak: z.string().min(1), strong: z.string().min(1), tie: z.string().min(1) })
        .default({ weak: "Standard_Query", strong: "Complex_Query", tie: "Ambiguous_Query" }),
    })
    .default({
      temperature: 0,
      maxTokens: 16,
      orderSeed: 0,
      labels: { weak: "Standard_Query", strong: "Complex_Query", tie: "Ambiguous_Query" },
    }),
  /** weak grade -> strong grade -> label (A correct, B incorrect, C not attempted). */
  labels: LabelTableSchema.default(DEFAULT_LABEL_TABLE),
  /** DPO pairs: for a row labelled K (a key here), chosen = K and rejected = the value. Other labels: no pair. */
  dpo: z
    .record(z.string().min(1), z.string().min(1))
    .default({ Standard_Query: "Complex_Query", Complex_Query: "Standard_Query" }),
  /** In-flight questions at once (each question makes up to 4-6 calls; the client bounds per-model concurrency). */
  concurrency: z.number().int().positive().max(1024).default(8),
  output: z
    .strictObject({
      dir: z.string().min(1).default("out/oracle"),
    })
    .default({ dir: "out/oracle" }),
  tracking: z
    .strictObject({
      enabled: z.boolean().default(false),
      experiment: z.string().min(1).default("routerlab-oracle"),
      /** MLflow server; default MLFLOW_TRACKING_URI, else the local journal only. */
      uri: z.string().min(1).optional(),
    })
    .default({ enabled: false, experiment: "routerlab-oracle" }),
});
export type OracleConfig = z.infer<typeof OracleConfigSchema>;

export function loadOracleConfig(file: string): OracleConfig {
  return loadYamlConfig(file, OracleConfigSchema);
}
