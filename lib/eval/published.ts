/** The RouteLLM paper's reported metrics (data/published/routellm_reported_metrics.csv), parsed with zod. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { dataDir } from "../util/paths";
import { parseWith } from "../util/zod-error";

export const PublishedRowSchema = z.object({
  benchmark: z.string().min(1),
  router: z.string().min(1),
  training_data: z.string(),
  metric: z.string().min(1),
  value: z.string().min(1),
  source_quality: z.string(),
  note: z.string(),
});

export interface PublishedMetric {
  readonly benchmark: string;
  readonly router: string;
  readonly trainingData: string;
  readonly metric: string;
  /** The value as printed (e.g. "13.40%", "1.41x", "0.802"). */
  readonly raw: string;
  /** Numeric value: percentages as fractions, "x" ratios as ratios. */
  readonly value: number;
  readonly sourceQuality: string;
  readonly note: string;
  readonly line: number;
}

/** Minimal RFC 4180 line splitter (this file has no quoted newlines). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function parsePublishedValue(raw: string): number | null {
  const m = /^\s*([0-9.]+)\s*(%|x)?\s*$/.exec(raw);
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] === "%" ? v / 100 : v;
}

export function loadPublishedMetrics(
  file = path.join(dataDir(), "published", "routellm_reported_metrics.csv"),
): PublishedMetric[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read published metrics: ${(e as Error).message}`, { file });
  }
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? "");
  const out: PublishedMetric[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === "") continue;
    const cells = splitCsvLine(lines[i]!);
    const obj = Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ""]));
    const row = parseWith(PublishedRowSchema, obj, { file, line: i + 1 });
    const value = parsePublishedValue(row.value);
    if (value === null)
      throw new RouterlabError(`cannot read '${row.value}' as a number, % or x ratio`, {
        file,
        line: i + 1,
        field: "value",
      });
    out.push({
      benchmark: row.benchmark,
      router: row.router,
      trainingData: row.training_data,
      metric: row.metric,
      raw: row.value,
      value,
      sourceQuality: row.source_quality,
      note: row.note,
      line: i + 1,
    });
  }
  return out;
}

/** Benchmarks of the CSV under the names of routerlab's datasets. */
export const PUBLISHED_BENCHMARK: Record<string, string> = {
  "routellm-mmlu": "MMLU",
  "routellm-gsm8k": "GSM8K",
  "routellm-mt-bench": "MT Bench",
};

/**
 * The paper's figures for one benchmark, in routerlab's terms: "cost saving vs GPT-4 at CPT(p)" is
 * random CPT / router CPT with random CPT(p) ≈ p, so the router's CPT(p) ≈ p / saving (derived).
 */
export function publishedFor(
  dataset: string,
  rows: readonly PublishedMetric[],
): {
  metric: string;
  value: number;
  how: string;
  line: number;
}[] {
  const bench = PUBLISHED_BENCHMARK[dataset];
  if (!bench) return [];
  const out: { metric: string; value: number; how: string; line: number }[] = [];
  for (const r of rows) {
    if (r.benchmark !== bench) continue;
    const saving = /cost saving vs GPT-4 at CPT\((\d+)%\)/.exec(r.metric);
    if (saving) {
      const p = Number(saving[1]) / 100;
      out.push({
        metric: `best CPT(${saving[1]}%)`,
        value: p / r.value,
        how: `derived: ${saving[1]}% / ${r.raw} (${r.sourceQuality})`,
        line: r.line,
      });
    } else {
      out.push({
        metric: `${r.router} ${r.metric}`,
        value: r.value,
        how: `${r.raw} (${r.sourceQuality})`,
        line: r.line,
      });
    }
  }
  return out;
}
