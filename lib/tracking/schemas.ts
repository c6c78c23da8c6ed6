import { z } from "zod";

/** MLflow REST response shapes (subset routerlab reads). Every response is parsed with these. */

const num = z.union([z.number(), z.string()]).transform((v) => Number(v));

export const RunStatusSchema = z.enum(["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const KeyValueSchema = z.object({ key: z.string(), value: z.string().optional().default("") });

export const ExperimentSchema = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string().optional(),
  lifecycle_stage: z.string().optional(),
});
export type Experiment = z.infer<typeof ExperimentSchema>;

export const RunInfoSchema = z.object({
  run_id: z.string(),
  experiment_id: z.string(),
  run_name: z.string().optional(),
  status: RunStatusSchema,
  start_time: num.optional(),
  end_time: num.optional(),
  artifact_uri: z.string().optional(),
  lifecycle_stage: z.string().optional(),
});
export type RunInfo = z.infer<typeof RunInfoSchema>;

export const MetricSchema = z.object({
  key: z.string(),
  value: z.union([z.number(), z.string()]),
  timestamp: num,
  step: num.optional().default(0),
});
export type Metric = z.infer<typeof MetricSchema>;

export const RunSchema = z.object({
  info: RunInfoSchema,
  data: z
    .object({
      metrics: z.array(MetricSchema).optional().default([]),
      params: z.array(KeyValueSchema).optional().default([]),
      tags: z.array(KeyValueSchema).optional().default([]),
    })
    .optional()
    .default({ metrics: [], params: [], tags: [] }),
});
export type Run = z.infer<typeof RunSchema>;

export const GetExperimentResponse = z.object({ experiment: ExperimentSchema });
export const CreateExperimentResponse = z.object({ experiment_id: z.string() });
export const RunResponse = z.object({ run: RunSchema });
export const UpdateRunResponse = z.object({ run_info: RunInfoSchema.optional() });
export const SearchRunsResponse = z.object({
  runs: z.array(RunSchema).optional().default([]),
  next_page_token: z.string().optional(),
});
export const MetricHistoryResponse = z.object({
  metrics: z.array(MetricSchema).optional().default([]),
  next_page_token: z.string().optional(),
});
export const EmptyResponse = z.object({}).loose();

export const RegisteredModelSchema = z.object({
  name: z.string(),
  aliases: z
    .array(z.object({ alias: z.string(), version: z.string() }))
    .optional()
    .default([]),
});
export const RegisteredModelResponse = z.object({ registered_model: RegisteredModelSchema });

export const ModelVersionSchema = z.object({
  name: z.string(),
  version: z.string(),
  source: z.string().optional(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  aliases: z.array(z.string()).optional().default([]),
});
export type ModelVersion = z.infer<typeof ModelVersionSchema>;
export const ModelVersionResponse = z.object({ model_version: ModelVersionSchema });
export const SearchModelVersionsResponse = z.object({
  model_versions: z.array(ModelVersionSchema).optional().default([]),
  next_page_token: z.string().optional(),
});

export const FileInfoSchema = z.object({
  path: z.string(),
  is_dir: z.boolean().optional().default(false),
  file_size: num.optional(),
});
export type FileInfo = z.infer<typeof FileInfoSchema>;
export const ListArtifactsResponse = z.object({
  files: z.array(FileInfoSchema).optional().default([]),
  root_uri: z.string().optional(),
  next_page_token: z.string().optional(),
});

export const MlflowErrorBody = z.object({
  error_code: z.string(),
  message: z.string().optional().default(""),
});
