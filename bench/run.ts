import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../lib/util/paths";
import { AREAS } from "./areas";
import type { BenchResult } from "./types";

/**
 * `npm run bench [-- <prefix> ...]`: runs each area (routerlab and its Python peer in the same run),
 * prints a table with the ratios and merges the figures into bench/results.json.
 */
async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const areas = AREAS.filter(
    (a) => wanted.length === 0 || wanted.some((w) => a.prefix.startsWith(w) || w.startsWith(a.prefix)),
  );
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
  for (const area of areas) {
    console.error(`[bench] ${area.prefix} ...`);
    const results = await area.run();
    fresh.push(...results);
    printTable(results);
  }
  const names = new Set(fresh.map((r) => r.name));
  const merged = [...previous.filter((r) => !names.has(r.name)), ...fresh].sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(merged, null, 2) + "\n");
  console.error(`[bench] wrote ${fresh.length} figures to ${path.relative(process.cwd(), file)}`);
}

function fmt(v: number | null): string {
  if (v === null) return "-";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function printTable(results: BenchResult[]): void {
  for (const r of results) {
    const peer = r.peer ? `${r.peer} ${fmt(r.peerValue)}` : "";
    const verdict = r.met === null ? "" : r.met ? "MET" : "NOT MET";
    console.log(
      `${r.name.padEnd(40)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(10)} ${peer.padEnd(34)} ratio ${fmt(r.ratio).padStart(6)}  goal ${r.goal}  ${verdict}`,
    );
  }
}

void main();
