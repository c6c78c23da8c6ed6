import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { RouterlabError } from "../util/errors";
import type { LoadOptions, LoadReport } from "./load";
import { loadDcrouter, loadLlmCandidates, loadQueryData, loadRoutingJsonl } from "./llmrouter";
import { loadContaminated, loadGsm8k, loadMmlu, loadMtBench, loadOutcomeCsv } from "./routellm";
import { loadSimpleQa } from "./simpleqa";
import { loadDecisionsJsonl, loadJaeger, loadOtlp } from "./traces";

export const FORMATS = [
  "simpleqa-csv",
  "routellm-mmlu-dir",
  "routellm-gsm8k-dir",
  "routellm-mtbench-dir",
  "routellm-outcome-csv",
  "routellm-contaminated-jsonl",
  "llmrouter-dcrouter-json",
  "llmrouter-query-jsonl",
  "llmrouter-candidates-json",
  "llmrouter-routing-jsonl",
  "jaeger-json",
  "otlp-json",
  "routeiq-decisions-jsonl",
] as const;
export type DataFormat = (typeof FORMATS)[number];

function head(file: string, bytes = 65536): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf
      .subarray(0, n)
      .toString("utf8")
      .replace(/^\uFEFF/, "");
  } finally {
    closeSync(fd);
  }
}

/** Guesses the format of a file or folder from its name and first bytes. */
export function detectFormat(file: string): DataFormat {
  if (!existsSync(file)) throw new RouterlabError("no such file or folder", { file });
  if (statSync(file).isDirectory()) {
    if (existsSync(path.join(file, "responses"))) return "routellm-mmlu-dir";
    if (existsSync(path.join(file, "gsm8k_responses.csv"))) return "routellm-gsm8k-dir";
    if (existsSync(path.join(file, "question.jsonl"))) return "routellm-mtbench-dir";
    throw new RouterlabError("cannot tell the format of this folder", { file }, "pass --format");
  }
  const text = head(file);
  const firstLine = text.split("\n", 1)[0]!.trim();
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") {
    const cols = firstLine.split(",").map((c) => c.trim());
    if (cols.includes("metadata") && cols.includes("problem")) return "simpleqa-csv";
    if (cols[0] === "prompt") return "routellm-outcome-csv";
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) return "llmrouter-dcrouter-json";
  const has = (k: string) =>
    new RegExp(`"${k.replace(/\./g, "\\.")}"\\s*:`).test(
      firstLine.length > 0 && ext === ".jsonl" ? firstLine : text,
    );
  if (has("resourceSpans")) return "otlp-json";
  if (has("data") && has("traceID")) return "jaeger-json";
  if (has("contract_name")) return "routeiq-decisions-jsonl";
  if (has("eval_prompt")) return "routellm-contaminated-jsonl";
  if (has("model_name") && has("query")) return "llmrouter-routing-jsonl";
  if (has("task_name") && has("query")) return "llmrouter-query-jsonl";
  if (has("input_price")) return "llmrouter-candidates-json";
  throw new RouterlabError(
    "cannot tell the format of this file",
    { file },
    `pass --format (one of: ${FORMATS.join(", ")})`,
  );
}

export interface Inspection {
  format: DataFormat;
  reports: LoadReport[];
  rows: number;
  /** First rows, as plain objects with long strings cut. */
  preview: Record<string, unknown>[];
}

/** Preview values: long strings and arrays shortened, nesting below PREVIEW_DEPTH levels elided. */
const PREVIEW_DEPTH = 6;

function cut(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return v.length > 80 ? v.slice(0, 77) + "..." : v;
  if (v === null || typeof v !== "object") return v;
  if (depth >= PREVIEW_DEPTH) return "(...)";
  const c = (x: unknown) => cut(x, depth + 1);
  if (Array.isArray(v)) return v.length > 5 ? [...v.slice(0, 5).map(c), `(+${v.length - 5})`] : v.map(c);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, c(x)]));
}

/** Loads a file with the loader for its format and returns the reports and a preview. */
export function inspectFile(
  file: string,
  format?: DataFormat,
  opts: LoadOptions & { previewRows?: number } = {},
): Inspection {
  const fmt = format ?? detectFormat(file);
  const n = opts.previewRows ?? 5;
  const out = (reports: LoadReport[], rows: readonly unknown[]): Inspection => ({
    format: fmt,
    reports,
    rows: rows.length,
    preview: rows.slice(0, n).map((r) => cut(r) as Record<string, unknown>),
  });
  switch (fmt) {
    case "simpleqa-csv": {
      const r = loadSimpleQa(file, opts);
      return out([r.report], r.rows);
    }
    case "routellm-mmlu-dir": {
      const r = loadMmlu(file, opts);
      return out(r.reports, r.rows);
    }
    case "routellm-gsm8k-dir": {
      const r = loadGsm8k(file, opts);
      return out(r.reports, r.rows);
    }
    case "routellm-mtbench-dir": {
      const r = loadMtBench(file, opts);
      return out(r.reports, r.questions);
    }
    case "routellm-outcome-csv": {
      const r = loadOutcomeCsv(file, fmt, opts);
      return out([r.report], r.rows);
    }
    case "routellm-contaminated-jsonl": {
      const r = loadContaminated(file, opts);
      return out(
        [r.report],
        [...r.prompts].map((p) => ({ eval_prompt: p })),
      );
    }
    case "llmrouter-dcrouter-json": {
      const r = loadDcrouter(file, path.basename(file, ".json"), opts);
      return out([r.report], r.rows);
    }
    case "llmrouter-query-jsonl": {
      const r = loadQueryData(file, opts);
      return out([r.report], r.rows);
    }
    case "llmrouter-candidates-json": {
      const r = loadLlmCandidates(file, opts);
      return out([r.report], r.rows);
    }
    case "llmrouter-routing-jsonl": {
      const r = loadRoutingJsonl(file, opts);
      return out([r.report], r.rows);
    }
    case "jaeger-json":
    case "otlp-json": {
      const r = fmt === "jaeger-json" ? loadJaeger(file, opts) : loadOtlp(file, opts);
      return out(
        [r.report],
        [
          ...r.llm,
          ...r.decisions.map((d) => ({
            decision: d.decision.event_id,
            selected: d.decision.selected_deployment,
            strategy: d.decision.strategy_name,
          })),
        ],
      );
    }
    case "routeiq-decisions-jsonl": {
      const r = loadDecisionsJsonl(file, opts);
      return out(
        [r.report],
        r.rows.map((d) => d.decision),
      );
    }
    default:
      throw new RouterlabError(`unknown format '${String(fmt)}'`, { file });
  }
}
