/**
 * Oracle generation: the weak and the strong model answer every selected TRAIN question; each answer is graded
 * against the gold answer (SimpleQA) or, for rows without gold answers, judged pairwise in both orders and scored
 * 0-1; the 9-cell matrix maps to routing labels. All model calls go through the client's persistent response
 * cache, so a re-run after a crash pays for nothing twice; outputs are written only at the end, atomically.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { bundledPaths } from "../data/bundled";
import { detectFormat } from "../data/detect";
import { loadJaeger, loadOtlp } from "../data/traces";
import { loadSimpleQa } from "../data/simpleqa";
import { splitSimpleQa } from "../data/simpleqa-split";
import type { ChatMessage, ChatResult, LlmClient, LlmStats } from "../llm/types";
import { startRun } from "../tracking";
import type { TrackedRun } from "../tracking";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import { projectRoot } from "../util/paths";
import { progressBar } from "../util/progress";
import { createRng, shuffled } from "../util/random";
import type { OracleConfig } from "./config";
import { gradeAnswer, GRADER_TEMPLATE } from "./grader";
import type { GradeResult } from "./grader";
import { judgePair, judgeQuality, PAIRWISE_TEMPLATE, positionBias, QUALITY_TEMPLATE } from "./judge";
import type { PositionBiasReport } from "./judge";
import { cellKey, countMatrix, formatMatrix, labelDistribution, labelFor } from "./labels";
import type { OracleMatrix } from "./labels";
import {
  dpoRows,
  DpoRowSchema,
  OUTPUT_FILES,
  OracleRowSchema,
  readJsonl,
  routingRows,
  RoutingRowSchema,
  sftRows,
  SftRowSchema,
  toJsonl,
} from "./outputs";
import { writeFileSetAtomic } from "../util/atomic-write";
import type { GradedRow, JudgedRow, OracleRow } from "./outputs";

export interface OracleModels {
  readonly weak: string;
  readonly strong: string;
  readonly grader: string;
  readonly judge: string;
}

/** One question to label; `gold` is absent for rows the judge handles. */
export interface OracleInput {
  readonly id: string;
  readonly query: string;
  readonly gold?: string;
  readonly topic?: string;
}

export interface SelectedInputs {
  readonly rows: OracleInput[];
  /** SimpleQA only: the split the rows were drawn from (train side). */
  readonly split?: {
    seed: number;
    testFraction: number;
    trainRows: number;
    testRows: number;
    testIds: string[];
  };
  /** sha256 of the data file. */
  readonly fingerprint: string;
  readonly file: string;
}

const JudgeInputSchema = z.looseObject({
  id: z.union([z.string().min(1), z.number()]),
  query: z.string().min(1),
});

function sample<T>(rows: readonly T[], limit: number | undefined, seed: number): T[] {
  if (limit === undefined || limit >= rows.length) return rows.slice();
  const keep = new Set(
    shuffled(
      rows.map((_, i) => i),
      createRng(seed),
    ).slice(0, limit),
  );
  return rows.filter((_, i) => keep.has(i));
}

/** One row per distinct query text among the LLM calls of a Jaeger or OTLP export; id = `<traceId>/<spanId>`. */
function traceInputs(file: string): OracleInput[] {
  const format = detectFormat(file);
  if (format !== "jaeger-json" && format !== "otlp-json")
    throw new RouterlabError(`expected a Jaeger or OTLP JSON trace export, found ${format}`, {
      file,
      field: "data.file",
    });
  const load = format === "jaeger-json" ? loadJaeger(file) : loadOtlp(file);
  const seen = new Set<string>();
  const out: OracleInput[] = [];
  for (const r of load.llm) {
    if (r.query.trim() === "" || seen.has(r.query)) continue;
    seen.add(r.query);
    out.push({ id: `${r.traceId}/${r.spanId}`, query: r.query });
  }
  if (out.length === 0)
    throw new RouterlabError("no LLM calls with query text in this trace export", { file });
  return out;
}

/** The rows to label: SimpleQA TRAIN questions (a seeded sample, in split order), a JSONL of `{id, query}`, or traces. */
export function selectInputs(config: OracleConfig, baseDir = projectRoot()): SelectedInputs {
  const d = config.data;
  if (d.source === "simpleqa") {
    const file = d.file ? path.resolve(baseDir, d.file) : bundledPaths().simpleqa;
    const loaded = loadSimpleQa(file);
    const split = splitSimpleQa(loaded.rows, { seed: d.split.seed, testFraction: d.split.testFraction });
    const picked = sample(split.train, d.limit, d.sampleSeed);
    return {
      rows: picked.map((r) => ({ id: r.id, query: r.problem, gold: r.answer, topic: r.topic })),
      split: {
        seed: d.split.seed,
        testFraction: d.split.testFraction,
        trainRows: split.train.length,
        testRows: split.test.length,
        testIds: split.test.map((r) => r.id),
      },
      fingerprint: sha256Hex(readFileSync(file)),
      file,
    };
  }
  const file = path.resolve(baseDir, d.file);
  if (d.source === "traces")
    return {
      rows: sample(traceInputs(file), d.limit, d.sampleSeed),
      fingerprint: sha256Hex(readFileSync(file)),
      file,
    };
  const rows = readJsonl(file, JudgeInputSchema).map((r) => ({ id: String(r.id), query: r.query }));
  const ids = new Set<string>();
  rows.forEach((r, i) => {
    if (ids.has(r.id)) throw new RouterlabError(`duplicate id '${r.id}'`, { file, line: i + 1, field: "id" });
    ids.add(r.id);
  });
  return { rows: sample(rows, d.limit, d.sampleSeed), fingerprint: sha256Hex(readFileSync(file)), file };
}

/** sha256 over every prompt template the run uses: a change of prompt is a change of labels. */
export function promptHash(config: OracleConfig): string {
  return sha256Hex(
    JSON.stringify([
      config.answer.system,
      config.answer.template,
      GRADER_TEMPLATE,
      PAIRWISE_TEMPLATE,
      QUALITY_TEMPLATE,
    ]),
  );
}

export interface OracleSummary {
  readonly source: OracleConfig["data"]["source"];
  readonly rows: number;
  readonly split: { seed: number; testFraction: number; trainRows: number; testRows: number } | null;
  readonly sample: { limit: number | null; seed: number };
  readonly models: OracleModels;
  readonly promptHash: string;
  /** weak grade / strong grade -> count (graded rows). */
  readonly matrix: OracleMatrix | null;
  readonly labels: Record<string, number>;
  readonly strongWins: number;
  /** Grader replies that never parsed (counted as NOT_ATTEMPTED); always shown. */
  readonly unparsed: number;
  /** Grades where routerlab's strict parse and simple-evals' reference parse differ. */
  readonly parserDisagreements: number;
  readonly graderRetries: number;
  readonly positionBias: PositionBiasReport | null;
  /** USD of every call behind the dataset at configured prices, whether paid in this process or earlier. */
  readonly datasetCostUsd: number;
  /** What this process paid and how many calls the cache answered (from the client). */
  readonly spend: LlmStats;
  readonly routingDuplicatesSkipped: number;
  readonly files: Record<keyof typeof OUTPUT_FILES, string>;
}

export interface OracleResult {
  readonly rows: OracleRow[];
  readonly summary: OracleSummary;
  readonly matrixText: string | null;
  readonly outDir: string;
}

export interface RunOracleOptions {
  readonly client: LlmClient;
  readonly models: OracleModels;
  /** Output folder (absolute, or relative to the working directory); default config.output.dir (from the repo root). */
  readonly outDir?: string;
  readonly inputs?: SelectedInputs;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /** Overrides config.tracking (uri: MLflow server; "journal" for the local journal only). */
  readonly tracking?: { uri?: string; experiment?: string } | false;
}

/** Runs `fn` over `items` with at most `n` in flight; stops scheduling when `signal` aborts or a call fails. */
async function mapPool<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed ??= e;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
  const rejected = results.find((r) => r.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
  return out;
}

function answerMessages(config: OracleConfig, query: string): ChatMessage[] {
  const user = config.answer.template.split("{question}").join(query);
  return config.answer.system === null
    ? [{ role: "user", content: user }]
    : [
        { role: "system", content: config.answer.system },
        { role: "user", content: user },
      ];
}

function answerBase(r: ChatResult) {
  return {
    model: r.model,
    answer: r.text,
    promptTokens: r.usage.promptTokens,
    completionTokens: r.usage.completionTokens,
    costUsd: r.originalCostUsd,
  };
}

function gradedAnswer(r: ChatResult, g: GradeResult): GradedRow["weak"] {
  return {
    ...answerBase(r),
    grade: g.grade,
    referenceGrade: g.referenceGrade,
    unparsed: g.unparsed,
    retried: g.retried,
    graderReplies: [...g.replies],
    graderCostUsd: g.costUsd,
  };
}

/** Labels every input; resumable through the client's cache; writes the output files at the end. */
export async function runOracle(config: OracleConfig, opts: RunOracleOptions): Promise<OracleResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const inputs = opts.inputs ?? selectInputs(config);
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.resolve(projectRoot(), config.output.dir);
  const { client, models } = opts;
  const call = opts.signal ? { signal: opts.signal } : undefined;
  const ask = (model: string, query: string) =>
    client.chat(
      {
        model,
        messages: answerMessages(config, query),
        temperature: config.answer.temperature,
        maxTokens: config.answer.maxTokens,
      },
      call,
    );
  const graded = config.data.source === "simpleqa";
  log(
    `oracle: ${inputs.rows.length} ${graded ? "SimpleQA train" : "judge"} rows from ${inputs.file}` +
      (inputs.split ? ` (split seed ${inputs.split.seed}, test fraction ${inputs.split.testFraction})` : "") +
      `; weak=${models.weak} strong=${models.strong} ${graded ? `grader=${models.grader}` : `judge=${models.judge}`}`,
  );

  const bar = progressBar("oracle", inputs.rows.length, "questions");
  let rows: OracleRow[];
  try {
    rows = await mapPool(
      inputs.rows,
      config.concurrency,
      async (input): Promise<OracleRow> => {
        const [w, s] = await Promise.all([ask(models.weak, input.query), ask(models.strong, input.query)]);
        let row: OracleRow;
        if (graded) {
          if (input.gold === undefined) throw new RouterlabError(`row ${input.id} has no gold answer`);
          const gopts = { temperature: config.grader.temperature, maxTokens: config.grader.maxTokens, call };
          const [gw, gs] = await Promise.all([
            gradeAnswer(
              client,
              models.grader,
              { question: input.query, target: input.gold, predicted: w.text },
              gopts,
            ),
            gradeAnswer(
              client,
              models.grader,
              { question: input.query, target: input.gold, predicted: s.text },
              gopts,
            ),
          ]);
          row = {
            kind: "graded",
            id: input.id,
            query: input.query,
            gold: input.gold,
            topic: input.topic ?? null,
            weak: gradedAnswer(w, gw),
            strong: gradedAnswer(s, gs),
            cell: cellKey(gw.grade, gs.grade),
            label: labelFor(config.labels, gw.grade, gs.grade),
            strongWins: gs.grade === "A" && gw.grade !== "A",
          };
        } else {
          const jopts = { temperature: config.judge.temperature, maxTokens: config.judge.maxTokens, call };
          const [pair, qw, qs] = await Promise.all([
            judgePair(
              client,
              models.judge,
              { rowId: input.id, question: input.query, weak: w.text, strong: s.text },
              config.judge.orderSeed,
              jopts,
            ),
            judgeQuality(client, models.judge, input.query, w.text, jopts),
            judgeQuality(client, models.judge, input.query, s.text, jopts),
          ]);
          const judged: JudgedRow = {
            kind: "judged",
            id: input.id,
            query: input.query,
            weak: {
              ...answerBase(w),
              quality: qw.score,
              qualityReplies: [...qw.replies],
              judgeCostUsd: qw.costUsd,
            },
            strong: {
              ...answerBase(s),
              quality: qs.score,
              qualityReplies: [...qs.replies],
              judgeCostUsd: qs.costUsd,
            },
            pairwise: {
              firstShown: pair.firstShown,
              verdicts: [pair.verdicts[0], pair.verdicts[1]],
              winners: [pair.winners[0], pair.winners[1]],
              winner: pair.winner,
              consistent: pair.consistent,
              replies: [pair.replies[0], pair.replies[1]],
              costUsd: pair.costUsd,
            },
            label: config.judge.labels[pair.winner],
            strongWins: pair.winner === "strong",
          };
          row = judged;
        }
        bar.tick();
        return row;
      },
      opts.signal,
    );
  } finally {
    bar.stop();
  }
  return finish(config, opts, inputs, rows, outDir, log);
}

async function finish(
  config: OracleConfig,
  opts: RunOracleOptions,
  inputs: SelectedInputs,
  rows: OracleRow[],
  outDir: string,
  log: (line: string) => void,
): Promise<OracleResult> {
  const gradedRows = rows.filter((r): r is GradedRow => r.kind === "graded");
  const judgedRows = rows.filter((r): r is JudgedRow => r.kind === "judged");
  const matrix =
    gradedRows.length > 0
      ? countMatrix(gradedRows.map((r) => ({ weak: r.weak.grade, strong: r.strong.grade })))
      : null;
  const labels: Record<string, number> = matrix ? labelDistribution(matrix, config.labels) : {};
  for (const r of judgedRows) labels[r.label] = (labels[r.label] ?? 0) + 1;
  const answers = gradedRows.flatMap((r) => [r.weak, r.strong]);
  const bias = judgedRows.length > 0 ? positionBias(judgedRows.map((r) => r.pairwise)) : null;
  let datasetCost = 0;
  for (const r of rows) {
    datasetCost += r.weak.costUsd + r.strong.costUsd;
    if (r.kind === "graded") datasetCost += r.weak.graderCostUsd + r.strong.graderCostUsd;
    else datasetCost += r.weak.judgeCostUsd + r.strong.judgeCostUsd + r.pairwise.costUsd;
  }
  const routing = routingRows(rows);
  const files = Object.fromEntries(
    Object.entries(OUTPUT_FILES).map(([k, f]) => [k, path.join(outDir, f)]),
  ) as Record<keyof typeof OUTPUT_FILES, string>;
  const summary: OracleSummary = {
    source: config.data.source,
    rows: rows.length,
    split: inputs.split
      ? {
          seed: inputs.split.seed,
          testFraction: inputs.split.testFraction,
          trainRows: inputs.split.trainRows,
          testRows: inputs.split.testRows,
        }
      : null,
    sample: { limit: config.data.limit ?? null, seed: config.data.sampleSeed },
    models: opts.models,
    promptHash: promptHash(config),
    matrix,
    labels,
    strongWins: rows.filter((r) => r.strongWins).length,
    unparsed: answers.filter((a) => a.unparsed).length,
    parserDisagreements: answers.filter((a) => a.grade !== a.referenceGrade).length,
    graderRetries: answers.filter((a) => a.retried).length,
    positionBias: bias,
    datasetCostUsd: datasetCost,
    spend: opts.client.stats(),
    routingDuplicatesSkipped: routing.duplicatesSkipped,
    files,
  };
  // Serialise (and validate) everything before the first write; the five files appear together (one file set), so a
  // full disk or a kill keeps the previous set whole.
  const texts: [string, string][] = [
    [files.dataset, toJsonl(rows, OracleRowSchema, files.dataset)],
    [files.routing, toJsonl(routing.rows, RoutingRowSchema, files.routing)],
    [files.sft, toJsonl(sftRows(rows), SftRowSchema, files.sft)],
    [files.dpo, toJsonl(dpoRows(rows, config.dpo), DpoRowSchema, files.dpo)],
    [files.summary, JSON.stringify(summary, null, 2) + "\n"],
  ];
  writeFileSetAtomic(
    outDir,
    texts.map(([f, t]) => ({ name: path.basename(f), data: t })),
  );

  const matrixText = matrix
    ? formatMatrix(matrix, config.labels, { weak: opts.models.weak, strong: opts.models.strong })
    : null;
  if (matrixText) log(`oracle matrix (rows: weak grade, columns: strong grade):\n${matrixText}`);
  log(
    `labels: ${Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}; strong wins ${summary.strongWins}; unparsed grades ${summary.unparsed}; ` +
      `parser disagreements ${summary.parserDisagreements}`,
  );
  if (bias)
    log(
      `pairwise judge position bias ${bias.bias.toFixed(3)} (first ${bias.first}, second ${bias.second}, tie ${bias.tie}); ` +
        `${(bias.inconsistentRate * 100).toFixed(1)}% of pairs inconsistent across orders -> tie`,
    );
  const t = summary.spend.total;
  log(
    `spend this run: $${t.costUsd.toFixed(6)} over ${t.calls - t.cacheHits} paid calls; ${t.cacheHits} cache hits; ` +
      `dataset cost at configured prices $${datasetCost.toFixed(6)}`,
  );
  log(`wrote ${Object.values(files).join(", ")}`);
  await track(config, opts, inputs, summary, files, log);
  return { rows, summary, matrixText, outDir };
}

async function track(
  config: OracleConfig,
  opts: RunOracleOptions,
  inputs: SelectedInputs,
  summary: OracleSummary,
  files: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const t = opts.tracking;
  if (t === false || (t === undefined && !config.tracking.enabled)) return;
  const uri = t?.uri ?? config.tracking.uri;
  let run: TrackedRun | undefined;
  try {
    run = startRun({
      experiment: t?.experiment ?? config.tracking.experiment,
      runName: `oracle-${summary.source}-${summary.rows}`,
      config,
      seeds: {
        split: inputs.split?.seed ?? 0,
        sample: config.data.sampleSeed,
        judgeOrder: config.judge.orderSeed,
      },
      ...(inputs.fingerprint ? { dataFingerprints: { source: inputs.fingerprint } } : {}),
      ...(uri && uri !== "journal" ? { trackingUri: uri } : {}),
      log,
    });
    run.logParams({
      "resolved.weak": summary.models.weak,
      "resolved.strong": summary.models.strong,
      "resolved.grader": summary.models.grader,
      "resolved.judge": summary.models.judge,
      prompt_hash: summary.promptHash,
    });
    const metrics: Record<string, number> = {
      rows: summary.rows,
      strong_wins: summary.strongWins,
      unparsed: summary.unparsed,
      parser_disagreements: summary.parserDisagreements,
      grader_retries: summary.graderRetries,
      dataset_cost_usd: summary.datasetCostUsd,
      spend_usd: summary.spend.total.costUsd,
      cache_hits: summary.spend.total.cacheHits,
      calls: summary.spend.total.calls,
    };
    for (const [k, v] of Object.entries(summary.labels)) metrics[`label.${k}`] = v;
    if (summary.matrix)
      for (const [k, v] of Object.entries(summary.matrix)) metrics[`cell.${k.replace("/", "_")}`] = v;
    if (summary.positionBias) metrics.position_bias = summary.positionBias.bias;
    for (const [m, s] of Object.entries(summary.spend.byModel)) {
      const key = m.replace(/[^\w\-. /]/g, "_");
      metrics[`spend_usd.${key}`] = s.costUsd;
      metrics[`cache_hits.${key}`] = s.cacheHits;
    }
    run.logMetrics(metrics);
    for (const f of Object.values(files)) await run.logArtifact(f, "oracle");
    const end = await run.end("FINISHED");
    log(
      `tracking: run ${end.localRunId}${end.serverRunId ? ` (server ${end.serverRunId})` : ""} in ${end.runDir}`,
    );
  } catch (e) {
    if (run) await run.end("FAILED").catch(() => undefined);
    throw e;
  }
}
