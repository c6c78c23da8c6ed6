/**
 * What `routerlab train` records in tracking (MLflow through lib/tracking's offline-first run API): the
 * resolved config (params + config.json), the router's hyperparameters with defaults, seeds, a config hash, the
 * bundled data files' fingerprint, the train/test splits as dataset inputs, per-epoch step metrics (MLP, MF),
 * final metrics, the model file as artifacts under `model/`, and optionally a registered model version.
 */
import { z } from "zod";
import type { RoutingData } from "../data/routing";
import { figuresToHtml } from "../plots/plotly";
import { trainingFigures } from "../plots/training";
import type { EpochMetrics } from "../routers/nn/common";
import { stableStringify } from "../routers/model-file";
import type { RoutingTask } from "../routers/types";
import type { EndResult, TrackedRun } from "../tracking/run";
import { startRun } from "../tracking/run";
import { sha256Hex } from "../util/hash";
import { OutputNameSchema } from "../util/atomic-write";

export const TrainTrackingSchema = z
  .strictObject({
    /** false: no run at all (not even the local journal). */
    enabled: z.boolean().default(true),
    experiment: z.string().min(1).default("routerlab-train"),
    runName: z.string().min(1).optional(),
    /** Register the logged model file (`model/`) as a version of this model, optionally moving an alias. */
    registerModel: z
      .strictObject({
        name: OutputNameSchema,
        alias: z
          .string()
          .regex(/^[\w-]+$/, "letters, digits, '_' and '-' only")
          .optional(),
      })
      .optional(),
  })
  .default({ enabled: true, experiment: "routerlab-train" });
export type TrainTracking = z.infer<typeof TrainTrackingSchema>;

/** Where the run goes; unset fields fall back to MLFLOW_TRACKING_URI / ROUTERLAB_TRACKING_DIR (lib/tracking). */
export interface TrainTrackingTarget {
  trackingUri?: string;
  journalDir?: string;
  log?: (msg: string) => void;
}

/** MLflow keys allow letters, digits, `_ - . space /`; model names may carry others (e.g. `:`). */
export function metricKey(s: string): string {
  return s.replace(/[^\w\-. /]/g, "_");
}

/** sha256 of a split's `queryId\tlabel\n` lines: which rows, with which targets. */
export function splitDigest(data: RoutingData, task: RoutingTask): string {
  return sha256Hex(data.queryIds.map((id, i) => `${id}\t${task.labels[i]}\n`).join(""));
}

export function configHash(config: unknown): string {
  return sha256Hex(stableStringify(config));
}

export interface TrainRunInputs {
  config: unknown;
  tracking: TrainTracking;
  kind: string;
  hyperparameters: Record<string, unknown>;
  seed: number;
  dataset: string;
  /** sha256 over the bundled data files read (`file\tsha256\n` lines). */
  dataFingerprint: string;
  train: { data: RoutingData; task: RoutingTask };
  test: { data: RoutingData; task: RoutingTask };
}

/** A started training run; `end*` must be called exactly once. */
export class TrainRun {
  private readonly epochs: EpochMetrics[] = [];
  private constructor(readonly run: TrackedRun) {}

  static start(inp: TrainRunInputs, target: TrainTrackingTarget): TrainRun {
    const hash = configHash(inp.config);
    const run = startRun({
      experiment: inp.tracking.experiment,
      runName: inp.tracking.runName ?? `${inp.kind}-${inp.dataset}`,
      config: inp.config,
      seeds: {
        seed: inp.seed,
        ...(typeof inp.hyperparameters.seed === "number" ? { router: inp.hyperparameters.seed } : {}),
      },
      dataFingerprints: { [inp.dataset]: inp.dataFingerprint },
      tags: { "routerlab.job": "train", "routerlab.router": inp.kind, "routerlab.dataset": inp.dataset },
      ...(target.trackingUri !== undefined ? { trackingUri: target.trackingUri } : {}),
      ...(target.journalDir !== undefined ? { journalDir: target.journalDir } : {}),
      ...(target.log ? { log: target.log } : {}),
    });
    const hp: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inp.hyperparameters)) hp[`hp.${k}`] = v;
    run.logParams({ ...hp, config_sha256: hash, "router.kind": inp.kind });
    for (const [context, split] of [
      ["training", inp.train],
      ["test", inp.test],
    ] as const) {
      run.logInput({
        name: `${inp.dataset}-${context}`,
        digest: splitDigest(split.data, split.task),
        source: `bundled:${inp.dataset}`,
        context,
        schema: { rows: split.data.queryIds.length, models: split.task.models, setting: split.task.kind },
      });
    }
    return new TrainRun(run);
  }

  /** Step metrics for one epoch (step = epoch number); null val figures are skipped. */
  epoch(m: EpochMetrics): void {
    const metrics: Record<string, number> = { loss: m.loss, accuracy: m.accuracy, epoch_seconds: m.seconds };
    if (m.val_loss !== null) metrics.val_loss = m.val_loss;
    if (m.val_accuracy !== null) metrics.val_accuracy = m.val_accuracy;
    this.run.logMetrics(metrics, m.epoch);
    this.epochs.push({ ...m });
  }

  async finish(
    final: Record<string, number>,
    files: { json: string; bin: string; summary: string } | undefined,
    register: TrainTracking["registerModel"],
  ): Promise<EndResult> {
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(final)) metrics[metricKey(k)] = v;
    this.run.logMetrics(metrics);
    const charts = trainingFigures(this.epochs, final);
    if (charts.length > 0)
      this.run.logHtml("charts.html", figuresToHtml(charts, { title: "routerlab training run" }));
    if (files) {
      await this.run.logArtifact(files.json, "model");
      await this.run.logArtifact(files.bin, "model");
      await this.run.logArtifact(files.summary);
      if (register)
        this.run.registerModel(register.name, "model", register.alias ? { alias: register.alias } : {});
    }
    return this.run.end("FINISHED");
  }

  async fail(): Promise<EndResult> {
    return this.run.end("FAILED");
  }
}
