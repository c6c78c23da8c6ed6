export * from "./client";
export * from "./journal";
export * from "./redact";
export * from "./run";
export * from "./s3";
export type { Experiment, FileInfo, Metric, ModelVersion, Run, RunInfo, RunStatus } from "./schemas";
export * from "./sync";
