import path from "node:path";
import type { OutputFile } from "../util/atomic-write";
import { writeFolderAtomic } from "../util/atomic-write";
import { z } from "zod";
import { outDir } from "../util/paths";
import type { BundledDataset, LoadedDataset } from "./bundled";
import { BUNDLED_DATASETS, bundledRouting, llmrouterRouting } from "./bundled";
import type { LoadOptions, LoadReport } from "./load";
import type { RoutingData } from "./routing";
import type { LeakageReport, Split } from "./split";
import { applySplit, kFold, leakageReport, trainTestSplit } from "./split";

export const SplitConfigSchema = z
  .object({
    /** A bundled dataset, or "llmrouter" = the given LLMRouter train and test files pooled. */
    dataset: z.enum([...BUNDLED_DATASETS, "llmrouter"]),
    test_fraction: z.number().gt(0).lt(1).default(0.2),
    /** When set (>= 2), k folds are written as well. */
    k: z.number().int().min(2).max(100).optional(),
    seed: z.number().int().min(0).default(42),
    /** Stratify by the per-query group (MMLU subject, LLMRouter task, MT-Bench category). */
    stratify: z.boolean().default(false),
    dedupe: z.boolean().default(true),
    /** Output folder; default out/splits/<dataset>. */
    out_dir: z.string().optional(),
  })
  .strict();
export type SplitConfig = z.infer<typeof SplitConfigSchema>;

export interface SplitResult {
  outDir: string;
  files: string[];
  train: number;
  test: number;
  leakage: LeakageReport;
  /** For "llmrouter": the leakage of the upstream train/test files as given (119 questions). */
  givenSplitLeakage?: LeakageReport;
  reports: LoadReport[];
}

function pooled(a: RoutingData, b: RoutingData, name: string): RoutingData {
  if (a.models.join("\u0000") !== b.models.join("\u0000"))
    throw new Error("train and test model lists differ");
  return {
    ...a,
    name,
    queryIds: [...a.queryIds, ...b.queryIds],
    queries: [...a.queries, ...b.queries],
    quality: Float64Array.from([...a.quality, ...b.quality]),
    cost: Float64Array.from([...a.cost, ...b.cost]),
    latency: undefined,
    groups: a.groups && b.groups ? [...a.groups, ...b.groups] : undefined,
  };
}

const SPLIT_OUTPUT = /^(train|test|leakage|fold-\d+)\.json$/;

/** Loads the dataset, splits it, writes query-id lists and the leakage report (what `routerlab data split` does). */
export function runSplit(cfg: SplitConfig, opts: LoadOptions = {}): SplitResult {
  let data: RoutingData;
  const reports: LoadReport[] = [];
  let given: LeakageReport | undefined;
  if (cfg.dataset === "llmrouter") {
    const tr: LoadedDataset = llmrouterRouting("train", opts);
    const te: LoadedDataset = llmrouterRouting("test", opts);
    reports.push(...tr.reports, ...te.reports);
    given = leakageReport(tr.data, te.data);
    data = pooled(tr.data, te.data, "llmrouter");
  } else {
    const d = bundledRouting(cfg.dataset as BundledDataset, opts);
    reports.push(...d.reports);
    data = d.data;
  }
  const dir = cfg.out_dir ?? path.join(outDir(), "splits", cfg.dataset);
  // The whole set (train, test, folds, leakage) appears together or not at all.
  const outputs: OutputFile[] = [];
  const write = (name: string, v: unknown) => {
    outputs.push({ name, data: JSON.stringify(v, null, 2) + "\n" });
  };
  const ids = (s: Split) => ({
    train: s.train.map((i) => data.queryIds[i]!),
    test: s.test.map((i) => data.queryIds[i]!),
  });
  const stratifyBy = cfg.stratify ? ("group" as const) : undefined;
  const split = trainTestSplit(data, {
    testFraction: cfg.test_fraction,
    seed: cfg.seed,
    stratifyBy,
    dedupe: cfg.dedupe,
  });
  const parts = applySplit(data, split);
  const leakage = leakageReport(parts.train, parts.test);
  const sIds = ids(split);
  write("train.json", sIds.train);
  write("test.json", sIds.test);
  const folds: { fold: number; train: number; test: number; overlappingQueries: number }[] = [];
  if (cfg.k) {
    kFold(data, { k: cfg.k, seed: cfg.seed, stratifyBy, dedupe: cfg.dedupe }).forEach((f, i) => {
      const p = applySplit(data, f);
      write(`fold-${i}.json`, ids(f));
      folds.push({
        fold: i,
        train: f.train.length,
        test: f.test.length,
        overlappingQueries: leakageReport(p.train, p.test).overlappingQueries,
      });
    });
  }
  write("leakage.json", {
    dataset: cfg.dataset,
    config: cfg,
    queries: data.queryIds.length,
    train: split.train.length,
    test: split.test.length,
    leakage,
    ...(given ? { given_split_leakage: given } : {}),
    folds,
  });
  writeFolderAtomic(dir, outputs, { owns: (n) => SPLIT_OUTPUT.test(n) });
  const files = outputs.map((o) => path.join(dir, o.name));
  return {
    outDir: dir,
    files,
    train: split.train.length,
    test: split.test.length,
    leakage,
    givenSplitLeakage: given,
    reports,
  };
}
