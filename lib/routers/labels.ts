import { z } from "zod";
import type { RoutingData } from "../data/routing";
import { RouterlabError } from "../util/errors";
import type { RoutingTask } from "./types";

/**
 * Label derivation: RoutingData (N queries x M models, observed quality and cost) -> RoutingTask.
 *
 * Multi-model setting (labels are indices into `models`, i.e. exact model names):
 * - `best`: the model with the highest quality; ties go to the lower cost (unknown cost counts as
 *   more expensive than any known cost), then to the earlier model in `models`.
 * - `wtp` (willingness to pay): the model maximising `lambda * quality - cost`; ties as above.
 *
 * Binary strong/weak setting (RouteLLM; label 1 = strong needed):
 * - `strong_better` (default): strong quality > weak quality.
 * - `strong_correct_and_weak_wrong`: strong quality >= threshold and weak quality < threshold.
 * - `weak_wrong`: weak quality < threshold.
 * - `quality_gap`: strong quality - weak quality > gap.
 */
export const MultiLabelRuleSchema = z.discriminatedUnion("rule", [
  z.strictObject({ rule: z.literal("best") }),
  z.strictObject({ rule: z.literal("wtp"), lambda: z.number().positive().finite() }),
]);
export type MultiLabelRule = z.infer<typeof MultiLabelRuleSchema>;

export const BinaryLabelRuleSchema = z.discriminatedUnion("rule", [
  z.strictObject({ rule: z.literal("strong_better") }),
  z.strictObject({
    rule: z.literal("strong_correct_and_weak_wrong"),
    threshold: z.number().finite().default(0.5),
  }),
  z.strictObject({ rule: z.literal("weak_wrong"), threshold: z.number().finite().default(0.5) }),
  z.strictObject({ rule: z.literal("quality_gap"), gap: z.number().finite().min(0) }),
]);
export type BinaryLabelRule = z.infer<typeof BinaryLabelRuleSchema>;

export const RoutingSettingSchema = z.discriminatedUnion("setting", [
  z.strictObject({
    setting: z.literal("multi"),
    /** Candidate models (default: all models of the data, in data order). */
    models: z.array(z.string().min(1)).min(2).optional(),
    label: MultiLabelRuleSchema.default({ rule: "best" }),
  }),
  z.strictObject({
    setting: z.literal("binary"),
    weak: z.string().min(1),
    strong: z.string().min(1),
    label: BinaryLabelRuleSchema.default({ rule: "strong_better" }),
  }),
]);
export type RoutingSetting = z.infer<typeof RoutingSettingSchema>;

function pickModels(data: RoutingData, names: readonly string[]): number[] {
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name))
      throw new RouterlabError(`model '${name}' is listed twice`, { file: data.name, field: "models" });
    seen.add(name);
    const i = data.models.indexOf(name);
    if (i < 0) {
      throw new RouterlabError(`unknown model '${name}'; ${data.name} has: ${data.models.join(", ")}`, {
        file: data.name,
        field: "models",
      });
    }
    return i;
  });
}

function subMatrix(arr: Float64Array, nCols: number, cols: readonly number[]): Float64Array {
  const n = arr.length / nCols;
  const out = new Float64Array(n * cols.length);
  for (let q = 0; q < n; q++) {
    for (let j = 0; j < cols.length; j++) out[q * cols.length + j] = arr[q * nCols + cols[j]!]!;
  }
  return out;
}

/** Lower cost wins; NaN (unknown) cost loses against any known cost. */
function cheaper(a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return a < b;
}

/** Derives the routing task (labels) from routing data. Throws before any training on missing outcomes. */
export function deriveTask(data: RoutingData, setting: RoutingSetting): RoutingTask {
  const n = data.queryIds.length;
  if (n === 0) throw new RouterlabError("the training set is empty (0 queries)", { file: data.name });
  const M = data.models.length;
  if (setting.setting === "multi") {
    const names = setting.models ?? data.models;
    const cols = pickModels(data, names);
    const m = cols.length;
    const quality = subMatrix(data.quality, M, cols);
    const cost = subMatrix(data.cost, M, cols);
    const labels = new Int32Array(n);
    const rule = setting.label;
    for (let q = 0; q < n; q++) {
      let best = -1;
      let bestValue = -Infinity;
      for (let j = 0; j < m; j++) {
        const qual = quality[q * m + j]!;
        if (Number.isNaN(qual)) continue;
        const c = cost[q * m + j]!;
        let value = qual;
        if (rule.rule === "wtp") {
          if (Number.isNaN(c)) {
            throw new RouterlabError(`cost of '${names[j]}' is unknown, but the 'wtp' label rule needs it`, {
              file: data.name,
              path: `query ${data.queryIds[q]}`,
              field: "cost",
            });
          }
          value = rule.lambda * qual - c;
        }
        if (best < 0 || value > bestValue || (value === bestValue && cheaper(c, cost[q * m + best]!))) {
          best = j;
          bestValue = value;
        }
      }
      if (best < 0) {
        throw new RouterlabError("no model has an observed quality for this query", {
          file: data.name,
          path: `query ${data.queryIds[q]}`,
          field: "quality",
        });
      }
      labels[q] = best;
    }
    return { kind: "multi", models: names.slice(), labels, quality, cost };
  }
  const cols = pickModels(data, [setting.weak, setting.strong]);
  const quality = subMatrix(data.quality, M, cols);
  const cost = subMatrix(data.cost, M, cols);
  const labels = new Int32Array(n);
  const rule = setting.label;
  for (let q = 0; q < n; q++) {
    const w = quality[q * 2]!;
    const s = quality[q * 2 + 1]!;
    if (Number.isNaN(w) || Number.isNaN(s)) {
      throw new RouterlabError(`missing quality for '${Number.isNaN(w) ? setting.weak : setting.strong}'`, {
        file: data.name,
        path: `query ${data.queryIds[q]}`,
        field: "quality",
      });
    }
    let strong: boolean;
    switch (rule.rule) {
      case "strong_better":
        strong = s > w;
        break;
      case "strong_correct_and_weak_wrong":
        strong = s >= rule.threshold && w < rule.threshold;
        break;
      case "weak_wrong":
        strong = w < rule.threshold;
        break;
      case "quality_gap":
        strong = s - w > rule.gap;
        break;
    }
    labels[q] = strong ? 1 : 0;
  }
  return { kind: "binary", models: [setting.weak, setting.strong], labels, quality, cost };
}

export { labelCounts } from "./checks";
