import path from "node:path";
import { RouterlabError } from "../util/errors";
import { dataDir } from "../util/paths";
import { costUsd, estimateTokens, OUTPUT_TOKEN_ESTIMATES, ROUTELLM_PRICES } from "./costs";
import type { DcrouterRow, LlmCandidate, QueryDataRow, RoutingJsonlRow } from "./llmrouter";
import { joinQueryData, loadDcrouter, loadLlmCandidates, loadQueryData } from "./llmrouter";
import type { LoadOptions, LoadReport } from "./load";
import { promptQueryText } from "./query-text";
import type { RoutingData } from "./routing";
import type { Gsm8kRow, MmluRow, MtBenchLoad } from "./routellm";
import {
  loadGsm8k,
  loadMmlu,
  loadMtBench,
  ROUTELLM_MODELS,
  ROUTELLM_STRONG,
  ROUTELLM_WEAK,
} from "./routellm";
import type { SimpleQaRow } from "./simpleqa";
import { loadSimpleQa } from "./simpleqa";

/** Where each bundled file lives under data/ (ROUTERLAB_DATA_DIR honoured). */
export function bundledPaths(root = dataDir()) {
  return {
    simpleqa: path.join(root, "simpleqa", "simple_qa_test_set.csv"),
    mmluDir: path.join(root, "routellm", "mmlu"),
    gsm8kDir: path.join(root, "routellm", "gsm8k"),
    mtBenchDir: path.join(root, "routellm", "mt_bench"),
    dcrouterTrain: path.join(root, "llmrouter", "dcrouter_preprocessed", "train.json"),
    dcrouterTest: path.join(root, "llmrouter", "dcrouter_preprocessed", "test.json"),
    queryTrain: path.join(root, "llmrouter", "query_data", "default_query_train.jsonl"),
    queryTest: path.join(root, "llmrouter", "query_data", "default_query_test.jsonl"),
    candidates: path.join(root, "llmrouter", "llm_candidates", "default_llm.json"),
  };
}

export const BUNDLED_DATASETS = ["mmlu", "gsm8k", "mt-bench", "llmrouter-train", "llmrouter-test"] as const;
export type BundledDataset = (typeof BUNDLED_DATASETS)[number];

function matrix(n: number, m: number): Float64Array {
  return new Float64Array(n * m).fill(NaN);
}

const routellmPrice = (model: string) => ROUTELLM_PRICES[model]!;

/**
 * RouteLLM weak/strong outcome rows: quality 0/1 per model, cost from RouteLLM prices with input tokens
 * estimated from the prompt and `outputTokens(row, model index)` output tokens.
 */
function weakStrongRouting<R extends Pick<MmluRow, "id" | "prompt" | "weakCorrect" | "strongCorrect">>(
  name: string,
  rows: readonly R[],
  outputTokens: (r: R, j: number) => number,
  group: (r: R) => string,
): RoutingData {
  const models = [...ROUTELLM_MODELS];
  const quality = matrix(rows.length, 2);
  const cost = matrix(rows.length, 2);
  rows.forEach((r, q) => {
    const inTok = estimateTokens(r.prompt);
    quality[q * 2] = r.weakCorrect ? 1 : 0;
    quality[q * 2 + 1] = r.strongCorrect ? 1 : 0;
    models.forEach((m, j) => (cost[q * 2 + j] = costUsd(routellmPrice(m), inTok, outputTokens(r, j))));
  });
  return {
    name,
    queryIds: rows.map((r) => r.id),
    queries: rows.map((r) => promptQueryText(r.prompt)),
    models,
    quality,
    cost,
    groups: rows.map(group),
    qualityScale: { min: 0, max: 1 },
  };
}

/** MMLU outcomes (14,037 prompts after decontamination): quality 0/1, groups = subject. */
export function mmluRoutingFromRows(rows: readonly MmluRow[]): RoutingData {
  return weakStrongRouting(
    "routellm-mmlu",
    rows,
    () => OUTPUT_TOKEN_ESTIMATES.mmlu,
    (r) => r.subject,
  );
}

/** GSM8K outcomes (1,307 after decontamination): quality 0/1, output tokens estimated from each response. */
export function gsm8kRoutingFromRows(rows: readonly Gsm8kRow[]): RoutingData {
  return weakStrongRouting(
    "routellm-gsm8k",
    rows,
    (r, j) => estimateTokens(j === 0 ? r.weakResponse : r.strongResponse),
    () => "gsm8k",
  );
}

/**
 * MT-Bench (72 questions after decontamination): quality = mean GPT-4 judge score (1-10) over the
 * turns judged; query = the first turn as a single user message (what the router sees first);
 * groups = category.
 */
export function mtBenchRoutingFromLoad(mt: MtBenchLoad): RoutingData {
  const models = [ROUTELLM_WEAK, ROUTELLM_STRONG];
  const n = mt.questions.length;
  const sum = new Float64Array(n * 2);
  const cnt = new Float64Array(n * 2);
  const qIdx = new Map(mt.questions.map((q, i) => [q.questionId, i]));
  for (const j of mt.judgements) {
    const q = qIdx.get(j.questionId);
    const m = models.indexOf(j.model);
    if (q === undefined || m < 0) continue;
    sum[q * 2 + m]! += j.score;
    cnt[q * 2 + m]! += 1;
  }
  const quality = matrix(n, 2);
  const cost = matrix(n, 2);
  mt.questions.forEach((q, i) => {
    const inTok = estimateTokens(q.turns.join(" "));
    models.forEach((m, j) => {
      const k = i * 2 + j;
      if (cnt[k]! > 0) quality[k] = sum[k]! / cnt[k]!;
      cost[k] = costUsd(routellmPrice(m), inTok, OUTPUT_TOKEN_ESTIMATES.mtBench * q.turns.length);
    });
  });
  return {
    name: "routellm-mt-bench",
    queryIds: mt.questions.map((q) => `mt-bench/${q.questionId}`),
    queries: mt.questions.map((q) => promptQueryText(q.turns[0]!)),
    models,
    quality,
    cost,
    groups: mt.questions.map((q) => q.category),
    qualityScale: { min: 1, max: 10 },
  };
}

/**
 * LLMRouter dcrouter rows: the nine scored models (sorted by name), quality = score in [0,1],
 * cost from candidate prices with input tokens estimated from the question and
 * OUTPUT_TOKEN_ESTIMATES.llmrouter output tokens; groups = task name joined from query data.
 */
export function llmrouterRoutingFromRows(
  name: string,
  rows: readonly DcrouterRow[],
  candidates: readonly LlmCandidate[],
  queryData: readonly QueryDataRow[] = [],
): RoutingData {
  const models: string[] = [];
  for (const r of rows) for (const m of Object.keys(r.scores)) if (!models.includes(m)) models.push(m);
  models.sort(); // the same column order for train and test
  const prices = new Map(candidates.map((c) => [c.name, c]));
  const M = models.length;
  const quality = matrix(rows.length, M);
  const cost = matrix(rows.length, M);
  rows.forEach((r, q) => {
    const inTok = estimateTokens(r.question);
    models.forEach((m, j) => {
      const s = r.scores[m];
      if (s !== undefined) quality[q * M + j] = s;
      const p = prices.get(m);
      if (p)
        cost[q * M + j] = costUsd(
          { input: p.inputPrice, output: p.outputPrice, source: "" },
          inTok,
          OUTPUT_TOKEN_ESTIMATES.llmrouter,
        );
    });
  });
  const { tasks } = joinQueryData(rows, queryData);
  return {
    name,
    queryIds: rows.map((r) => r.id),
    queries: rows.map((r) => promptQueryText(r.question)),
    models,
    quality,
    cost,
    groups: queryData.length > 0 ? tasks.map((t) => t ?? "unknown") : undefined,
    qualityScale: { min: 0, max: 1 },
  };
}

/**
 * RoutingData from LLMRouter routing-JSONL rows (or trace rows): queries x models pivot, quality
 * = performance (null -> NaN), cost = the row's cost, else tokens x candidate price, else NaN,
 * latency = response time.
 */
export function routingFromRoutingRows(
  name: string,
  rows: readonly RoutingJsonlRow[],
  candidates: readonly LlmCandidate[] = [],
): RoutingData {
  const qIndex = new Map<string, number>();
  const queries: string[] = [];
  const models: string[] = [];
  for (const r of rows) {
    if (!qIndex.has(r.query)) {
      qIndex.set(r.query, queries.length);
      queries.push(r.query);
    }
    if (!models.includes(r.modelName)) models.push(r.modelName);
  }
  const M = models.length;
  const quality = matrix(queries.length, M);
  const cost = matrix(queries.length, M);
  const latency = matrix(queries.length, M);
  const prices = new Map(candidates.map((c) => [c.name, c]));
  for (const r of rows) {
    const k = qIndex.get(r.query)! * M + models.indexOf(r.modelName);
    quality[k] = r.performance ?? NaN;
    const p = prices.get(r.modelName);
    cost[k] =
      r.cost ??
      (p && r.inputTokens !== null && r.outputTokens !== null
        ? costUsd({ input: p.inputPrice, output: p.outputPrice, source: "" }, r.inputTokens, r.outputTokens)
        : NaN);
    latency[k] = r.responseTime ?? NaN;
  }
  return {
    name,
    queryIds: queries.map((_q, i) => `${name}/${i}`),
    queries,
    models,
    quality,
    cost,
    latency,
    qualityScale: { min: 0, max: 1 },
  };
}

export interface LoadedDataset {
  data: RoutingData;
  reports: LoadReport[];
}

export function mmluRouting(opts: LoadOptions = {}, root = dataDir()): LoadedDataset {
  const r = loadMmlu(bundledPaths(root).mmluDir, opts);
  return { data: mmluRoutingFromRows(r.rows), reports: r.reports };
}

export function gsm8kRouting(opts: LoadOptions = {}, root = dataDir()): LoadedDataset {
  const r = loadGsm8k(bundledPaths(root).gsm8kDir, opts);
  return { data: gsm8kRoutingFromRows(r.rows), reports: r.reports };
}

export function mtBenchRouting(opts: LoadOptions = {}, root = dataDir()): LoadedDataset {
  const r = loadMtBench(bundledPaths(root).mtBenchDir, opts);
  return { data: mtBenchRoutingFromLoad(r), reports: r.reports };
}

export function llmrouterRouting(
  split: "train" | "test",
  opts: LoadOptions = {},
  root = dataDir(),
): LoadedDataset {
  const p = bundledPaths(root);
  const rows = loadDcrouter(split === "train" ? p.dcrouterTrain : p.dcrouterTest, split, opts);
  const cands = loadLlmCandidates(p.candidates, opts);
  const qd = loadQueryData(split === "train" ? p.queryTrain : p.queryTest, opts);
  const data = llmrouterRoutingFromRows(`llmrouter-${split}`, rows.rows, cands.rows, qd.rows);
  const missing = data.models.filter((m) => !cands.rows.some((c) => c.name === m));
  if (missing.length > 0)
    rows.report.warnings.push(`no candidate price for ${missing.join(", ")}: cost is NaN`);
  const unmatched = joinQueryData(rows.rows, qd.rows).unmatched;
  if (unmatched > 0)
    rows.report.warnings.push(`${unmatched} question(s) not found in ${qd.report.file}: task 'unknown'`);
  return { data, reports: [rows.report, qd.report, cands.report] };
}

export function bundledRouting(
  name: BundledDataset,
  opts: LoadOptions = {},
  root = dataDir(),
): LoadedDataset {
  switch (name) {
    case "mmlu":
      return mmluRouting(opts, root);
    case "gsm8k":
      return gsm8kRouting(opts, root);
    case "mt-bench":
      return mtBenchRouting(opts, root);
    case "llmrouter-train":
      return llmrouterRouting("train", opts, root);
    case "llmrouter-test":
      return llmrouterRouting("test", opts, root);
    default:
      throw new RouterlabError(`unknown dataset '${String(name)}' (known: ${BUNDLED_DATASETS.join(", ")})`);
  }
}

export interface AllBundled {
  routing: Record<BundledDataset, RoutingData>;
  simpleqa: SimpleQaRow[];
  reports: LoadReport[];
}

/** Every bundled file through its loader (what `routerlab run` and the data bench use). */
export function loadAllBundled(opts: LoadOptions = {}, root = dataDir()): AllBundled {
  const reports: LoadReport[] = [];
  const routing = {} as Record<BundledDataset, RoutingData>;
  for (const name of BUNDLED_DATASETS) {
    const d = bundledRouting(name, opts, root);
    routing[name] = d.data;
    reports.push(...d.reports);
  }
  const sq = loadSimpleQa(bundledPaths(root).simpleqa, opts);
  reports.push(sq.report);
  return { routing, simpleqa: sq.rows, reports };
}
