/**
 * Spend accounting: per-model call, cache-hit, retry and token counts; USD from reported usage and the configured
 * prices; a printable table and an MLflow logger.
 */
import type { TrackedRun } from "../tracking/run";
import type { ModelConfig } from "./config";
import type { LlmStats, ModelSpend } from "./types";

type Prices = Pick<ModelConfig, "inputPricePerMTok" | "outputPricePerMTok">;

/** USD for a usage at a model's prices (per million tokens). */
export function costUsd(prices: Prices, promptTokens: number, completionTokens: number): number {
  return (promptTokens * prices.inputPricePerMTok + completionTokens * prices.outputPricePerMTok) / 1e6;
}

interface Counts {
  calls: number;
  cacheHits: number;
  retries: number;
  failures: number;
  promptTokens: number;
  completionTokens: number;
}

/** Mutable per-model counters. Cost is derived from the token totals, so it equals usage x price exactly. */
export class SpendTracker {
  private readonly byModel = new Map<string, { prices: Prices; c: Counts }>();

  constructor(models: Readonly<Record<string, Prices>>) {
    for (const [name, prices] of Object.entries(models))
      this.byModel.set(name, {
        prices,
        c: { calls: 0, cacheHits: 0, retries: 0, failures: 0, promptTokens: 0, completionTokens: 0 },
      });
  }

  private counts(model: string): Counts {
    const e = this.byModel.get(model);
    if (!e) throw new Error(`SpendTracker: unknown model '${model}'`);
    return e.c;
  }

  call(model: string): void {
    this.counts(model).calls++;
  }
  cacheHit(model: string): void {
    this.counts(model).cacheHits++;
  }
  retry(model: string): void {
    this.counts(model).retries++;
  }
  failure(model: string): void {
    this.counts(model).failures++;
  }
  paid(model: string, promptTokens: number, completionTokens: number): void {
    const c = this.counts(model);
    c.promptTokens += promptTokens;
    c.completionTokens += completionTokens;
  }

  stats(): LlmStats {
    const byModel: Record<string, ModelSpend> = {};
    const total: Counts & { costUsd: number } = {
      calls: 0,
      cacheHits: 0,
      retries: 0,
      failures: 0,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
    };
    for (const [name, { prices, c }] of this.byModel) {
      const spend: ModelSpend = { ...c, costUsd: costUsd(prices, c.promptTokens, c.completionTokens) };
      byModel[name] = spend;
      for (const k of Object.keys(c) as (keyof Counts)[]) total[k] += c[k];
      total.costUsd += spend.costUsd;
    }
    return { byModel, total };
  }
}

function usd(v: number): string {
  return v === 0 ? "0" : v < 0.01 ? v.toFixed(6) : v.toFixed(4);
}

/** A fixed-width table of spend per model (models never called are left out) and the total. */
export function spendReport(stats: LlmStats): string {
  const header = [
    "model",
    "calls",
    "cache hits",
    "retries",
    "failures",
    "prompt tok",
    "completion tok",
    "cost USD",
  ];
  const row = (name: string, s: ModelSpend): string[] => [
    name,
    String(s.calls),
    String(s.cacheHits),
    String(s.retries),
    String(s.failures),
    String(s.promptTokens),
    String(s.completionTokens),
    usd(s.costUsd),
  ];
  const rows = Object.entries(stats.byModel)
    .filter(([, s]) => s.calls > 0)
    .map(([n, s]) => row(n, s));
  rows.push(row("total", stats.total));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [fmt(header), rule, ...rows.slice(0, -1).map(fmt), rule, fmt(rows[rows.length - 1]!)].join("\n");
}

function spendMetrics(prefix: string, s: ModelSpend): Record<string, number> {
  return {
    [`${prefix}.calls`]: s.calls,
    [`${prefix}.cache_hits`]: s.cacheHits,
    [`${prefix}.retries`]: s.retries,
    [`${prefix}.failures`]: s.failures,
    [`${prefix}.prompt_tokens`]: s.promptTokens,
    [`${prefix}.completion_tokens`]: s.completionTokens,
    [`${prefix}.cost_usd`]: s.costUsd,
  };
}

/**
 * Logs spend, cache hits and retries to a tracking run: metrics `llm.<model>.*` and `llm.total.*`, and the
 * table as the artifact `llm/spend.txt`. The run redacts secrets; nothing here contains a key anyway.
 */
export function logLlmStats(run: TrackedRun, stats: LlmStats, step = 0): void {
  const metrics: Record<string, number> = {};
  for (const [name, s] of Object.entries(stats.byModel))
    if (s.calls > 0) Object.assign(metrics, spendMetrics(`llm.${name}`, s));
  Object.assign(metrics, spendMetrics("llm.total", stats.total));
  run.logMetrics(metrics, step);
  run.logText("llm/spend.txt", `${spendReport(stats)}\n`);
}
