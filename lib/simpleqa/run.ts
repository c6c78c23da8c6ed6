/**
 * SimpleQA evaluation on the TEST split: route every question with a trained router, ask both the weak and the
 * strong model (so every arm — routed, policy layers, always-weak, always-strong, random — is scored on the same
 * paid-for answers), grade each answer with the oracle's SimpleQA grader, and score the arms. All model calls go
 * through the LLM client's response cache, so a re-run or a run resumed after Ctrl-C pays for nothing twice.
 */
import { readFileSync } from "node:fs";
import { bundledPaths } from "../data/bundled";
import type { SimpleQaRow } from "../data/simpleqa";
import { loadSimpleQa } from "../data/simpleqa";
import { splitSimpleQa } from "../data/simpleqa-split";
import type { Grade } from "../eval/simpleqa";
import type { ChatMessage, ChatResult, LlmClient, LlmStats, TokenUsage } from "../llm/types";
import { gradeAnswer } from "../oracle/grader";
import type { GradeResult } from "../oracle/grader";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import { progressBar } from "../util/progress";
import { createRng, shuffled } from "../util/random";
import type { ArmResult, QuestionOutcome, RouterCurve } from "./arms";
import { randomArm, routerCurve, scoreArm } from "./arms";
import type { EvalSimpleQaConfig } from "./config";
import { resolveFromRoot } from "./config";
import type { Route, RoutedQuestion } from "./policy";
import { applyLayer, thresholdRoutes } from "./policy";
import type { RouterView } from "./route";

export interface TestQuestions {
  readonly rows: SimpleQaRow[];
  readonly file: string;
  /** sha256 of the data file. */
  readonly fingerprint: string;
  readonly split: { seed: number; testFraction: number; trainRows: number; testRows: number };
  /** Every TRAIN question text (for the no-leak check). */
  readonly trainQuestions: ReadonlySet<string>;
}

/** The TEST side of the shared split (a seeded sample of `limit`, kept in split order). */
export function selectTestQuestions(config: EvalSimpleQaConfig): TestQuestions {
  const file = config.data.file ? resolveFromRoot(config.data.file) : bundledPaths().simpleqa;
  const loaded = loadSimpleQa(file);
  const { seed, testFraction } = config.data.split;
  const split = splitSimpleQa(loaded.rows, { seed, testFraction });
  let rows = split.test.slice();
  const limit = config.data.limit;
  if (limit !== undefined && limit < rows.length) {
    const keep = new Set(
      shuffled(
        rows.map((_, i) => i),
        createRng(config.seed),
      ).slice(0, limit),
    );
    rows = rows.filter((_, i) => keep.has(i));
  }
  return {
    rows,
    file,
    fingerprint: sha256Hex(readFileSync(file)),
    split: { seed, testFraction, trainRows: split.train.length, testRows: split.test.length },
    trainQuestions: new Set(split.train.map((r) => r.problem)),
  };
}

export interface EvalModels {
  readonly weak: string;
  readonly strong: string;
  readonly grader: string;
}

/** One model's answer to one question, graded: what goes to the responses artifact. */
export interface AnswerRecord {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly response: string;
  readonly finishReason: string | null;
  readonly usage: TokenUsage;
  /** USD of the answer at configured prices (paid once; a cache hit reports the original cost). */
  readonly costUsd: number;
  readonly cached: boolean;
  readonly grade: Grade;
  readonly referenceGrade: Grade;
  readonly unparsed: boolean;
  readonly graderRetried: boolean;
  readonly graderReplies: readonly string[];
  readonly graderUsage: TokenUsage;
  readonly graderCostUsd: number;
}

export interface QuestionRecord {
  readonly id: string;
  readonly question: string;
  readonly gold: string;
  readonly topic: string;
  readonly score: number;
  readonly policy: string;
  readonly route: Route;
  readonly weak: AnswerRecord;
  readonly strong: AnswerRecord;
}

export interface EvalResult {
  readonly models: EvalModels;
  readonly n: number;
  readonly threshold: number;
  readonly records: QuestionRecord[];
  readonly arms: ArmResult[];
  readonly curve: RouterCurve;
  readonly grading: {
    readonly unparsed: number;
    readonly disagreements: number;
    readonly retries: number;
    readonly costUsd: number;
  };
  /** USD of every answer and grade behind the results, whether paid in this process or earlier (cache). */
  readonly datasetCostUsd: number;
  /** What this process paid (cache hits excluded), from the client. */
  readonly spend: LlmStats;
}

/** Runs `fn` over `n` indices with at most `limit` in flight; stops scheduling when `signal` aborts. */
async function pool(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < n && failed === undefined) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed ??= e;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, n) }, worker));
  if (failed !== undefined) throw failed;
  const rejected = results.find((r) => r.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
}

export function answerMessages(config: EvalSimpleQaConfig, question: string): ChatMessage[] {
  const user = config.answer.template.split("{question}").join(question);
  return config.answer.system !== null
    ? [
        { role: "system", content: config.answer.system },
        { role: "user", content: user },
      ]
    : [{ role: "user", content: user }];
}

/** One model answers one question; the SimpleQA grader grades the answer against the gold one. */
export async function answerAndGrade(
  client: LlmClient,
  config: EvalSimpleQaConfig,
  model: string,
  grader: string,
  row: SimpleQaRow,
  signal: AbortSignal | undefined,
): Promise<AnswerRecord> {
  const call = signal ? { signal } : undefined;
  const messages = answerMessages(config, row.problem);
  const a: ChatResult = await client.chat(
    {
      model,
      messages,
      temperature: config.answer.temperature,
      maxTokens: config.answer.maxTokens,
      seed: config.seed,
    },
    call,
  );
  const g: GradeResult = await gradeAnswer(
    client,
    grader,
    { question: row.problem, target: row.answer, predicted: a.text },
    {
      temperature: config.grader.temperature,
      maxTokens: config.grader.maxTokens,
      seed: config.seed,
      ...(call ? { call } : {}),
    },
  );
  return {
    model,
    messages,
    response: a.text,
    finishReason: a.finishReason,
    usage: a.usage,
    costUsd: a.originalCostUsd,
    cached: a.cached,
    grade: g.grade,
    referenceGrade: g.referenceGrade,
    unparsed: g.unparsed,
    graderRetried: g.retried,
    graderReplies: g.replies,
    graderUsage: g.usage,
    graderCostUsd: g.costUsd,
  };
}

export interface RunEvalOptions {
  readonly client: LlmClient;
  readonly config: EvalSimpleQaConfig;
  readonly models: EvalModels;
  readonly questions: readonly SimpleQaRow[];
  /** The router's scores and policies for `questions` (same order) and the threshold. */
  readonly view: RouterView & { readonly threshold: number };
  readonly signal?: AbortSignal;
  /** Progress bar label (default "simpleqa"); null for none. */
  readonly progress?: string | null;
}

/** Asks, grades and scores; throws the abort reason when `signal` aborts (answers so far stay in the cache). */
export async function runSimpleQaEvaluation(opts: RunEvalOptions): Promise<EvalResult> {
  const { client, config, models, questions, view } = opts;
  const n = questions.length;
  if (n === 0)
    throw new RouterlabError("no test questions to evaluate", { file: "config", field: "data.limit" });
  if (view.scores.length !== n || view.policies.length !== n)
    throw new Error(`router view has ${view.scores.length} scores for ${n} questions`);
  const routes = thresholdRoutes(
    questions.map((q, i) => ({
      text: q.problem,
      score: view.scores[i]!,
      policy: view.policies[i]!,
      strongCostUsd: 0,
    })),
    view.threshold,
  );
  const records: (QuestionRecord | undefined)[] = new Array<QuestionRecord | undefined>(n);
  const bar = opts.progress === null ? undefined : progressBar(opts.progress ?? "simpleqa", n, "questions");
  try {
    await pool(
      n,
      config.concurrency,
      async (i) => {
        const row = questions[i]!;
        const [weak, strong] = await Promise.all([
          answerAndGrade(client, config, models.weak, models.grader, row, opts.signal),
          answerAndGrade(client, config, models.strong, models.grader, row, opts.signal),
        ]);
        records[i] = {
          id: row.id,
          question: row.problem,
          gold: row.answer,
          topic: row.topic,
          score: view.scores[i]!,
          policy: view.policies[i]!,
          route: routes[i]!,
          weak,
          strong,
        };
        bar?.tick();
      },
      opts.signal,
    );
  } finally {
    bar?.stop();
  }
  const done = records as QuestionRecord[];
  return scoreRecords(done, config, models, view.threshold, client.stats());
}

/** The arms, curve and totals from completed records (pure; also used to re-score saved responses). */
export function scoreRecords(
  records: readonly QuestionRecord[],
  config: Pick<EvalSimpleQaConfig, "policies" | "randomSeeds" | "seed">,
  models: EvalModels,
  threshold: number,
  spend: LlmStats,
): EvalResult {
  const outcomes: QuestionOutcome[] = records.map((r) => ({
    weak: { grade: r.weak.grade, costUsd: r.weak.costUsd },
    strong: { grade: r.strong.grade, costUsd: r.strong.costUsd },
    score: r.score,
    policy: r.policy,
  }));
  const routed: RoutedQuestion[] = records.map((r) => ({
    text: r.question,
    score: r.score,
    policy: r.policy,
    strongCostUsd: r.strong.costUsd,
  }));
  const n = records.length;
  const seeds = Array.from({ length: config.randomSeeds }, (_, k) => config.seed + k);
  const routerRoutes = records.map((r) => r.route);
  const router = scoreArm("router", "router", outcomes, routerRoutes);
  const arms: ArmResult[] = [
    scoreArm("always-weak", "baseline", outcomes, new Array<Route>(n).fill("weak")),
    scoreArm("always-strong", "baseline", outcomes, new Array<Route>(n).fill("strong")),
    router,
    randomArm("random@router", outcomes, router.strongShare, seeds),
  ];
  for (const layer of config.policies) {
    const arm = scoreArm(layer.name, "layer", outcomes, applyLayer(routed, layer, threshold));
    arms.push(arm, randomArm(`random@${layer.name}`, outcomes, arm.strongShare, seeds));
  }
  let unparsed = 0;
  let disagreements = 0;
  let retries = 0;
  let gradingCost = 0;
  let answerCost = 0;
  for (const r of records)
    for (const a of [r.weak, r.strong]) {
      if (a.unparsed) unparsed++;
      if (a.grade !== a.referenceGrade) disagreements++;
      if (a.graderRetried) retries++;
      gradingCost += a.graderCostUsd;
      answerCost += a.costUsd;
    }
  return {
    models,
    n,
    threshold,
    records: records.slice(),
    arms,
    curve: routerCurve(outcomes),
    grading: { unparsed, disagreements, retries, costUsd: gradingCost },
    datasetCostUsd: answerCost + gradingCost,
    spend,
  };
}

/** TRAIN questions among `asked` (must be empty: evaluation never sees training questions). */
export function trainQuestionsAsked(asked: Iterable<string | null>, train: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const q of asked) if (q !== null && train.has(q)) out.push(q);
  return out;
}
