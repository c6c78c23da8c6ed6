/**
 * One SimpleQA evaluation end to end, for the CLI and the notebook: TEST questions -> embeddings -> router
 * scores -> threshold -> ask + grade (lib/llm, lib/oracle/grader) -> arms -> outputs -> tracking run.
 */
import path from "node:path";
import type { ModelsConfig } from "../llm/config";
import { modelConfig, modelForRole } from "../llm/config";
import type { LlmClient } from "../llm/types";
import { logLlmStats } from "../llm/cost";
import { GRADER_TEMPLATE } from "../oracle/grader";
import { startRun } from "../tracking";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { EvalSimpleQaConfig } from "./config";
import { resolveFromRoot } from "./config";
import { logToRun, writeOutputs } from "./report";
import { loadEvalRouter, resolveThreshold, scoreQuestions } from "./route";
import type { EvalModels, EvalResult, TestQuestions } from "./run";
import { runSimpleQaEvaluation, selectTestQuestions } from "./run";

export function evalModels(config: EvalSimpleQaConfig, models: ModelsConfig): EvalModels {
  const pick = (role: "weak" | "strong" | "grader"): string => {
    const name = config.roles[role] ?? modelForRole(models, role);
    modelConfig(models, name);
    return name;
  };
  return { weak: pick("weak"), strong: pick("strong"), grader: pick("grader") };
}

/** True when any model the evaluation calls is declared `simulated` (the report then says so loudly). */
export function isSimulated(models: ModelsConfig, m: EvalModels): boolean {
  return [m.weak, m.strong, m.grader].some((n) => modelConfig(models, n).simulated);
}

/** Embeds question texts the way the router's training did (lib/embed, persistent cache). */
export async function embedQuestions(
  texts: readonly string[],
  precision: "fp32" | "int8",
): Promise<EmbeddingMatrix> {
  // Loaded lazily: onnxruntime is heavy and `--help` must stay fast.
  const embed = await import("../embed/index.js");
  const embedder = await embed.createEmbedder({ precision });
  try {
    return (await embed.embedWithCache(texts, { embedder, source: "simpleqa test questions" })).matrix;
  } finally {
    await embedder.dispose();
  }
}

export interface EvaluateOptions {
  readonly config: EvalSimpleQaConfig;
  readonly models: ModelsConfig;
  readonly client: LlmClient;
  /** The router model file (overrides config.router.file). */
  readonly routerFile?: string;
  readonly outDir?: string;
  /**
   * Cancels the run. A caller that passes one owns interruption: the tracking run then installs no signal
   * handlers and is ended here (KILLED) once the in-flight calls have stopped. Without one, lib/tracking ends the
   * run as KILLED on SIGINT/SIGTERM itself.
   */
  readonly signal?: AbortSignal;
  /** MLflow URI (else config.tracking.uri, else MLFLOW_TRACKING_URI, else the local journal only). */
  readonly trackingUri?: string;
  /** false: no tracking run at all (e.g. a quick notebook cell). Default true. */
  readonly track?: boolean;
  readonly progress?: string | null;
  readonly log?: (line: string) => void;
}

export interface EvaluateOutput {
  readonly result: EvalResult;
  readonly questions: TestQuestions;
  readonly files: Record<string, string>;
  readonly simulated: boolean;
  readonly runDir?: string;
  readonly serverRunId?: string;
}

export async function evaluateSimpleQa(opts: EvaluateOptions): Promise<EvaluateOutput> {
  const { config } = opts;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const routerFile = opts.routerFile ?? config.router.file;
  if (routerFile === undefined)
    throw new RouterlabError("no router: set router.file or pass --router", {
      file: "config",
      field: "router.file",
    });
  const models = evalModels(config, opts.models);
  const simulated = isSimulated(opts.models, models);
  const questions = selectTestQuestions(config);
  log(
    `simpleqa: ${questions.rows.length} TEST questions (split seed ${questions.split.seed}, ` +
      `${questions.split.testRows} test / ${questions.split.trainRows} train)${simulated ? " [SIMULATED models]" : ""}`,
  );
  const router = loadEvalRouter(resolveFromRoot(routerFile));
  const X = await embedQuestions(
    questions.rows.map((r) => r.problem),
    router.precision,
  );
  const view = await scoreQuestions(router, X, {
    strongPolicies: config.router.strongPolicies,
    ambiguousMargin: config.router.ambiguousMargin,
    threshold: (scores) => resolveThreshold(config.router.threshold, scores),
  });
  log(`router ${router.kind} (${router.mode}: ${router.labels.join(", ")}), threshold ${view.threshold}`);
  const outDir = resolveFromRoot(opts.outDir ?? config.output.dir);
  const run =
    opts.track === false
      ? undefined
      : startRun({
          experiment: config.tracking.experiment,
          runName: `simpleqa-${router.kind}-${models.weak}-${models.strong}`,
          config: { ...config, router: { ...config.router, file: routerFile }, resolvedModels: models },
          seeds: { seed: config.seed, split: config.data.split.seed },
          dataFingerprints: { simpleqa: questions.fingerprint },
          tags: {
            "routerlab.task": "simpleqa-evaluation",
            "routerlab.simulated": String(simulated),
            "routerlab.split": "test",
          },
          ...((opts.trackingUri ?? config.tracking.uri)
            ? { trackingUri: opts.trackingUri ?? config.tracking.uri }
            : {}),
          handleSignals: opts.signal === undefined,
          log,
        });
  try {
    const result = await runSimpleQaEvaluation({
      client: opts.client,
      config,
      models,
      questions: questions.rows,
      view,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    });
    const extra = {
      router: { file: routerFile, kind: router.kind, mode: router.mode, labels: router.labels },
      split: questions.split,
      dataFile: path.basename(questions.file),
      dataFingerprint: questions.fingerprint,
      promptHash: sha256Hex(JSON.stringify([config.answer.system, config.answer.template, GRADER_TEMPLATE])),
    };
    const files = writeOutputs(outDir, result, { simulated, extra });
    if (run) {
      run.logParams({ "prompt.hash": extra.promptHash, "router.threshold": result.threshold });
      run.logText("grader-template.txt", GRADER_TEMPLATE);
      logLlmStats(run, result.spend);
      await logToRun(run, result, files);
    }
    const end = run ? await run.end("FINISHED") : undefined;
    return {
      result,
      questions,
      files,
      simulated,
      ...(end ? { runDir: end.runDir } : {}),
      ...(end?.serverRunId ? { serverRunId: end.serverRunId } : {}),
    };
  } catch (e) {
    if (run) await run.end(opts.signal?.aborted ? "KILLED" : "FAILED");
    throw e;
  }
}
