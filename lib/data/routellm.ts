import { readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import type { LoadOptions, LoadReport } from "./load";
import { csvBool, guardedJsonLines, guardRow, LoadTracker, parseRow, readCsv, RowError } from "./load";

/** The two models of the RouteLLM outcome files. */
export const ROUTELLM_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1";
export const ROUTELLM_STRONG = "gpt-4-1106-preview";
export const ROUTELLM_MODELS = [ROUTELLM_WEAK, ROUTELLM_STRONG] as const;

export interface RouteLlmLoad<T> {
  rows: T[];
  reports: LoadReport[];
  /** Rows dropped because their prompt is listed in contaminated_prompts.jsonl. */
  contaminatedRemoved: number;
}

export interface MmluRow {
  id: string;
  subject: string;
  file: string;
  line: number;
  prompt: string;
  /** correct[model] for ROUTELLM_MODELS. */
  weakCorrect: boolean;
  strongCorrect: boolean;
}

export interface Gsm8kRow {
  id: string;
  line: number;
  prompt: string;
  weakCorrect: boolean;
  strongCorrect: boolean;
  weakResponse: string;
  strongResponse: string;
}

export interface MtBenchQuestion {
  questionId: number;
  category: string;
  turns: string[];
  line: number;
}

export interface MtBenchJudgement {
  questionId: number;
  model: string;
  turn: number;
  score: number;
  judge: string;
  line: number;
}

const ContaminatedSchema = z.object({ eval_prompt: z.string(), train_prompt: z.string().optional() });

/** The `eval_prompt`s of a contaminated_prompts.jsonl file. */
export function loadContaminated(
  file: string,
  opts: LoadOptions = {},
): { prompts: Set<string>; has: (prompt: string) => boolean; report: LoadReport } {
  const tracker = new LoadTracker(file, "routellm-contaminated-jsonl", opts);
  const prompts = new Set<string>();
  for (const v of guardedJsonLines(file, tracker, opts, (l) => parseRow(ContaminatedSchema, l.value)))
    prompts.add(v.eval_prompt);
  // Compare lengths first: hashing every (long, concatenated) prompt string is the slow part.
  const lengths = new Set([...prompts].map((p) => p.length));
  const has = (p: string) => lengths.has(p.length) && prompts.has(p);
  return { prompts, has, report: tracker.finish() };
}

/** MMLU: every `responses/mmlu_<subject>.csv` under `dir`, minus `dir/contaminated_prompts.jsonl`. */
export function loadMmlu(dir: string, opts: LoadOptions = {}): RouteLlmLoad<MmluRow> {
  const respDir = path.join(dir, "responses");
  let files: string[];
  try {
    files = readdirSync(respDir)
      .filter((f) => /^mmlu_.+\.csv$/.test(f))
      .sort();
  } catch (e) {
    throw new RouterlabError(`cannot list MMLU responses: ${(e as Error).message}`, { file: respDir });
  }
  if (files.length === 0) throw new RouterlabError("no mmlu_<subject>.csv files", { file: respDir });
  const contaminated = loadContaminated(path.join(dir, "contaminated_prompts.jsonl"), opts);
  const reports: LoadReport[] = [contaminated.report];
  const rows: MmluRow[] = [];
  let removed = 0;
  for (const f of files) {
    const subject = f.replace(/^mmlu_/, "").replace(/\.csv$/, "");
    const loaded = loadOutcomeCsv(path.join(respDir, f), "routellm-mmlu-csv", opts);
    loaded.rows.forEach((r) => {
      if (contaminated.has(r.prompt)) {
        removed++;
        return;
      }
      rows.push({ ...r, id: `mmlu/${subject}/${r.index}`, subject, file: f });
    });
    reports.push(loaded.report);
  }
  noteDecontamination(reports, removed, contaminated.prompts.size);
  return { rows, reports, contaminatedRemoved: removed };
}

/** GSM8K: `dir/gsm8k_responses.csv` minus `dir/contaminated_prompts.jsonl`. */
export function loadGsm8k(dir: string, opts: LoadOptions = {}): RouteLlmLoad<Gsm8kRow> {
  const contaminated = loadContaminated(path.join(dir, "contaminated_prompts.jsonl"), opts);
  const file = path.join(dir, "gsm8k_responses.csv");
  const extra = [`${ROUTELLM_WEAK}_response`, `${ROUTELLM_STRONG}_response`];
  const loaded = loadOutcomeCsv(file, "routellm-gsm8k-csv", opts, extra);
  const rows: Gsm8kRow[] = [];
  let removed = 0;
  for (const r of loaded.rows) {
    if (contaminated.has(r.prompt)) {
      removed++;
      continue;
    }
    rows.push({
      id: `gsm8k/${r.index}`,
      line: r.line,
      prompt: r.prompt,
      weakCorrect: r.weakCorrect,
      strongCorrect: r.strongCorrect,
      weakResponse: r.extra[0]!,
      strongResponse: r.extra[1]!,
    });
  }
  const reports = [contaminated.report, loaded.report];
  noteDecontamination(reports, removed, contaminated.prompts.size);
  return { rows, reports, contaminatedRemoved: removed };
}

function noteDecontamination(reports: LoadReport[], removed: number, listed: number): void {
  reports[0]!.warnings.push(
    `decontamination: ${removed} accepted row(s) removed because their prompt is one of the ${listed} listed`,
  );
}

interface OutcomeRow {
  index: number;
  line: number;
  prompt: string;
  weakCorrect: boolean;
  strongCorrect: boolean;
  extra: string[];
}

export function loadOutcomeCsv(
  file: string,
  format: string,
  opts: LoadOptions,
  extra: readonly string[] = [],
): { rows: OutcomeRow[]; report: LoadReport } {
  const tracker = new LoadTracker(file, format, opts);
  const { records } = readCsv(file, tracker, ["prompt", ...ROUTELLM_MODELS, ...extra], opts);
  const rows: OutcomeRow[] = [];
  records.forEach((r, index) => {
    const row = guardRow(tracker, { line: r.line, raw: r.raw }, () => {
      const prompt = r.cells.get("prompt")!;
      if (prompt.trim() === "") throw new RowError("prompt", "empty");
      return {
        index,
        line: r.line,
        prompt,
        weakCorrect: csvBool(r.cells.get(ROUTELLM_WEAK), ROUTELLM_WEAK),
        strongCorrect: csvBool(r.cells.get(ROUTELLM_STRONG), ROUTELLM_STRONG),
        extra: extra.map((c) => r.cells.get(c)!),
      };
    });
    if (row) rows.push(row);
  });
  return { rows, report: tracker.finish() };
}

const QuestionSchema = z.object({
  question_id: z.number().int(),
  category: z.string(),
  turns: z.array(z.string()).min(1),
});

const JudgementSchema = z.object({
  question_id: z.number().int(),
  model: z.string().min(1),
  judge: z.array(z.string()).or(z.string()),
  score: z.number(),
  turn: z.number().int().min(1),
});

export interface MtBenchLoad {
  questions: MtBenchQuestion[];
  judgements: MtBenchJudgement[];
  reports: LoadReport[];
  contaminatedRemoved: number;
}

/**
 * MT-Bench: `question.jsonl` (a question is contaminated when its first turn is listed) and the
 * GPT-4 single-answer `judgements.jsonl` (score 1-10 per model and turn; FastChat's -1 "judge
 * failed" score is quarantined). Judgements of removed questions are dropped with them.
 */
export function loadMtBench(dir: string, opts: LoadOptions = {}): MtBenchLoad {
  const contaminated = loadContaminated(path.join(dir, "contaminated_prompts.jsonl"), opts);
  const qFile = path.join(dir, "question.jsonl");
  const qt = new LoadTracker(qFile, "routellm-mtbench-questions-jsonl", opts);
  const questions: MtBenchQuestion[] = [];
  const ids = new Set<number>();
  let removed = 0;
  const parsedQuestions = guardedJsonLines(qFile, qt, opts, (l) => {
    const v = parseRow(QuestionSchema, l.value);
    if (ids.has(v.question_id)) throw new RowError("question_id", `duplicate id ${v.question_id}`);
    ids.add(v.question_id);
    return { questionId: v.question_id, category: v.category, turns: v.turns, line: l.line };
  });
  for (const q of parsedQuestions) {
    if (contaminated.has(q.turns[0]!)) removed++;
    else questions.push(q);
  }
  const kept = new Set(questions.map((q) => q.questionId));
  const jFile = path.join(dir, "judgements.jsonl");
  const jt = new LoadTracker(jFile, "routellm-mtbench-judgements-jsonl", opts);
  const judgements: MtBenchJudgement[] = [];
  const seen = new Set<string>();
  let droppedJudgements = 0;
  const parsedJudgements = guardedJsonLines(jFile, jt, opts, (l) => {
    const v = parseRow(JudgementSchema, l.value);
    if (v.score < 1 || v.score > 10)
      throw new RowError("score", `${v.score} is outside 1-10 (judge failure?)`);
    const key = `${v.question_id}\u0000${v.model}\u0000${v.turn}`;
    if (seen.has(key))
      throw new RowError("question_id", `duplicate judgement for ${v.question_id}/${v.model}/turn ${v.turn}`);
    seen.add(key);
    return {
      questionId: v.question_id,
      model: v.model,
      turn: v.turn,
      score: v.score,
      judge: Array.isArray(v.judge) ? v.judge.join("/") : v.judge,
      line: l.line,
    };
  });
  for (const j of parsedJudgements) {
    if (kept.has(j.questionId)) judgements.push(j);
    else droppedJudgements++;
  }
  const reports = [contaminated.report, qt.finish(), jt.finish()];
  noteDecontamination(reports, removed, contaminated.prompts.size);
  reports[2]!.warnings.push(`${droppedJudgements} judgement(s) of removed or unknown questions dropped`);
  return { questions, judgements, reports, contaminatedRemoved: removed };
}
