import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { bundledPaths, loadAllBundled } from "../lib/data/bundled";
import { projectRoot, venvPython } from "../lib/util/paths";
import { compare, threadCounts, threadLabel, timeResult, withThreadEnv } from "./protocol";
import type { BenchArea, BenchResult } from "./types";

/** Every bundled file the loaders read, with the kind pandas/json reads it as. */
export function bundledFiles(): { path: string; kind: "csv" | "jsonl" | "json" }[] {
  const p = bundledPaths();
  const mmlu = readdirSync(path.join(p.mmluDir, "responses"))
    .filter((f) => f.endsWith(".csv"))
    .sort()
    .map((f) => ({ path: path.join(p.mmluDir, "responses", f), kind: "csv" as const }));
  return [
    { path: p.simpleqa, kind: "csv" },
    ...mmlu,
    { path: path.join(p.mmluDir, "contaminated_prompts.jsonl"), kind: "jsonl" },
    { path: path.join(p.gsm8kDir, "gsm8k_responses.csv"), kind: "csv" },
    { path: path.join(p.gsm8kDir, "contaminated_prompts.jsonl"), kind: "jsonl" },
    { path: path.join(p.mtBenchDir, "question.jsonl"), kind: "jsonl" },
    { path: path.join(p.mtBenchDir, "judgements.jsonl"), kind: "jsonl" },
    { path: path.join(p.mtBenchDir, "contaminated_prompts.jsonl"), kind: "jsonl" },
    { path: p.dcrouterTrain, kind: "json" },
    { path: p.dcrouterTest, kind: "json" },
    { path: p.queryTrain, kind: "jsonl" },
    { path: p.queryTest, kind: "jsonl" },
    { path: p.candidates, kind: "json" },
  ];
}

const PeerResult = z.object({ seconds: z.array(z.number().positive()).min(1), rows: z.number().int() });

function runPeer(files: ReturnType<typeof bundledFiles>): z.infer<typeof PeerResult> {
  const py = spawnSync(
    venvPython(),
    [
      path.join(projectRoot(), "python", "peers", "bench_data_load.py"),
      JSON.stringify({ files, repeats: 1 }),
    ],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
  );
  if (py.status !== 0) throw new Error(`python peer failed: ${py.stderr}`);
  return PeerResult.parse(JSON.parse(py.stdout));
}

/**
 * bench/protocol.ts: the Python peer's thread variables are tried 1..cores (pandas' C parser and json are
 * single-threaded, so the search only confirms it); routerlab's loaders are single-threaded TypeScript, one
 * configuration. Interleaved rounds, medians, load average recorded.
 */
async function run(): Promise<BenchResult[]> {
  const files = bundledFiles();
  let rows = 0;
  let peerRows = 0;
  // routerlab: every file through its schema-checked loader, into RoutingData (decontaminated, joined, costed) +
  // SimpleQA rows with parsed metadata. Quarantine to a throwaway folder.
  const ours = (): number => {
    const t = process.hrtime.bigint();
    const all = loadAllBundled({ quarantineDir: path.join(projectRoot(), "out", "bench-quarantine") });
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    rows = all.reports.reduce((s, r) => s + r.rowsRead, 0);
    return seconds;
  };
  // Python peer: pandas.read_csv for CSV, json for JSON / JSON Lines, timed inside the process.
  const peer = (threads: number) => (): Promise<number> =>
    withThreadEnv(threads, () => {
      const r = runPeer(files);
      peerRows = r.rows;
      return r.seconds[0]!;
    });
  const c = await compare(
    { name: "routerlab loaders", configs: [{ label: "single-threaded", run: ours }] },
    {
      name: "pandas read_csv + json",
      configs: threadCounts().map((n) => ({ label: threadLabel(n), run: peer(n) })),
    },
  );
  const r = timeResult("data.load_all_seconds", c, {
    factor: 2,
    text: ">= 0.5x peer (routerlab also validates every row, parses literals, decontaminates and builds RoutingData)",
  });
  return [{ ...r, peer: `${r.peer}; ${files.length} files, ${peerRows} rows (routerlab ${rows} rows)` }];
}

export const dataBench: BenchArea = { prefix: "data.", run };
