import { availableParallelism } from "node:os";
import path from "node:path";
import { calibrate, dataFingerprint, driftCheck, verifyHoldout } from "../calibrate/calibrate";
import type { CalibrationRecord } from "../calibrate/record";
import { makeRecord, recordFileText } from "../calibrate/record";
import { bundledRouting } from "../data/bundled";
import type { RoutingData } from "../data/routing";
import { selectRows } from "../data/routing";
import { dropLeakedTestRows } from "../data/split";
import { deriveTask } from "../routers/labels";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { RouterEvaluation } from "../eval/evaluate";
import { evaluateRouter, evaluationJson } from "../eval/evaluate";
import { featureScores } from "../routers/feature-score";
import { loadPublishedMetrics } from "../eval/published";
import type { ArenaPoint } from "../eval/arena";
import { arenaOfBinaryPolicy } from "../eval/arena";
import { oracleGap, routerArenaOptimality } from "../eval/optimality";
import type { ArenaRow, OptimalityRow } from "../eval/report";
import {
  arenaHtml,
  calibrationRecordHtml,
  evaluationReportHtml,
  optimalityHtml,
  scoreCalibrationHtml,
} from "../eval/report";
import type { ScoreCalibration } from "../eval/score-calibration";
import { scoreCalibration } from "../eval/score-calibration";
import { saveScoresFile } from "../eval/scores-file";
import { startRun } from "../tracking/run";
import { outDir as defaultOutDir } from "../util/paths";
import { progressBar } from "../util/progress";
import { createRng } from "../util/random";
import { jobFolds, outOfFoldScores } from "./binary";
import { embedDatasets } from "./embed-datasets";
export { embedAll } from "./embed-datasets";
import { calibrationSets } from "./calibration-sets";
import type { MainJobConfig } from "./config";
import { featureLogregScores } from "./feature-logreg";
import { sampleOf } from "./fit";
import type { MultiComparison } from "./multi";
import { compareMultiRouters } from "./multi";
import { multiReportHtml } from "./multi-report";
import type { StepTime } from "./timing";
import { StepTimer } from "./timing";
import { type OutputFile, recoverFileSet, writeFileSetAtomic, makeOutputDir } from "../util/atomic-write";
import type { ScorerInput, ServableSummary } from "./servable";
import { servableHtml, servableJson, servableLines, servableSummary } from "./servable";

export interface BinaryDatasetResult {
  dataset: string;
  models: readonly [string, string];
  n: number;
  evaluations: RouterEvaluation[];
  fitSeconds: Record<string, number>;
  calibration: CalibrationRecord;
  /** Which scorers the gateway can serve, the recommended one and the gap to the best unservable one. */
  servable: ServableSummary;
  /**
   * RouterArena's accuracy-cost score per scorer at its operating point (the first point reaching CPT(50%)), then
   * the all-weak and all-strong policies; null when the dataset's quality is not a correctness in [0, 1] or a cost
   * is unknown.
   */
  arena: ArenaRow[] | null;
  /**
   * At the same operating points and for the same reference policies: RouterArena's optimality scores (null when
   * `arena` is) and LLMRouterBench's gap to the oracle.
   */
  optimality: OptimalityRow[];
  reportFile: string;
}

export interface MainJobResult {
  outDir: string;
  embedding: { spec: EmbeddingSpec; texts: number; hits: number; misses: number; seconds: number };
  binary: BinaryDatasetResult[];
  multi?: MultiComparison;
  trackingRunDirs: string[];
  seconds: number;
  /** Wall time per step (timing.ts). */
  steps: StepTime[];
}

type Log = (msg: string) => void;

/**
 * The main job: bundled data -> gateway embeddings -> every router -> evaluation against baselines ->
 * calibration -> tracked runs and an HTML report. Needs no server: tracking journals locally unless
 * MLFLOW_TRACKING_URI is set.
 */
export async function runMainJob(
  config: MainJobConfig,
  log: Log = (m) => process.stderr.write(`${m}\n`),
): Promise<MainJobResult> {
  const started = performance.now();
  const timer = new StepTimer();
  const out = config.outDir ?? path.join(defaultOutDir(), "main");
  makeOutputDir(out);
  recoverFileSet(out, { subfolders: true }); // a report set a killed run committed is completed before anything reads the folder

  log("[1/5] loading bundled data");
  const sample = (d: RoutingData): RoutingData =>
    config.sample === undefined
      ? d
      : selectRows(
          d,
          sampleOf(
            Array.from({ length: d.queryIds.length }, (_, i) => i),
            config.sample,
            config.seed,
          ),
        );
  const binaryData = config.binary.datasets.map((name) => sample(bundledRouting(name).data));
  let multiTrain: RoutingData | undefined;
  let multiTest: RoutingData | undefined;
  if (config.multi.enabled) {
    multiTrain = sample(bundledRouting("llmrouter-train").data);
    // 119 test questions also appear in train: drop them so the test is leakage-free.
    multiTest = sample(dropLeakedTestRows(multiTrain, bundledRouting("llmrouter-test").data));
  }

  timer.mark("load data");
  log("[2/5] embedding queries (all-MiniLM-L6-v2, cached)");
  const all = [...binaryData, ...(multiTrain ? [multiTrain, multiTest!] : [])];
  // One stream in dataset order: each dataset is fitted as soon as its texts are embedded, while the later
  // datasets' texts are embedded alongside (embed-datasets.ts).
  const embedding = embedDatasets(all, config.embedding.precision, (d, seconds) => {
    if (d !== all[0]) log(`  embeddings of ${d.name} ready (${seconds.toFixed(0)} s after the start)`);
  });
  /** `d`'s embeddings, and how long the job waited for them (a part of the step that needs them). */
  const waitFor = async (d: RoutingData) => {
    const t0 = performance.now();
    const X = await embedding.matrix(d);
    const seconds = (performance.now() - t0) / 1000;
    return { X, waited: seconds >= 0.05 ? [{ name: `waiting for ${d.name}'s embeddings`, seconds }] : [] };
  };
  const runDirs: string[] = [];
  // every report file of the run (`<dataset>/report.html`, ..., `summary.json`): written as one set at the end
  const reports: OutputFile[] = [];
  const binary: BinaryDatasetResult[] = [];
  let multi: MultiComparison | undefined;
  let embedded: Awaited<typeof embedding.done>;
  try {
    const spec = await embedding.spec;
    if (all.length > 0) await embedding.matrix(all[0]!);
    timer.mark(
      `embedding ${all[0]?.name ?? "nothing"} (${all[0]?.queries.length ?? 0} texts; the rest alongside the fits)`,
    );
    const published = loadPublishedMetrics();
    for (const data of binaryData) {
      const { X, waited } = await waitFor(data);
      log(
        `[3/5] ${data.name}: ${config.binary.folds}-fold cross-validation of ${config.binary.routers.length} routers`,
      );
      const r = await runBinaryDataset(config, data, X, spec, out, published, log);
      binary.push(r.result);
      reports.push(...r.reports);
      runDirs.push(r.runDir);
      timer.mark(`${data.name}: routers, evaluation, calibration`, [
        ...waited,
        ...Object.entries(r.result.fitSeconds).map(([name, seconds]) => ({
          name: `${name} fit (sum over folds)`,
          seconds,
        })),
      ]);
    }

    if (multiTrain && multiTest) {
      const train = await waitFor(multiTrain);
      const test = await waitFor(multiTest);
      log(
        `[4/5] ${multiTest.name}: multi-model routing over ${multiTest.models.length} models (AIQ vs Zero router)`,
      );
      const r = await runMulti(config, multiTrain, multiTest, train.X, test.X, spec);
      multi = r.multi;
      reports.push(...r.reports);
      runDirs.push(r.runDir);
      timer.mark(`${multiTest.name}: multi-model routing`, [...train.waited, ...test.waited]);
    }
    embedded = await embedding.done;
  } catch (e) {
    embedding.stop();
    await embedding.done.catch(() => undefined);
    throw e;
  }
  log("[5/5] writing the summary");
  const result: MainJobResult = {
    outDir: out,
    embedding: {
      spec: embedded.spec,
      texts: embedded.texts,
      hits: embedded.hits,
      misses: embedded.misses,
      seconds: embedded.seconds,
    },
    binary,
    multi,
    trackingRunDirs: runDirs,
    seconds: (performance.now() - started) / 1000,
    steps: timer.steps,
  };
  // the reports of every dataset and the summary appear together or not at all (a kill leaves the previous run's)
  reports.push({ name: "summary.json", data: JSON.stringify(summaryJson(config, result), null, 2) + "\n" });
  writeFileSetAtomic(out, reports);
  return result;
}

function costColumn(d: RoutingData, m: number): Float64Array {
  const M = d.models.length;
  return Float64Array.from({ length: d.queryIds.length }, (_, q) => d.cost[q * M + m]!);
}

function column(d: RoutingData, m: number): Float64Array {
  const M = d.models.length;
  return Float64Array.from({ length: d.queryIds.length }, (_, q) => d.quality[q * M + m]!);
}

async function runBinaryDataset(
  config: MainJobConfig,
  data: RoutingData,
  X: EmbeddingMatrix,
  spec: EmbeddingSpec,
  out: string,
  published: ReturnType<typeof loadPublishedMetrics>,
  log: Log,
): Promise<{ result: BinaryDatasetResult; runDir: string; reports: OutputFile[] }> {
  const models = data.models as readonly [string, string];
  const yWeak = column(data, 0);
  const yStrong = column(data, 1);
  const dir = path.join(out, data.name);
  makeOutputDir(path.join(dir, "scores"));
  const run = startRun({
    experiment: config.tracking.experiment,
    runName: `${data.name}-binary`,
    config: { ...config, dataset: data.name },
    seeds: { seed: config.seed },
    dataFingerprints: { [data.name]: dataFingerprint(data.queryIds, yWeak) },
    tags: { "routerlab.job": "main", "routerlab.dataset": data.name },
  });
  try {
    run.logInput({
      name: data.name,
      data: data.queryIds.join("\n"),
      source: `bundled:${data.name}`,
      context: "evaluation",
    });
    const evaluations: RouterEvaluation[] = [];
    const scorers: ScorerInput[] = [];
    const oofScores = new Map<string, Float64Array>();
    const fitSeconds: Record<string, number> = {};
    const scoreCals: { router: string; cal: ScoreCalibration }[] = [];
    const cWeak = costColumn(data, 0);
    const cStrong = costColumn(data, 1);
    const arenaApplies =
      (data.qualityScale === undefined || (data.qualityScale.min === 0 && data.qualityScale.max === 1)) &&
      [...cWeak, ...cStrong].every((c) => Number.isFinite(c) && c > 0);
    const arena: ArenaRow[] = [];
    const optimality: OptimalityRow[] = [];
    /** The benchmark metrics of a binary policy (strong[i]: query i goes to the strong model). */
    const benchmarkRows = (router: string, strong: readonly boolean[]): ArenaPoint | undefined => {
      const chosen = strong.map((s) => (s ? 1 : 0));
      optimality.push({
        router,
        routerArena: arenaApplies ? routerArenaOptimality(chosen, data.quality, data.cost, 2) : null,
        oracleGap: oracleGap(chosen, data.quality, 2),
      });
      if (!arenaApplies) return undefined;
      const point = arenaOfBinaryPolicy(strong, yWeak, yStrong, cWeak, cStrong);
      arena.push({ router, ...point });
      return point;
    };
    const regime = `${config.binary.folds}-fold cross-validation, in-domain (out-of-fold scores)`;
    // One set of outer folds and one labelling for every scorer.
    const splits = jobFolds(data, config.binary.folds, config.seed);
    const labels = deriveTask(data, {
      setting: "binary",
      weak: models[0],
      strong: models[1],
      label: config.binary.label,
    }).labels;
    /**
     * Records one scorer's out-of-fold scores: its evaluation, and for trained scorers (`fit` given) the scores
     * file, the log line and the tracked metrics.
     */
    const record = (
      name: string,
      kind: string,
      scoreRegime: string,
      scores: Float64Array,
      fit?: {
        seconds: number;
        cached: boolean;
        logName: string;
        metrics: readonly ("cpt80" | "fit_seconds")[];
      },
    ): void => {
      const e = evaluateRouter(
        { router: name, regime: scoreRegime, scores, yWeak, yStrong },
        { resamples: config.binary.bootstrapResamples, seed: config.seed },
      );
      evaluations.push(e);
      scorers.push({ evaluation: e, kind, scores });
      const cal = scoreCalibration(scores, labels);
      scoreCals.push({ router: name, cal });
      const op = e.operatingPoint;
      const arenaPoint = benchmarkRows(
        name,
        Array.from(scores, (s) => (op.strict ? s > op.threshold : s >= op.threshold)),
      );
      if (!fit) return;
      fitSeconds[name] = fit.seconds;
      oofScores.set(name, scores);
      saveScoresFile(path.join(dir, "scores", `${name}.json`), {
        router: name,
        dataset: data.name,
        queryIds: [...data.queryIds],
        models: [...models],
        strongProbability: Array.from(scores),
        regime: scoreRegime,
      });
      log(
        `  ${fit.logName} APGR ${fmt(e.summary.apgr)}  CPT(50%) ${pct(e.summary.cpt50.value)}  CPT(80%) ${pct(e.summary.cpt80.value)}  AUROC ${fmt(cal.auroc)}` +
          (fit.cached ? "  (cached)" : `  fit ${fit.seconds.toFixed(1)}s`),
      );
      run.logMetrics(
        {
          [`${name}.apgr`]: e.summary.apgr ?? NaN,
          [`${name}.cpt50`]: e.summary.cpt50.value ?? NaN,
          ...(fit.metrics.includes("cpt80") ? { [`${name}.cpt80`]: e.summary.cpt80.value ?? NaN } : {}),
          ...(fit.metrics.includes("fit_seconds") ? { [`${name}.fit_seconds`]: fit.seconds } : {}),
          [`${name}.auroc`]: cal.auroc ?? NaN,
          [`${name}.brier`]: cal.brier ?? NaN,
          [`${name}.ece`]: cal.ece ?? NaN,
          ...(arenaPoint ? { [`${name}.arena_score`]: arenaPoint.score } : {}),
        },
        0,
      );
    };
    for (const rs of config.binary.routers) {
      const bar = progressBar(`  ${rs.name}`, config.binary.folds, "folds");
      const oof = await outOfFoldScores({
        spec: rs,
        data,
        X,
        folds: config.binary.folds,
        splits,
        label: config.binary.label,
        embeddingSpec: spec,
        seed: config.seed,
        useCache: config.modelCache,
        foldWorkers: config.binary.foldWorkers ?? Math.min(4, availableParallelism()),
        onFold: () => bar.tick(),
      });
      bar.stop();
      record(rs.name, rs.kind, regime, oof.scores, {
        seconds: oof.fitSeconds,
        cached: oof.cachedFolds === config.binary.folds,
        logName: rs.name.padEnd(6),
        metrics: ["cpt80", "fit_seconds"],
      });
    }
    const { enabled: logregOn, ...logregOptions } = config.binary.featureLogreg;
    if (logregOn) {
      const name = "logreg-emb-features";
      const lr = featureLogregScores({
        texts: data.queries,
        queryIds: data.queryIds,
        groups: data.groups,
        X,
        labels,
        yWeak,
        yStrong,
        splits,
        embeddingSpec: spec,
        seed: config.seed,
        options: logregOptions,
        useCache: config.modelCache,
      });
      const lrRegime = `${regime}; L2 by inner ${logregOptions.innerFolds}-fold CV on each training part (chosen ${lr.chosenL2.join(", ")})`;
      record(name, name, lrRegime, lr.scores, {
        seconds: lr.seconds,
        cached: lr.fromCache,
        logName: name,
        metrics: [],
      });
    }
    // Baselines. feature-score: logistic regression on subject + text shape, on the same folds.
    record(
      "feature-score (baseline)",
      "feature-score",
      `${regime}; logistic regression on subject and text shape, no embeddings`,
      featureScores(data.queries, data.groups, labels, { splits }),
    );
    // The random router (seeded uniform scores) is the baseline every router is compared with.
    const rng = createRng(config.seed);
    record(
      "random (baseline)",
      "random",
      "seeded uniform scores",
      Float64Array.from({ length: data.queryIds.length }, () => rng.next()),
    );

    for (const [router, toStrong] of [
      ["all weak", false],
      ["all strong", true],
    ] as const)
      benchmarkRows(router, new Array<boolean>(yWeak.length).fill(toStrong));

    // Calibrate the scorer recommended for the gateway (the best servable one); when none of the job's scorers is
    // servable, the best trained registry router, never a baseline.
    const servable = servableSummary(scorers, yWeak, yStrong);
    const best =
      servable.recommended?.router ?? bestRouter(evaluations.slice(0, config.binary.routers.length)).router;
    const calibration = calibrateBest(config, data, oofScores.get(best)!, best);

    const html = evaluationReportHtml({ dataset: data.name, models, evals: evaluations, published }).replace(
      "</body>",
      `${servableHtml(servable)}${scoreCalibrationHtml(scoreCals)}${arenaHtml(arenaApplies ? arena : null)}${optimalityHtml(optimality)}<h2>Calibration of the best router the gateway can serve (${best})</h2>${calibrationRecordHtml(calibration)}</body>`,
    );
    // written by runMainJob with the other reports, as one set (the folder also holds the cached per-router scores)
    const reports: OutputFile[] = [
      { name: `${data.name}/calibration.json`, data: recordFileText(calibration) },
      {
        name: `${data.name}/metrics.json`,
        data: JSON.stringify(evaluationJson(data.name, models, evaluations), null, 2) + "\n",
      },
      { name: `${data.name}/report.html`, data: html },
    ];
    run.logMetrics({
      "calibration.threshold": calibration.threshold,
      "calibration.share": calibration.calibration.share,
    });
    run.logHtml("report.html", html);
    run.logJson("calibration.json", calibration);
    run.logJson("servable.json", servableJson(servable));
    run.logJson("metrics.json", evaluationJson(data.name, models, evaluations));
    await run.end("FINISHED");
    return {
      result: {
        dataset: data.name,
        models,
        n: data.queryIds.length,
        evaluations,
        fitSeconds,
        calibration,
        servable,
        arena: arenaApplies ? arena : null,
        optimality,
        reportFile: path.join(dir, "report.html"),
      },
      runDir: run.runDir,
      reports,
    };
  } catch (e) {
    await run.end("FAILED");
    throw e;
  }
}

function bestRouter(evals: readonly RouterEvaluation[]): RouterEvaluation {
  return evals.reduce((a, b) => ((b.summary.apgr ?? -Infinity) > (a.summary.apgr ?? -Infinity) ? b : a));
}

/** Calibrates the best router's threshold for the target share on one part, verifies it on the rest. */
function calibrateBest(
  config: MainJobConfig,
  data: RoutingData,
  scores: Float64Array,
  router: string,
): CalibrationRecord {
  const { cal, hold, calSet, holdSet } = calibrationSets(data, scores, {
    holdoutFraction: config.calibration.holdoutFraction,
    seed: config.seed + 7,
  });
  const result = calibrate(
    calSet,
    { kind: "share", value: config.calibration.targetShare },
    { resamples: config.calibration.resamples, seed: config.seed, newTrafficSize: hold.length },
  );
  return makeRecord({
    router,
    dataset: data.name,
    models: [data.models[0]!, data.models[1]!],
    result,
    nCalibration: cal.length,
    holdout: verifyHoldout(result, holdSet),
    drift: driftCheck(calSet.scores, holdSet.scores),
    fingerprint: dataFingerprint(calSet.queryIds, calSet.scores),
  });
}

async function runMulti(
  config: MainJobConfig,
  train: RoutingData,
  test: RoutingData,
  Xtrain: EmbeddingMatrix,
  Xtest: EmbeddingMatrix,
  spec: EmbeddingSpec,
): Promise<{ multi: MultiComparison; runDir: string; reports: OutputFile[] }> {
  const run = startRun({
    experiment: config.tracking.experiment,
    runName: "llmrouter-multi",
    config: { ...config, dataset: test.name },
    seeds: { seed: config.seed },
    tags: { "routerlab.job": "main", "routerlab.dataset": "llmrouter" },
  });
  try {
    const multi = await compareMultiRouters({
      train,
      test,
      Xtrain,
      Xtest,
      specs: config.multi.routers,
      lambdas: config.multi.lambdas,
      embeddingSpec: spec,
      seed: config.seed,
      useCache: config.modelCache,
    });
    const html = multiReportHtml(multi);
    const reports: OutputFile[] = [
      { name: "llmrouter/multi.json", data: JSON.stringify(multi, null, 2) + "\n" },
      { name: "llmrouter/report.html", data: html },
    ];
    run.logMetrics({
      "zero_router.aiq": multi.zeroAiq,
      ...Object.fromEntries(multi.routers.map((r) => [`${r.router}.aiq`, r.aiq])),
    });
    run.logHtml("report.html", html);
    await run.end("FINISHED");
    return { multi, runDir: run.runDir, reports };
  } catch (e) {
    await run.end("FAILED");
    throw e;
  }
}

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || Number.isNaN(v) ? "n/a" : v.toFixed(digits);
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "not reached" : `${(v * 100).toFixed(1)}%`;
}

function summaryJson(config: MainJobConfig, r: MainJobResult): object {
  return {
    schema: "routerlab.main-job.v1",
    config,
    seconds: r.seconds,
    embedding: r.embedding,
    binary: r.binary.map((b) => ({
      dataset: b.dataset,
      n: b.n,
      routers: b.evaluations.map((e) => ({
        router: e.router,
        apgr: e.summary.apgr,
        apgrInterval: e.bootstrap.apgr,
        cpt50: e.summary.cpt50.value,
        cpt50Interval: e.bootstrap.cpt50,
        cpt80: e.summary.cpt80.value,
        cpt80Interval: e.bootstrap.cpt80,
        fitSeconds: b.fitSeconds[e.router] ?? null,
      })),
      calibration: {
        router: b.calibration.router,
        threshold: b.calibration.threshold,
        share: b.calibration.calibration.share,
        holdout: b.calibration.holdout,
      },
      servable: servableJson(b.servable),
      report: b.reportFile,
    })),
    multi: r.multi && {
      dataset: r.multi.dataset,
      nTrain: r.multi.nTrain,
      nTest: r.multi.nTest,
      zeroAiq: r.multi.zeroAiq,
      zeroAiqInterval: r.multi.zeroAiqInterval,
      bootstrap: r.multi.bootstrap,
      oracle: r.multi.oracle,
      routers: r.multi.routers.map((x) => ({
        router: x.router,
        kind: x.kind,
        aiq: x.aiq,
        aiqInterval: x.aiqInterval,
        cost: x.point.cost,
        quality: x.point.quality,
      })),
    },
    trackingRunDirs: r.trackingRunDirs,
  };
}

/** The table `npm start` prints. */
export function summaryTable(r: MainJobResult): string {
  const lines: string[] = [];
  for (const b of r.binary) {
    lines.push(`\n${b.dataset} (N = ${b.n}; weak ${b.models[0]}, strong ${b.models[1]})`);
    lines.push(
      `  ${"router".padEnd(20)} ${"APGR".padStart(6)} ${"CPT(50%)".padStart(12)} ${"CPT(80%)".padStart(12)}`,
    );
    for (const e of b.evaluations)
      lines.push(
        `  ${e.router.padEnd(20)} ${fmt(e.summary.apgr).padStart(6)} ${pct(e.summary.cpt50.value).padStart(12)} ${pct(e.summary.cpt80.value).padStart(12)}`,
      );
    lines.push(...servableLines(b.servable));
    const c = b.calibration;
    lines.push(
      `  calibrated ${c.router}: t = ${c.threshold.toPrecision(5)} for ${pct(c.target.value)} strong; held-out share ${pct(c.holdout?.realised.share)} ` +
        `(95% interval ${pct(c.intervals.share.lo)}-${pct(c.intervals.share.hi)})`,
    );
    lines.push(`  report: ${b.reportFile}`);
  }
  if (r.multi) {
    const m = r.multi;
    lines.push(
      `\n${m.dataset} multi-model (${m.models.length} models; train ${m.nTrain}, test ${m.nTest} after removing leaked questions)`,
    );
    lines.push(
      `  ${"router".padEnd(20)} ${"AIQ".padStart(7)} ${"quality".padStart(8)} ${"cost $/query".padStart(13)}`,
    );
    lines.push(`  ${"Zero router".padEnd(20)} ${fmt(m.zeroAiq, 4).padStart(7)}`);
    for (const x of m.routers)
      lines.push(
        `  ${x.router.padEnd(20)} ${fmt(x.aiq, 4).padStart(7)} ${fmt(x.point.quality, 4).padStart(8)} ${x.point.cost.toExponential(2).padStart(13)}`,
      );
    lines.push(
      `  ${"oracle".padEnd(20)} ${"".padStart(7)} ${fmt(m.oracle.quality, 4).padStart(8)} ${m.oracle.cost.toExponential(2).padStart(13)}`,
    );
  }
  lines.push(
    `\nembedded ${r.embedding.texts} distinct queries (${r.embedding.misses} computed, ${r.embedding.hits} from cache) in ${r.embedding.seconds.toFixed(1)}s; ` +
      `total ${r.seconds.toFixed(1)}s; runs journaled in ${r.trackingRunDirs.length} run folders (sync with 'routerlab tracking sync')`,
  );
  return lines.join("\n");
}
