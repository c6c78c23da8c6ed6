import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { createEmbedder, embedStream } from "../lib/embed";
import { realQueries } from "../lib/embed/probe";
import { pythonReference, rowCosines } from "../lib/embed/reference";
import type { BenchArea, BenchResult } from "./types";

/**
 * embed.*: routerlab's ONNX embedder vs sentence-transformers on torch CPU (the gateway's code path),
 * measured in the same run on real queries from the bundled data, batch 32.
 *
 * Sizes (environment): ROUTERLAB_BENCH_EMBED_N texts for throughput (default 2000),
 * ROUTERLAB_BENCH_EMBED_STREAM texts for the streamed peak-RSS run (default 2000, set 100000 for the
 * full figure: hours on 2 shared cores; the figure name
 * carries the size actually run).
 */
const N = Number(process.env.ROUTERLAB_BENCH_EMBED_N ?? 2000);
const STREAM_N = Number(process.env.ROUTERLAB_BENCH_EMBED_STREAM ?? 2000);
const LATENCY_RUNS = 100;
/** A real-looking query of ~50 word-pieces for the single-query latency figure. */
const Q50 =
  "I am planning a two week trip to Japan in April with my parents, who are in their seventies. " +
  "Which cities should we visit, and how should we travel between them comfortably and cheaply, " +
  "with good food nearby? Thanks a lot!";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, x) => s + x, 0) / a.length;

function streamTexts(n: number, base: string[]): Generator<string> {
  return (function* () {
    for (let i = 0; i < n; i++) yield `${base[i % base.length]!} (#${i})`;
  })();
}

/** Child mode: stream `n` distinct texts through cache + model and print our own peak RSS. */
async function streamChild(n: number, cacheDir: string): Promise<void> {
  const embedder = await createEmbedder();
  const base = realQueries(5000, 5);
  const t0 = Date.now();
  let sum = 0;
  const r = await embedStream(streamTexts(n, base), {
    embedder,
    cacheDir,
    chunkSize: 1024,
    onRows: (m) => {
      sum += m.data[0]!; // touch the rows, then drop them (as a writer would)
    },
  });
  await embedder.dispose();
  process.stdout.write(
    JSON.stringify({
      rows: r.rows,
      misses: r.misses,
      seconds: (Date.now() - t0) / 1000,
      maxRssKb: process.resourceUsage().maxRSS,
      check: Number.isFinite(sum),
    }) + "\n",
  );
}

const ChildOut = z.object({
  rows: z.number(),
  misses: z.number(),
  seconds: z.number(),
  maxRssKb: z.number(),
  check: z.literal(true),
});

async function runStreamChild(n: number): Promise<z.infer<typeof ChildOut>> {
  const cache = mkdtempSync(path.join(os.tmpdir(), "routerlab-embbench-"));
  try {
    const child = spawn(process.execPath, [__filename, "--stream-child", String(n), cache], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ROUTERLAB_QUIET: "1" },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`stream child exited ${code}`);
    return ChildOut.parse(JSON.parse(out.trim().split("\n").pop()!));
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function run(): Promise<BenchResult[]> {
  const texts = [Q50, ...realQueries(N - 1, 5)];
  const fp32 = await createEmbedder({ precision: "fp32", batchSize: 32 });
  const int8 = await createEmbedder({ precision: "int8", batchSize: 32 });
  const q50Tokens = fp32.tokenize(Q50).length;
  console.error(
    `[bench embed] ${texts.length} real queries, batch 32; load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );

  const ref = await pythonReference(texts, { batchSize: 32, latencyRuns: LATENCY_RUNS });
  await fp32.embed(texts.slice(0, 64)); // warm-up
  let t0 = process.hrtime.bigint();
  const ours = await fp32.embed(texts);
  const oursSec = Number(process.hrtime.bigint() - t0) / 1e9;
  await int8.embed(texts.slice(0, 64));
  t0 = process.hrtime.bigint();
  const ours8 = await int8.embed(texts);
  const ours8Sec = Number(process.hrtime.bigint() - t0) / 1e9;

  for (let i = 0; i < 5; i++) await fp32.embed([Q50]);
  const lat: number[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const s = process.hrtime.bigint();
    await fp32.embed([Q50]);
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  lat.sort((a, b) => a - b);
  const pyLat = [...ref.latenciesMs].sort((a, b) => a - b);
  await fp32.dispose();
  await int8.dispose();

  const cosRef = rowCosines(ours, ref.matrix);
  const cos8 = rowCosines(ours8, ours);
  const tput = texts.length / oursSec;
  const tput8 = texts.length / ours8Sec;
  const pyTput = texts.length / ref.seconds;
  console.error(
    `[bench embed] load average after throughput: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );

  const stream = await runStreamChild(STREAM_N);
  const rssMb = stream.maxRssKb / 1024;
  const streamName = STREAM_N === 100_000 ? "100k" : String(STREAM_N);
  const peer = `sentence-transformers ${ref.threads}t`;
  return [
    {
      name: "embed.fp32_throughput",
      value: tput,
      unit: "texts/s",
      peer,
      peerValue: pyTput,
      ratio: tput / pyTput,
      goal: ">= 1.5x peer",
      met: tput / pyTput >= 1.5,
    },
    {
      name: "embed.fp32_cosine_min",
      value: Math.min(...cosRef),
      unit: "cosine",
      peer,
      peerValue: 1,
      ratio: null,
      goal: ">= 0.9999 vs peer",
      met: Math.min(...cosRef) >= 0.9999,
    },
    {
      name: "embed.int8_throughput",
      value: tput8,
      unit: "texts/s",
      peer,
      peerValue: pyTput,
      ratio: tput8 / pyTput,
      goal: "informational (int8 is not gateway-compatible)",
      met: null,
    },
    {
      name: "embed.int8_cosine_min",
      value: Math.min(...cos8),
      unit: "cosine",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: "informational (vs routerlab fp32)",
      met: null,
    },
    {
      name: "embed.int8_cosine_mean",
      value: mean(cos8),
      unit: "cosine",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: "informational (vs routerlab fp32)",
      met: null,
    },
    {
      name: "embed.latency_p50_ms",
      value: pct(lat, 50),
      unit: "ms",
      peer,
      peerValue: pct(pyLat, 50),
      ratio: pct(pyLat, 50) / pct(lat, 50),
      goal: `informational (${q50Tokens}-token query)`,
      met: null,
    },
    {
      name: "embed.latency_p99_ms",
      value: pct(lat, 99),
      unit: "ms",
      peer,
      peerValue: pct(pyLat, 99),
      ratio: pct(pyLat, 99) / pct(lat, 99),
      goal: `p99 <= 10 ms (${q50Tokens}-token query)`,
      met: pct(lat, 99) <= 10,
    },
    {
      name: `embed.stream_${streamName}_peak_rss_mb`,
      value: rssMb,
      unit: "MB",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: `<= 1536 MB (${stream.rows} texts streamed in ${stream.seconds.toFixed(0)} s)`,
      met: rssMb <= 1536,
    },
  ];
}

export const embedBench: BenchArea = { prefix: "embed.", run };

if (require.main === module && process.argv[2] === "--stream-child") {
  streamChild(Number(process.argv[3]), process.argv[4]!).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
