import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { BUNDLED_DATASETS, bundledRouting, routingFromRoutingRows } from "../data/bundled";
import type { BundledDataset } from "../data/bundled";
import { loadRoutingJsonl } from "../data/llmrouter";
import type { LoadReport } from "../data/load";
import type { RoutingData } from "../data/routing";
import { applySplit, trainTestSplit } from "../data/split";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { pickRows, sampleOf } from "./fit";
import { deriveTask, labelCounts, RoutingSettingSchema } from "../routers/labels";
import { saveRouterState, stableStringify, withTrainingData } from "../routers/model-file";
import type { EndResult } from "../tracking/run";
import { sha256Hex } from "../util/hash";
import type { TrainTrackingTarget } from "./train-tracking";
import { TrainRun, TrainTrackingSchema } from "./train-tracking";
import { createRouter, routerEntry, routerKinds } from "../routers/registry";
import type { Router, RouterScores, RoutingTask } from "../routers/types";
import { formatLocation, RouterlabError } from "../util/errors";
import { outDir, projectRoot } from "../util/paths";
import { OutputNameSchema, safeJoin, writeFileAtomic } from "../util/atomic-write";

/** `routerlab train --config configs/<router>.yaml`: one YAML file, validated here, says everything. */
export const TrainConfigSchema = z
  .strictObject({
    data: z.strictObject({
      /** A bundled dataset, or a routing JSONL file (LLMRouter format, e.g. `routerlab oracle`'s routing.jsonl). */
      dataset: z.union([
        z.enum(BUNDLED_DATASETS),
        z.string().regex(/\.jsonl$/, `one of ${BUNDLED_DATASETS.join(", ")}, or a routing .jsonl file`),
      ]),
      split: z
        .strictObject({
          testFraction: z.number().gt(0).lt(1).default(0.2),
          stratifyBy: z.enum(["group", "none"]).default("group"),
        })
        .default({ testFraction: 0.2, stratifyBy: "group" }),
      /** Keep at most this many training rows (a seeded sample), e.g. to bound SVM memory (n^2 float32). */
      maxTrain: z.number().int().positive().optional(),
      /** Keep at most this many test rows (a seeded sample). */
      maxTest: z.number().int().positive().optional(),
    }),
    routing: RoutingSettingSchema,
    embedding: z
      .strictObject({
        /** "fp32" matches the gateway; "int8" is faster but not gateway-compatible. */
        precision: z.enum(["fp32", "int8"]).default("fp32"),
        /**
         * Precomputed embeddings instead of running the embedder: a raw little-endian float32 file with
         * one row per dataset row (in dataset order), `dim` columns.
         */
        matrix: z.string().min(1).optional(),
        dim: z.number().int().positive().default(384),
      })
      .default({ precision: "fp32", dim: 384 }),
    router: z.strictObject({
      kind: z.string().min(1),
      hyperparameters: z.record(z.string(), z.unknown()).default({}),
    }),
    /** Split/sample seed; also the router's `seed` (MLP, MF, random) unless its hyperparameters set one. */
    seed: z.number().int().nonnegative().default(0),
    tracking: TrainTrackingSchema,
    output: z
      .strictObject({
        dir: z.string().min(1).optional(),
        name: OutputNameSchema,
      })
      .optional(),
  })
  // The router's own hyperparameter schema, checked here so an error names the config file and line.
  .superRefine((c, ctx) => {
    try {
      createRouter(c.router.kind, c.router.hyperparameters, "router.hyperparameters");
    } catch (e) {
      if (!(e instanceof RouterlabError)) throw e;
      const field = e.location?.field;
      const inHyper = routerKinds().includes(c.router.kind) && field !== undefined && field !== "(root)";
      const prefix = e.location ? `${formatLocation(e.location)}: ` : "";
      ctx.addIssue({
        code: "custom",
        message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message,
        path: inHyper ? ["router", "hyperparameters", ...field.split(".")] : ["router", "kind"],
      });
    }
  });
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export interface DecisionSummary {
  rows: number;
  /** Share of test queries routed to each model. */
  share: Record<string, number>;
  /** Fraction of test rows where the decision equals the derived label. */
  labelAccuracy: number;
  /** Mean observed quality of the chosen models, and the same for each model alone. */
  meanQuality: number;
  meanCost: number;
  perModelQuality: Record<string, number>;
}

export interface TrainResult {
  config: TrainConfig;
  router: Router;
  train: RoutingData;
  test: RoutingData;
  trainTask: RoutingTask;
  testTask: RoutingTask;
  trainX: EmbeddingMatrix;
  testX: EmbeddingMatrix;
  predictions: string[];
  scores: RouterScores;
  summary: DecisionSummary;
  fitSeconds: number;
  modelFiles?: { json: string; bin: string };
  /** The tracking run (journal, and the server when one is configured); absent when tracking is disabled. */
  tracking?: EndResult;
}

const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function readMatrix(file: string, rows: number, dim: number): EmbeddingMatrix {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new RouterlabError(`cannot read embeddings: ${(e as Error).message}`, {
      file,
      field: "embedding.matrix",
    });
  }
  if (buf.length !== rows * dim * 4) {
    throw new RouterlabError(
      `dimension mismatch: ${buf.length} bytes, expected ${rows} rows x ${dim} float32 = ${rows * dim * 4}`,
      { file, field: "embedding.matrix" },
    );
  }
  const data = new Float32Array(rows * dim);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
  return { data, rows, dim };
}

/** Embeds query texts with lib/embed (fp32 = the gateway's vectors), through the persistent cache. */
export async function embedQueries(
  texts: readonly string[],
  precision: "fp32" | "int8",
): Promise<{ matrix: EmbeddingMatrix; spec: EmbeddingSpec }> {
  const embed = await import("../embed/index.js");
  const embedder = await embed.createEmbedder({ precision });
  try {
    const r = await embed.embedWithCache(texts, { embedder, source: "queries" });
    return { matrix: r.matrix, spec: embedder.spec };
  } finally {
    await embedder.dispose();
  }
}

export function summarize(task: RoutingTask, predictions: readonly string[]): DecisionSummary {
  const m = task.models.length;
  const n = predictions.length;
  const share: Record<string, number> = {};
  const perModelQuality: Record<string, number> = {};
  task.models.forEach((name) => (share[name] = 0));
  let correct = 0;
  let q = 0;
  let c = 0;
  predictions.forEach((p, i) => {
    share[p] = (share[p] ?? 0) + 1 / n;
    const j = task.models.indexOf(p);
    if (j === task.labels[i]) correct++;
    q += task.quality ? task.quality[i * m + j]! : NaN;
    c += task.cost ? task.cost[i * m + j]! : NaN;
  });
  task.models.forEach((name, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += task.quality ? task.quality[i * m + j]! : NaN;
    perModelQuality[name] = s / n;
  });
  return { rows: n, share, labelAccuracy: correct / n, meanQuality: q / n, meanCost: c / n, perModelQuality };
}

/** The configured router; a kind with a `seed` hyperparameter gets the config's seed unless it sets its own. */
export function createTrainRouter(config: TrainConfig): Router {
  const raw = config.router.hyperparameters;
  const router = createRouter(config.router.kind, raw, "router.hyperparameters");
  if (raw.seed !== undefined || !("seed" in router.hyperparameters)) return router;
  return createRouter(config.router.kind, { ...raw, seed: config.seed }, "router.hyperparameters");
}

/** sha256 over the data files a loader read (`relative path\tsha256` lines, in load order). */
function filesFingerprint(files: readonly string[]): string {
  return sha256Hex(
    files.map((f) => `${path.relative(projectRoot(), f)}\t${sha256Hex(readFileSync(f))}\n`).join(""),
  );
}

/** A bundled dataset by name, or a routing JSONL file (relative paths from the repository root). */
function trainingData(dataset: string): { data: RoutingData; reports: LoadReport[] } {
  if ((BUNDLED_DATASETS as readonly string[]).includes(dataset))
    return bundledRouting(dataset as BundledDataset);
  const file = path.resolve(projectRoot(), dataset);
  const r = loadRoutingJsonl(file);
  return { data: routingFromRoutingRows(path.basename(file, ".jsonl"), r.rows), reports: [r.report] };
}

/**
 * Load -> split -> labels -> embeddings -> fit -> decisions on the test split -> model file, recorded as a
 * tracking run (see train-tracking.ts) unless `config.tracking.enabled` or `opts.tracking.enabled` is false.
 */
export async function runTraining(
  config: TrainConfig,
  opts: {
    embeddings?: EmbeddingMatrix;
    save?: boolean;
    log?: (line: string) => void;
    tracking?: TrainTrackingTarget & { enabled?: boolean };
  } = {},
): Promise<TrainResult> {
  const log = opts.log ?? (() => undefined);
  const { data, reports } = trainingData(config.data.dataset);
  // Validate the router kind and hyperparameters before any heavy work.
  const router = createTrainRouter(config);
  const split = trainTestSplit(data, {
    testFraction: config.data.split.testFraction,
    seed: config.seed,
    stratifyBy: config.data.split.stratifyBy === "group" && data.groups ? "group" : undefined,
  });
  const trainKeep = new Set(sampleOf(indices(split.train.length), config.data.maxTrain, config.seed + 1));
  split.train = split.train.filter((_, i) => trainKeep.has(i));
  const testKeep = new Set(sampleOf(indices(split.test.length), config.data.maxTest, config.seed + 2));
  split.test = split.test.filter((_, i) => testKeep.has(i));
  const { train, test } = applySplit(data, split);
  const trainTask = deriveTask(train, config.routing);
  const testTask = deriveTask(test, config.routing);
  log(
    `data: ${data.name}, ${train.queryIds.length} train / ${test.queryIds.length} test rows; ` +
      `train labels: ${trainTask.models.map((m, i) => `${m}=${labelCounts(trainTask)[i]}`).join(", ")}`,
  );
  const run =
    config.tracking.enabled && opts.tracking?.enabled !== false
      ? TrainRun.start(
          {
            config,
            tracking: config.tracking,
            kind: router.kind,
            hyperparameters: router.hyperparameters,
            seed: config.seed,
            dataset: config.data.dataset,
            dataFingerprint: filesFingerprint(reports.map((r) => r.file)),
            train: { data: train, task: trainTask },
            test: { data: test, task: testTask },
          },
          opts.tracking ?? {},
        )
      : undefined;
  try {
    const r = await trainAndSave(config, opts, {
      split,
      data,
      router,
      train,
      test,
      trainTask,
      testTask,
      run,
      log,
    });
    if (run) {
      const final: Record<string, number> = {
        fit_seconds: r.fitSeconds,
        train_rows: train.queryIds.length,
        test_rows: test.queryIds.length,
        test_label_accuracy: r.summary.labelAccuracy,
        test_mean_quality: r.summary.meanQuality,
        test_mean_cost: r.summary.meanCost,
      };
      for (const [m, v] of Object.entries(r.summary.share)) final[`test_share.${m}`] = v;
      r.tracking = await run.finish(
        final,
        r.summaryFile && r.modelFiles ? { ...r.modelFiles, summary: r.summaryFile } : undefined,
        config.tracking.registerModel,
      );
      log(
        `tracking run ${r.tracking.localRunId}${r.tracking.serverRunId ? ` (server run ${r.tracking.serverRunId})` : ""}: ${r.tracking.runDir}`,
      );
    }
    delete r.summaryFile;
    return r;
  } catch (e) {
    await run?.fail();
    throw e;
  }
}

async function trainAndSave(
  config: TrainConfig,
  opts: { embeddings?: EmbeddingMatrix; save?: boolean },
  s: {
    split: { train: number[]; test: number[] };
    data: RoutingData;
    router: Router;
    train: RoutingData;
    test: RoutingData;
    trainTask: RoutingTask;
    testTask: RoutingTask;
    run: TrainRun | undefined;
    log: (line: string) => void;
  },
): Promise<TrainResult & { summaryFile?: string }> {
  const { split, data, router, train, test, trainTask, testTask, run, log } = s;
  let trainX: EmbeddingMatrix;
  let testX: EmbeddingMatrix;
  // Known only when lib/embed computed the vectors here; export reads it from the model file's meta.embedding.
  let embeddingSpec: EmbeddingSpec | undefined;
  const full =
    opts.embeddings ??
    (config.embedding.matrix
      ? readMatrix(
          path.resolve(projectRoot(), config.embedding.matrix),
          data.queryIds.length,
          config.embedding.dim,
        )
      : undefined);
  if (full) {
    if (full.rows !== data.queryIds.length) {
      throw new RouterlabError(
        `dimension mismatch: ${full.rows} embedding rows for ${data.queryIds.length} dataset rows`,
        {
          file: "embeddings",
        },
      );
    }
    trainX = pickRows(full, split.train);
    testX = pickRows(full, split.test);
  } else {
    log(
      `embedding ${train.queries.length + test.queries.length} queries (${config.embedding.precision}, cached in .cache/embeddings)`,
    );
    const { matrix: all, spec } = await embedQueries(
      [...train.queries, ...test.queries],
      config.embedding.precision,
    );
    embeddingSpec = spec;
    trainX = pickRows(
      all,
      train.queries.map((_, i) => i),
    );
    testX = pickRows(
      all,
      test.queries.map((_, i) => train.queries.length + i),
    );
  }
  const t0 = process.hrtime.bigint();
  const side = (d: RoutingData) => ({ texts: d.queries, ...(d.groups ? { groups: d.groups } : {}) });
  await router.fit({ X: trainX, ...side(train) }, trainTask, run ? { onEpoch: (m) => run.epoch(m) } : {});
  const fitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  log(`fit ${config.router.kind} in ${fitSeconds.toFixed(2)} s`);
  const testQueries = { X: testX, ...side(test) };
  const predictions = await router.predict(testQueries);
  const scores = await router.score(testQueries);
  const summary = summarize(testTask, predictions);
  let modelFiles: { json: string; bin: string } | undefined;
  let summaryFile: string | undefined;
  if (opts.save !== false && config.output) {
    const dir = path.resolve(projectRoot(), config.output.dir ?? path.join(outDir(), "models"));
    const fitted = router.state();
    const state = routerEntry(fitted.kind).keepsTrainingRows
      ? withTrainingData(fitted, trainX, trainTask.labels)
      : fitted;
    modelFiles = saveRouterState(
      {
        ...state,
        meta: {
          ...state.meta,
          ...(embeddingSpec ? { embedding: embeddingSpec } : {}),
          training: {
            dataset: data.name,
            trainRows: train.queryIds.length,
            seed: config.seed,
            routing: config.routing,
          },
        },
      },
      safeJoin(dir, config.output.name),
    );
    summaryFile = safeJoin(dir, `${config.output.name}.summary.json`);
    writeFileAtomic(summaryFile, stableStringify({ fitSeconds, summary }));
  }
  return {
    config,
    router,
    train,
    test,
    trainTask,
    testTask,
    trainX,
    testX,
    predictions,
    scores,
    summary,
    fitSeconds,
    modelFiles,
    summaryFile,
  };
}

export function formatSummary(s: DecisionSummary): string {
  const lines = [`test rows: ${s.rows}`];
  for (const [m, v] of Object.entries(s.share))
    lines.push(
      `  routed to ${m}: ${(v * 100).toFixed(1)}% (alone: quality ${s.perModelQuality[m]?.toFixed(4)})`,
    );
  lines.push(`  label accuracy: ${s.labelAccuracy.toFixed(4)}`);
  lines.push(
    `  mean quality of decisions: ${s.meanQuality.toFixed(4)}; mean cost: $${s.meanCost.toPrecision(4)}`,
  );
  return lines.join("\n");
}
