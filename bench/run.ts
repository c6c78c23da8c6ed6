import { readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic } from "../lib/util/atomic-write";
import { projectRoot } from "../lib/util/paths";
import { AREAS } from "./areas";
import { selectAreas } from "./select";
import { verdict, withAreaLoad } from "./protocol";
import type { BenchResult } from "./types";

const HELP = `usage: npm run bench [-- [--long] [<prefix> ...]]

Runs each benchmark area (routerlab and its peer in the same run, bench/protocol.ts: every thread count tried on
both sides, best kept, interleaved rounds, medians, load average recorded), prints each area's figures, merges
them into bench/results.json and ends with a summary table (met / not met / noisy / informational).

  <prefix>   only the areas whose prefix matches, e.g. "mlp." or "embed."
  --long     include the long runs: the cold main job (eval.main_job_cold_seconds, ~10 min on a quiet machine;
             ROUTERLAB_BENCH_COLD=1) and the 100,000-text embedding stream (embed.stream_100k_peak_rss_mb; ~30 min
             quiet, hours on 2 shared cores; ROUTERLAB_BENCH_EMBED_STREAM=100000). Without it the whole bench is
             meant to take under 20 minutes on a quiet machine (docs/bench/protocol.md).
  --help     this text`;

/**
 * `npm run bench [-- <prefix> ...]`: runs each area (routerlab and its Python peer in the same run),
 * prints a table with the ratios, merges the figures into bench/results.json and prints a summary.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return;
  }
  if (args.includes("--long")) {
    process.env.ROUTERLAB_BENCH_COLD ??= "1";
    process.env.ROUTERLAB_BENCH_EMBED_STREAM ??= "100000";
  }
  const unknown = args.filter((a) => a.startsWith("-") && a !== "--long");
  if (unknown.length > 0) {
    console.error(`unknown option ${unknown.join(", ")}\n\n${HELP}`);
    process.exit(2);
  }
  const wanted = args.filter((a) => !a.startsWith("-"));
  const areas = selectAreas(AREAS, wanted);
  if (areas.length === 0) {
    console.error(
      `no benchmark area matches ${wanted.join(", ")}; areas: ${AREAS.map((a) => a.prefix).join(", ")}`,
    );
    process.exit(2);
  }
  const file = path.join(projectRoot(), "bench", "results.json");
  const previous: BenchResult[] = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as BenchResult[])
    : [];
  const fresh: BenchResult[] = [];
  const started = performance.now();
  for (const area of areas) {
    console.error(`[bench] ${area.prefix} ...`);
    const before = os.loadavg()[0]!;
    const results = withAreaLoad(await area.run(), { before, after: os.loadavg()[0]! });
    fresh.push(...results);
    printTable(results);
  }
  const names = new Set(fresh.map((r) => r.name));
  const merged = [...previous.filter((r) => !names.has(r.name)), ...fresh].sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  writeFileAtomic(file, JSON.stringify(merged, null, 2) + "\n");
  console.error(`[bench] wrote ${fresh.length} figures to ${path.relative(process.cwd(), file)}`);
  printSummary(fresh, (performance.now() - started) / 1000);
}

function printSummary(results: BenchResult[], seconds: number): void {
  console.log(
    `\nsummary (${results.length} figures, ${seconds.toFixed(0)} s, load average now ${os.loadavg()[0]!.toFixed(2)}, ${os.availableParallelism()} cores)`,
  );
  for (const r of results) {
    const load = r.load ? `load ${r.load.before.toFixed(1)} -> ${r.load.after.toFixed(1)}` : "";
    const ratio = r.ratio === null ? "" : `${fmt(r.ratio)}x`;
    console.log(`  ${verdict(r).padEnd(8)} ${r.name.padEnd(40)} ${ratio.padStart(8)}  ${load}`);
  }
  const counts = new Map<string, number>();
  for (const r of results) counts.set(verdict(r), (counts.get(verdict(r)) ?? 0) + 1);
  console.log(`  ${["met", "not met", "noisy", "info"].map((v) => `${counts.get(v) ?? 0} ${v}`).join(", ")}`);
}

function fmt(v: number | null): string {
  if (v === null) return "-";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function printTable(results: BenchResult[]): void {
  for (const r of results) {
    const peer = r.peer ? `${r.peer} ${fmt(r.peerValue)}` : "";
    const v = verdict(r);
    const shown = v === "info" ? "" : v.toUpperCase();
    console.log(
      `${r.name.padEnd(40)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(10)} ${peer.padEnd(34)} ratio ${fmt(r.ratio).padStart(6)}  goal ${r.goal}  ${shown}`,
    );
  }
}

void main();
