import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { bundledPaths, loadAllBundled } from "../lib/data/bundled";
import { projectRoot, venvPython } from "../lib/util/paths";
import type { BenchArea, BenchResult } from "./types";

const REPEATS = 3;

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

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

async function run(): Promise<BenchResult[]> {
  const files = bundledFiles();
  const secs: number[] = [];
  const peerSecs: number[] = [];
  let rows = 0;
  let peerRows = 0;
  // Interleaved so both sides see the same machine load (the cores are shared).
  for (let i = 0; i < REPEATS; i++) {
    // Python peer: pandas.read_csv for CSV, json for JSON / JSON Lines, timed inside the process.
    const peer = runPeer(files);
    peerSecs.push(peer.seconds[0]!);
    peerRows = peer.rows;
    // routerlab: every file through its schema-checked loader, into RoutingData (decontaminated,
    // joined, costed) + SimpleQA rows with parsed metadata. Quarantine to a throwaway folder.
    const t = process.hrtime.bigint();
    const all = loadAllBundled({ quarantineDir: path.join(projectRoot(), "out", "bench-quarantine") });
    secs.push(Number(process.hrtime.bigint() - t) / 1e9);
    rows = all.reports.reduce((s, r) => s + r.rowsRead, 0);
  }
  const value = median(secs);
  const peerValue = median(peerSecs);
  const ratio = peerValue / value;
  return [
    {
      name: "data.load_all_seconds",
      value,
      unit: "s",
      // median of REPEATS interleaved runs; detail in the peer label
      peer: `pandas read_csv + json (${files.length} files, ${peerRows} rows; routerlab ${rows} rows, median of ${REPEATS})`,
      peerValue,
      ratio,
      goal: ">= 0.5x peer (routerlab also validates every row, parses literals, decontaminates and builds RoutingData)",
      met: ratio >= 0.5,
    },
  ];
}

export const dataBench: BenchArea = { prefix: "data.", run };
