/**
 * `routerlab retrain`: collected gateway traffic -> labels from the served answers (label-traffic's workflow) ->
 * embeddings (lib/embed) -> the configured router trained on the traffic (lib/pipeline/train) -> challenger and
 * champion scored on the SAME held-out traffic rows (seeded split) -> the promotion gate (gate.ts) -> export and
 * publish to the gateway folder when the gate promotes, else the champion stays and the reason is printed.
 *
 * Resumable: every step writes into `<output.dir>/<step>/` and then an atomic `<step>.done` marker holding the
 * fingerprint of its inputs and its result; a re-run skips a step whose marker matches and redoes the others.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { routingFromRoutingRows } from "../data/bundled";
import { loadRoutingJsonl } from "../data/llmrouter";
import type { EmbeddingMatrix } from "../embed/types";
import { calibrate, dataFingerprint } from "../calibrate/calibrate";
import { loadRecord, makeRecord, saveRecord } from "../calibrate/record";
import { exportRouterState } from "../export/export-router";
import type { CalibrationInput } from "../export/operating-point";
import { signingKeyFromEnv } from "../export/manifest";
import { publishToDir } from "../export/publish-dir";
import { promote, readBundle, storeFromEnv } from "../export/s3-store";
import { loadGatewayModels } from "../export/safety";
import { RoutingRowSchema, toJsonl } from "../oracle/outputs";
import type { RoutingRow } from "../oracle/outputs";
import { pickRows } from "../pipeline/fit";
import { embedQueries, runTraining, TrainConfigSchema } from "../pipeline/train";
import { loadRouterState, modelBasePath, saveRouterState, stableStringify } from "../routers/model-file";
import { loadRouter } from "../routers/registry";
import type { RouterScores } from "../routers/types";
import { startRun } from "../tracking/run";
import type { TrackedRun } from "../tracking/run";
import { loadYamlConfig } from "../util/config";
import { writeFileAtomic, makeOutputDir } from "../util/atomic-write";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import { createRng, shuffled } from "../util/random";
import { parseWith } from "../util/zod-error";
import type { GateDecision } from "./gate";
import { promotionGate } from "./gate";
import { LabelTrafficConfigSchema, runLabelTraffic, type LabelTrafficOptions } from "./label-traffic";

export const RetrainConfigSchema = z.strictObject({
  /** Labelling, as in configs/label-traffic.yaml (dataset = the folder `routerlab collect` wrote); no output. */
  labels: LabelTrafficConfigSchema.omit({ output: true }),
  embedding: z
    .strictObject({ precision: z.enum(["fp32", "int8"]).default("fp32") })
    .default({ precision: "fp32" }),
  /** The held-out traffic both routers are scored on: a seeded sample of the labelled queries. */
  heldOut: z
    .strictObject({
      fraction: z.number().gt(0).lt(1).default(0.3),
      seed: z.number().int().nonnegative().default(0),
    })
    .default({ fraction: 0.3, seed: 0 }),
  /** The challenger: a router kind and hyperparameters, trained on the non-held-out traffic. */
  router: z.strictObject({
    kind: z.string().min(1),
    hyperparameters: z.record(z.string(), z.unknown()).default({}),
    /** Negative control: train on labels shuffled across queries (seeded); the gate must refuse it. */
    shuffleLabels: z.boolean().default(false),
  }),
  /** The router the gateway serves now, as a routerlab model file; a promotion replaces it with the challenger. */
  champion: z.strictObject({ model: z.string().regex(/\.router\.json$/, "a <name>.router.json model file") }),
  gate: z
    .strictObject({
      shares: z.array(z.number().gt(0).lt(1)).min(1).default([0.5]),
      resamples: z.number().int().positive().default(1000),
      level: z.number().gt(0).lt(1).default(0.95),
      seed: z.number().int().nonnegative().default(0),
    })
    .default({ shares: [0.5], resamples: 1000, level: 0.95, seed: 0 }),
  /**
   * The operating point: the challenger calibrated (lib/calibrate, bootstrap with the run's seed and the gate's
   * resamples and level) for this strong share on the held-out traffic, baked into the served artifact.
   */
  calibration: z.strictObject({ strongShare: z.number().gt(0).lt(1) }).optional(),
  export: z
    .strictObject({
      gatewayModels: z.string().min(1).default("configs/gateway-models.yaml"),
      group: z.string().min(1).optional(),
      stem: z
        .string()
        .regex(/^[\w.-]+$/)
        .default("router"),
    })
    .default({ gatewayModels: "configs/gateway-models.yaml", stem: "router" }),
  promote: z
    .strictObject({
      /** The folder the gateway loads from (LLMROUTER_MODEL_PATH's folder); files are published atomically, served file last. */
      gatewayDir: z.string().min(1).optional(),
      /** The S3 store `routerlab promote` writes (versions, CURRENT pointer, audit log); credentials and endpoint from the environment. */
      s3: z
        .strictObject({
          bucket: z.string().min(1),
          prefix: z.string().default(""),
          router: z.string().regex(/^[\w.-]+$/, "letters, digits, '.', '_' and '-' only"),
        })
        .optional(),
    })
    .refine((p) => p.gatewayDir !== undefined || p.s3 !== undefined, {
      message: "promote needs gatewayDir, s3 or both",
    }),
  seed: z.number().int().nonnegative().default(0),
  tracking: z
    .strictObject({
      enabled: z.boolean().default(true),
      experiment: z.string().min(1).default("routerlab-retrain"),
    })
    .default({ enabled: true, experiment: "routerlab-retrain" }),
  /** The run folder: one per retrain; a re-run of the same config resumes it. */
  output: z.strictObject({ dir: z.string().min(1) }).default({ dir: "out/retrain" }),
});
export type RetrainConfig = z.infer<typeof RetrainConfigSchema>;

export function loadRetrainConfig(file: string): RetrainConfig {
  return loadYamlConfig(file, RetrainConfigSchema);
}

export const RETRAIN_STEPS = [
  "labels",
  "embed",
  "split",
  "train",
  "champion",
  "score",
  "gate",
  "export",
  "promote",
] as const;
export type RetrainStep = (typeof RETRAIN_STEPS)[number];

export interface RetrainResult {
  runDir: string;
  decision: GateDecision;
  promoted: boolean;
  /** Steps skipped because their done marker matched. */
  skipped: RetrainStep[];
  heldOut: number;
  train: number;
  /** Set when the challenger was published to the gateway folder. */
  published?: { dir: string; served: string; files: string[] };
  /** Set when the challenger was promoted in the S3 store. */
  store?: { bucket: string; router: string; version: string; previous: string | null; audit: string };
  operatingPoint?: { strongShare: number; threshold: number };
  tracking?: { localRunId: string; runDir: string; serverRunId?: string };
}

/** sha256 over a folder's regular files (relative name and content), without following symlinks. */
function folderFingerprint(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) lines.push(`${path.relative(dir, p)}\t${sha256Hex(readFileSync(p))}`);
    }
  };
  walk(dir);
  return sha256Hex(lines.join("\n"));
}

const fp = (...parts: unknown[]) => sha256Hex(stableStringify(parts));

function writeMatrix(file: string, m: EmbeddingMatrix): void {
  const b = Buffer.alloc(m.data.length * 4);
  for (let i = 0; i < m.data.length; i++) b.writeFloatLE(m.data[i]!, i * 4);
  writeFileAtomic(file, b);
}

function readMatrix(file: string, dim: number): EmbeddingMatrix {
  const b = readFileSync(file);
  const data = new Float32Array(b.length / 4);
  for (let i = 0; i < data.length; i++) data[i] = b.readFloatLE(i * 4);
  return { data, rows: data.length / dim, dim };
}

function readRoutingRows(file: string): RoutingRow[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => parseWith(RoutingRowSchema, JSON.parse(l), { file, line: i + 1 }));
}

/** P(strong) per query: the binary probability when the router gives one, else the strong model's column. */
export function strongScores(s: RouterScores, strong: string): Float64Array {
  if (s.strongProbability) return s.strongProbability;
  const j = s.models.indexOf(strong);
  if (j < 0) throw new RouterlabError(`the router does not score the strong model ${strong}`);
  const m = s.models.length;
  return Float64Array.from({ length: s.perModel.length / m }, (_, i) => s.perModel[i * m + j]!);
}

interface Markers {
  runDir: string;
  skipped: RetrainStep[];
  log: (l: string) => void;
  run: TrackedRun | undefined;
}

/**
 * One resumable step: reuse `<step>.done` when its fingerprint matches; otherwise clear the step's folder, run,
 * and write the marker (fingerprint + JSON result) atomically once every output is on disk.
 */
async function step<T>(
  m: Markers,
  name: RetrainStep,
  fingerprint: string,
  work: (dir: string) => Promise<T> | T,
): Promise<T> {
  const marker = path.join(m.runDir, `${name}.done`);
  if (existsSync(marker)) {
    const done = JSON.parse(readFileSync(marker, "utf8")) as { fingerprint: string; result: T };
    if (done.fingerprint === fingerprint) {
      m.skipped.push(name);
      m.log(`retrain: ${name}: done before (inputs unchanged), skipped`);
      m.run?.setTags({ [`step.${name}`]: "reused" });
      return done.result;
    }
  }
  const dir = path.join(m.runDir, name);
  rmSync(dir, { recursive: true, force: true });
  makeOutputDir(dir);
  const t0 = Date.now();
  const result = await work(dir);
  writeFileAtomic(marker, JSON.stringify({ fingerprint, result }) + "\n");
  m.log(`retrain: ${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  m.run?.setTags({ [`step.${name}`]: "done" });
  return result;
}

export async function runRetrain(
  config: RetrainConfig,
  opts: LabelTrafficOptions & { trackingUri?: string; journalDir?: string },
): Promise<RetrainResult> {
  const log = opts.log ?? (() => undefined);
  const abs = (p: string) => path.resolve(opts.baseDir, p);
  const runDir = abs(config.output.dir);
  makeOutputDir(runDir);
  const weak = config.labels.tiers.weak.gateway;
  const strong = config.labels.tiers.strong.gateway;
  const trafficFp = folderFingerprint(abs(config.labels.dataset));
  const run = config.tracking.enabled
    ? startRun({
        experiment: config.tracking.experiment,
        runName: `retrain ${path.basename(runDir)}`,
        config,
        seeds: {
          seed: config.seed,
          heldOut: config.heldOut.seed,
          gate: config.gate.seed,
          labels: config.labels.seed,
        },
        dataFingerprints: { traffic: trafficFp },
        ...(opts.trackingUri !== undefined ? { trackingUri: opts.trackingUri } : {}),
        ...(opts.journalDir !== undefined ? { journalDir: opts.journalDir } : {}),
      })
    : undefined;
  const m: Markers = { runDir, skipped: [], log, run };
  try {
    const r = await retrainSteps(config, opts, m, { abs, weak, strong, trafficFp });
    if (run) {
      const end = await run.end("FINISHED");
      r.tracking = {
        localRunId: end.localRunId,
        runDir: end.runDir,
        ...(end.serverRunId ? { serverRunId: end.serverRunId } : {}),
      };
    }
    return r;
  } catch (e) {
    await run?.end("FAILED");
    throw e;
  }
}

async function retrainSteps(
  config: RetrainConfig,
  opts: Parameters<typeof runRetrain>[1],
  m: Markers,
  c: { abs: (p: string) => string; weak: string; strong: string; trafficFp: string },
): Promise<RetrainResult> {
  const { abs, weak, strong } = c;
  const run = m.run;

  // 1. labels from the served answers (label-traffic's workflow), into <run>/labels/
  const labelsFp = fp("labels", config.labels, c.trafficFp, opts.judge, opts.weakModel, opts.strongModel);
  const labels = await step(m, "labels", labelsFp, async (dir) => {
    const r = await runLabelTraffic(
      { ...config.labels, dataset: abs(config.labels.dataset), output: { dir } },
      { ...opts, baseDir: opts.baseDir, log: m.log },
    );
    return { queries: r.queries, labelled: r.result.labelled, byBasis: r.result.byBasis };
  });
  run?.logMetrics({ labels_queries: labels.queries, labels_labelled: labels.labelled });
  const routingFile = path.join(m.runDir, "labels", "routing.jsonl");
  const routingFp = sha256Hex(readFileSync(routingFile));

  // 2. embeddings of every labelled query, in the routing data's query order
  const data = routingFromRoutingRows("traffic", loadRoutingJsonl(routingFile).rows);
  const embedFp = fp("embed", routingFp, config.embedding);
  const embed = await step(m, "embed", embedFp, async (dir) => {
    const { matrix, spec } = await embedQueries(data.queries, config.embedding.precision);
    writeMatrix(path.join(dir, "queries.f32"), matrix);
    return { rows: matrix.rows, dim: matrix.dim, spec };
  });
  const X = readMatrix(path.join(m.runDir, "embed", "queries.f32"), embed.dim);
  if (X.rows !== data.queries.length)
    throw new RouterlabError(`${X.rows} embeddings for ${data.queries.length} queries`, {
      file: "embed/queries.f32",
    });

  // 3. the seeded held-out split (queries with both tiers' quality known); the training routing file
  const wi = data.models.indexOf(weak);
  const si = data.models.indexOf(strong);
  if (wi < 0 || si < 0)
    throw new RouterlabError(`the labels name ${data.models.join(", ")}, not both ${weak} and ${strong}`, {
      file: routingFile,
    });
  const M = data.models.length;
  const qWeak = (i: number) => data.quality[i * M + wi]!;
  const qStrong = (i: number) => data.quality[i * M + si]!;
  const splitFp = fp("split", embedFp, config.heldOut, config.router.shuffleLabels, config.seed);
  const split = await step(m, "split", splitFp, (dir) => {
    const usable = data.queries
      .map((_q, i) => i)
      .filter((i) => Number.isFinite(qWeak(i)) && Number.isFinite(qStrong(i)));
    const order = shuffled(usable, createRng(config.heldOut.seed));
    const k = Math.round(config.heldOut.fraction * order.length);
    const heldOut = order.slice(0, k).sort((a, b) => a - b);
    const train = order.slice(k).sort((a, b) => a - b);
    if (heldOut.length < 10 || train.length < 10)
      throw new RouterlabError(
        `too little labelled traffic: ${heldOut.length} held-out and ${train.length} training queries`,
        {
          file: routingFile,
        },
      );
    const trainQueries = new Set(train.map((i) => data.queries[i]!));
    let rows = readRoutingRows(routingFile).filter((r) => trainQueries.has(r.query));
    if (config.router.shuffleLabels) {
      // move every query's (weak, strong) outcome pair to another training query (seeded permutation)
      const trainTexts = train.map((i) => data.queries[i]!);
      const perm = shuffled(trainTexts, createRng(config.seed + 7));
      const to = new Map(trainTexts.map((q, j) => [q, perm[j]!]));
      const perf = new Map(rows.map((r) => [`${r.query}\u0000${r.model_name}`, r.performance]));
      rows = rows.map((r) => ({
        ...r,
        performance: perf.get(`${to.get(r.query)!}\u0000${r.model_name}`) ?? null,
      }));
    }
    const trainFile = path.join(dir, "train.jsonl");
    writeFileAtomic(trainFile, toJsonl(rows, RoutingRowSchema, trainFile));
    return { heldOut, train, seed: config.heldOut.seed };
  });
  m.log(
    `retrain: ${split.train.length} training / ${split.heldOut.length} held-out queries (split seed ${split.seed})`,
  );
  run?.logParams({
    "split.train": split.train.length,
    "split.held_out": split.heldOut.length,
    "split.seed": split.seed,
  });

  // 4. the challenger, trained by lib/pipeline/train on the training rows (its own test split is a validation)
  const trainFile = path.join(m.runDir, "split", "train.jsonl");
  const trainFp = fp("train", splitFp, config.router, config.seed);
  const trained = await step(m, "train", trainFp, async (dir) => {
    const trainData = routingFromRoutingRows("train", loadRoutingJsonl(trainFile).rows);
    const rowOf = new Map(data.queries.map((q, i) => [q, i]));
    const trainX = pickRows(
      X,
      trainData.queries.map((q) => rowOf.get(q)!),
    );
    const tc = TrainConfigSchema.parse({
      data: { dataset: trainFile, split: { testFraction: 0.2, stratifyBy: "none" } },
      routing: { setting: "binary", weak, strong },
      embedding: { precision: config.embedding.precision, dim: X.dim },
      router: { kind: config.router.kind, hyperparameters: config.router.hyperparameters },
      seed: config.seed,
      tracking: { enabled: false },
      output: { dir, name: "challenger" },
    });
    const r = await runTraining(tc, { embeddings: trainX, log: m.log, tracking: { enabled: false } });
    // lib/pipeline/train records meta.embedding only when it embedded itself: the challenger's vectors came from here
    const file = r.modelFiles!.json;
    const state = loadRouterState(file);
    saveRouterState({ ...state, meta: { ...state.meta, embedding: embed.spec } }, file);
    return { model: file, validation: r.summary };
  });
  run?.logMetrics({
    challenger_validation_label_accuracy: trained.validation.labelAccuracy,
    challenger_validation_mean_quality: trained.validation.meanQuality,
  });

  // 5. the champion, snapshotted into the run (a promotion later replaces the configured file)
  const championSrc = abs(config.champion.model);
  for (const f of [championSrc, `${modelBasePath(championSrc)}.router.bin`])
    if (!existsSync(f))
      throw new RouterlabError("the champion's model file is missing (the router the gateway serves now)", {
        file: f,
        field: "champion.model",
      });
  const promoteBegun = existsSync(path.join(m.runDir, "promote.begun"));
  const championFp = promoteBegun
    ? (JSON.parse(readFileSync(path.join(m.runDir, "champion.done"), "utf8")) as { fingerprint: string })
        .fingerprint
    : fp(
        "champion",
        sha256Hex(readFileSync(championSrc)),
        sha256Hex(readFileSync(`${modelBasePath(championSrc)}.router.bin`)),
      );
  const champion = await step(m, "champion", championFp, (dir) => {
    const files = saveRouterState(loadRouterState(championSrc), path.join(dir, "champion"));
    return { model: files.json, kind: loadRouterState(files.json).kind };
  });

  // 6. both routers scored on the same held-out rows
  const heldX = pickRows(X, split.heldOut);
  const heldTexts = split.heldOut.map((i) => data.queries[i]!);
  const scoreFp = fp("score", trainFp, championFp);
  const scored = await step(m, "score", scoreFp, async (dir) => {
    const q = { X: heldX, texts: heldTexts };
    const ch = strongScores(await loadRouter(trained.model).score(q), strong);
    const cp = strongScores(await loadRouter(champion.model).score(q), strong);
    const rows = split.heldOut.map((i, j) => ({
      query: data.queries[i]!,
      yWeak: qWeak(i),
      yStrong: qStrong(i),
      champion: cp[j]!,
      challenger: ch[j]!,
    }));
    writeFileAtomic(path.join(dir, "held-out.jsonl"), rows.map((r) => JSON.stringify(r) + "\n").join(""));
    return { rows: rows.length };
  });
  const held = readFileSync(path.join(m.runDir, "score", "held-out.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { yWeak: number; yStrong: number; champion: number; challenger: number });

  // 7. the gate
  const gateFp = fp("gate", scoreFp, config.gate);
  const decision = await step(m, "gate", gateFp, (dir) => {
    const d = promotionGate(
      {
        champion: held.map((h) => h.champion),
        challenger: held.map((h) => h.challenger),
        yWeak: held.map((h) => h.yWeak),
        yStrong: held.map((h) => h.yStrong),
      },
      config.gate,
    );
    writeFileAtomic(path.join(dir, "gate.json"), stableStringify(d) + "\n");
    return d;
  });
  m.log(`retrain: gate (${scored.rows} held-out queries): ${decision.reason}`);
  if (run) {
    run.logMetrics({ gate_n: decision.n, gate_promote: decision.promote ? 1 : 0 });
    for (const g of decision.atShare) {
      const s = `s${Math.round(g.share * 100)}`;
      run.logMetrics({
        [`gate_${s}_champion`]: g.champion,
        [`gate_${s}_challenger`]: g.challenger,
        [`gate_${s}_diff`]: g.diff,
        [`gate_${s}_lo`]: g.lo,
        [`gate_${s}_hi`]: g.hi,
      });
    }
    run.logJson("gate.json", decision);
    run.setTags({
      "gate.decision": decision.promote ? "promote" : "keep-champion",
      "gate.reason": decision.reason,
    });
  }
  const result: RetrainResult = {
    runDir: m.runDir,
    decision,
    promoted: false,
    skipped: m.skipped,
    heldOut: split.heldOut.length,
    train: split.train.length,
  };
  if (!decision.promote) return result;

  // 8. export: the challenger's gateway files, checked against routerlab's decisions on the held-out embeddings; with
  // `calibration`, the library's calibration of the challenger's held-out scores is baked into the served artifact
  // (formats that cannot carry a threshold are refused here, before anything is published)
  const exportFp = fp("export", gateFp, config.export, config.calibration ?? null);
  const exported = await step(m, "export", exportFp, async (dir) => {
    const gm = abs(config.export.gatewayModels);
    let calibration: CalibrationInput | undefined;
    if (config.calibration) {
      const set = {
        scores: held.map((h) => h.challenger),
        queryIds: heldTexts,
        yWeak: held.map((h) => h.yWeak),
        yStrong: held.map((h) => h.yStrong),
      };
      const res = calibrate(
        set,
        { kind: "share", value: config.calibration.strongShare },
        { resamples: config.gate.resamples, seed: config.seed, level: config.gate.level },
      );
      const record = makeRecord({
        router: config.router.kind,
        dataset: path.basename(abs(config.labels.dataset)),
        models: [weak, strong],
        result: res,
        nCalibration: held.length,
        fingerprint: dataFingerprint(set.queryIds, set.scores),
        level: config.gate.level,
      });
      const recordFile = path.join(dir, "calibration.json");
      saveRecord(recordFile, record);
      // the held-out rows the threshold was chosen on, as `routerlab verify --calibration-set` reads them
      writeMatrix(path.join(dir, "held-out.f32"), heldX);
      calibration = { record, recordFile, X: heldX, queryIds: heldTexts };
    }
    const r = await exportRouterState(loadRouterState(trained.model), {
      outDir: path.join(dir, "bundle"),
      evalX: heldX,
      gatewayModels: loadGatewayModels(gm),
      gatewayModelsFile: gm,
      ...(config.export.group ? { group: config.export.group } : {}),
      routerFile: trained.model,
      // signed as `routerlab export` signs: with ROUTERLAB_SIGNING_KEY_* when set
      ...(signingKeyFromEnv() ? { key: signingKeyFromEnv() } : {}),
      stem: config.export.stem,
      ...(calibration ? { calibration } : {}),
      metadata: {
        retrain_run: path.basename(m.runDir),
        gate_n: decision.n,
        ...(calibration
          ? {
              operating_point_strong_share: calibration.record.target.value,
              operating_point_threshold: calibration.record.threshold,
            }
          : {}),
      },
      log: m.log,
    });
    return {
      kind: r.kind,
      files: r.files,
      served: r.served,
      warnings: r.warnings,
      ...(calibration ? { threshold: calibration.record.threshold } : {}),
    };
  });
  let operatingPoint: RetrainResult["operatingPoint"];
  if (config.calibration && exported.threshold !== undefined) {
    operatingPoint = { strongShare: config.calibration.strongShare, threshold: exported.threshold };
    result.operatingPoint = operatingPoint;
    const record = loadRecord(path.join(m.runDir, "export", "calibration.json"));
    run?.logJson("calibration.json", record);
    const iv = record.intervals.share;
    run?.logMetrics({
      operating_point_threshold: record.threshold,
      ...(iv.lo !== null && iv.hi !== null
        ? { operating_point_share_lo: iv.lo, operating_point_share_hi: iv.hi }
        : {}),
    });
  }
  run?.setTags({ "export.kind": exported.kind, "export.served": exported.served });

  // 9. promote: publish to the gateway folder (served file last) and/or the S3 store, then the challenger is the champion
  const gatewayDir = config.promote.gatewayDir !== undefined ? abs(config.promote.gatewayDir) : null;
  writeFileAtomic(path.join(m.runDir, "promote.begun"), `${championFp}\n`);
  const promoteFp = fp("promote", exportFp, gatewayDir, config.promote.s3 ?? null, config.champion.model);
  const bundleDir = path.join(m.runDir, "export", "bundle");
  const promoted = await step(m, "promote", promoteFp, async (dir) => {
    let published: RetrainResult["published"];
    let store: RetrainResult["store"];
    if (gatewayDir !== null) {
      makeOutputDir(gatewayDir);
      const bundle = readBundle(bundleDir);
      const p = publishToDir(gatewayDir, bundle.files, bundle.manifest);
      published = { dir: gatewayDir, served: p.served, files: p.order };
    }
    const s3 = config.promote.s3;
    if (s3) {
      const served = readBundle(bundleDir).files.find((f) => f.served)!;
      // a version named by the run and the served bytes: a re-run after a kill retries the same, create-only, version
      const r = await promote(storeFromEnv(s3.bucket, s3.prefix), {
        router: s3.router,
        bundleDir,
        version: `retrain-${sha256Hex(path.basename(m.runDir)).slice(0, 8)}-${sha256Hex(served.bytes).slice(0, 8)}`,
        why: decision.reason,
        provenance: {
          retrain_run: m.runDir,
          gate: { n: decision.n, seed: decision.seed, level: decision.level, atShare: decision.atShare },
          ...(operatingPoint ? { operating_point: operatingPoint } : {}),
        },
      });
      store = {
        bucket: s3.bucket,
        router: s3.router,
        version: r.version,
        previous: r.previous,
        audit: r.audit,
      };
    }
    // the new champion: bin then json, each written durably under the champion's own name (the json names its bin)
    const staged = saveRouterState(
      loadRouterState(trained.model),
      path.join(dir, path.basename(modelBasePath(championSrc))),
    );
    writeFileAtomic(`${modelBasePath(championSrc)}.router.bin`, readFileSync(staged.bin));
    writeFileAtomic(championSrc, readFileSync(staged.json));
    return { published, store };
  });
  if (promoted.published) run?.setTags({ "promote.dir": promoted.published.dir });
  if (promoted.store) run?.setTags({ "promote.s3_version": promoted.store.version });
  result.promoted = true;
  if (promoted.published) result.published = promoted.published;
  if (promoted.store) result.store = promoted.store;
  return result;
}
