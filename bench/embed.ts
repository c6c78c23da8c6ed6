import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { createEmbedder, embedStream } from "../lib/embed";
import type { EmbeddingMatrix } from "../lib/embed";
import { realQueries } from "../tests/peers/embed-probe";
import { pythonReference, rowCosines } from "../tests/peers/embed-reference";
import type { Comparison } from "./protocol";
import { compare, describe, threadCounts, threadLabel, withThreadEnv } from "./protocol";
import type { BenchArea, BenchResult } from "./types";

/**
 * embed.*: routerlab's ONNX embedder vs sentence-transformers on torch CPU (the gateway's code path),
 * measured in the same run on real queries from the bundled data, batch 32.
 *
 * Throughput follows bench/protocol.ts: every thread count 1..cores on both sides (onnxruntime intra-op threads,
 * each with and without spin-waiting; torch.set_num_threads + the BLAS/OpenMP variables), each run embedding the
 * same texts, the fastest kept, then
 * interleaved rounds (routerlab, Python, ...) and the medians; noisy when the load average exceeds the cores.
 * Single-query latency is informational (routerlab embeds in batches; the gateway embeds each request itself).
 *
 * Sizes (environment): ROUTERLAB_BENCH_EMBED_N texts per throughput run (default 500),
 * ROUTERLAB_BENCH_EMBED_ROUNDS (default 3), ROUTERLAB_BENCH_EMBED_STREAM texts for the streamed peak-RSS
 * run (default 0 = skipped; `npm run bench -- --long` sets 100000: hours on 2 shared cores; the figure name
 * carries the size actually run).
 */
const N = Number(process.env.ROUTERLAB_BENCH_EMBED_N ?? 500);
const ROUNDS = Math.max(1, Number(process.env.ROUTERLAB_BENCH_EMBED_ROUNDS ?? 3));
const STREAM_N = Number(process.env.ROUTERLAB_BENCH_EMBED_STREAM ?? 0);
const LATENCY_RUNS = 200;
/** A real-looking query of ~50 word-pieces for the single-query latency figure. */
const Q50 =
  "I am planning a two week trip to Japan in April with my parents, who are in their seventies. " +
  "Which cities should we visit, and how should we travel between them comfortably and cheaply, " +
  "with good food nearby? Thanks a lot!";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, x) => s + x, 0) / a.length;
const load = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join("/");

function streamTexts(n: number, base: string[]): Generator<string> {
  return (function* () {
    for (let i = 0; i < n; i++) yield `${base[i % base.length]!} (#${i})`;
  })();
}

/** VmHWM (peak RSS) or VmRSS of this process in kB, from /proc/self/status (Linux). */
function procStatusKb(field: "VmHWM" | "VmRSS"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return field === "VmHWM" ? process.resourceUsage().maxRSS : Math.round(process.memoryUsage().rss / 1024);
}

/** Child mode: stream `n` distinct texts through cache + model and print our own peak RSS. */
async function streamChild(n: number, cacheDir: string): Promise<void> {
  const embedder = await createEmbedder();
  const base = realQueries(5000, 5);
  const t0 = Date.now();
  let sum = 0;
  const samples: [number, number][] = [];
  let nextReport = 0;
  const r = await embedStream(streamTexts(n, base), {
    embedder,
    cacheDir,
    chunkSize: 1024,
    onRows: (m) => {
      sum += m.data[0]!; // touch the rows, then drop them (as a writer would)
    },
    onProgress: (done) => {
      samples.push([done, procStatusKb("VmRSS")]);
      if (done >= nextReport) {
        const secs = (Date.now() - t0) / 1000;
        process.stderr.write(
          `[bench embed stream] ${done}/${n} texts, ${(done / secs).toFixed(1)}/s, RSS ${(procStatusKb("VmRSS") / 1024).toFixed(0)} MB, load ${load()}\n`,
        );
        nextReport = done + Math.max(1024, Math.floor(n / 20));
      }
    },
  });
  await embedder.dispose();
  process.stdout.write(
    JSON.stringify({
      rows: r.rows,
      misses: r.misses,
      seconds: (Date.now() - t0) / 1000,
      maxRssKb: procStatusKb("VmHWM"),
      samples,
      check: Number.isFinite(sum),
    }) + "\n",
  );
}

const ChildOut = z.object({
  rows: z.number(),
  misses: z.number(),
  seconds: z.number(),
  maxRssKb: z.number(),
  samples: z.array(z.tuple([z.number(), z.number()])),
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

/** Single-query latencies (ms, sorted) of `embedOne(Q50)` after a warm-up. */
async function latencies(threads?: number): Promise<number[]> {
  const e = await createEmbedder({ precision: "fp32", threads });
  try {
    for (let i = 0; i < 20; i++) await e.embedOne(Q50);
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const s = process.hrtime.bigint();
      await e.embedOne(Q50);
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    return lat.sort((a, b) => a - b);
  } finally {
    await e.dispose();
  }
}

async function run(): Promise<BenchResult[]> {
  const texts = [Q50, ...realQueries(N - 1, 5)];
  const loadStart = load();
  console.error(
    `[bench embed] ${texts.length} real queries per run, batch 32, ${ROUNDS} rounds; load average ${loadStart}`,
  );
  // Both sides embed the same texts in every run; thread counts 1..cores tried on each side (bench/protocol.ts),
  // and on routerlab's side its other knob, onnxruntime's spin-waiting between operators (ROUTERLAB_EMBED_SPIN:
  // faster on an idle machine, slower on a busy one; it changes no result).
  const ourConfigs = threadCounts().flatMap((threads) =>
    [false, true].map((spinning) => ({
      threads,
      spinning,
      label: `${threadLabel(threads)}${spinning ? ", spinning" : ""}`,
    })),
  );
  const embedders = await Promise.all(
    ourConfigs.map(({ threads, spinning }) =>
      createEmbedder({ precision: "fp32", batchSize: 32, threads, spinning }),
    ),
  );
  const q50Tokens = embedders[0]!.tokenize(Q50).length;
  let ours: EmbeddingMatrix | undefined;
  let refMatrix: EmbeddingMatrix | undefined;
  let cmp: Comparison;
  try {
    for (const e of embedders) await e.embed(texts.slice(0, 64)); // warm-up
    cmp = await compare(
      {
        name: "routerlab fp32 embedder (onnxruntime)",
        configs: embedders.map((e, i) => ({
          label: ourConfigs[i]!.label,
          run: async () => {
            const t0 = process.hrtime.bigint();
            ours = await e.embed(texts);
            return Number(process.hrtime.bigint() - t0) / 1e9;
          },
        })),
      },
      {
        name: "sentence-transformers (torch CPU)",
        configs: threadCounts().map((threads) => ({
          label: threadLabel(threads),
          run: async () => {
            const ref = await withThreadEnv(threads, () =>
              pythonReference(texts, { batchSize: 32, threads }),
            );
            refMatrix = ref.matrix;
            return ref.seconds;
          },
        })),
      },
      { rounds: ROUNDS },
    );
  } finally {
    for (const e of embedders) await e.dispose();
  }
  const loadTput = load();

  const int8 = await createEmbedder({ precision: "int8", batchSize: 32 });
  await int8.embed(texts.slice(0, 64));
  const t0 = process.hrtime.bigint();
  const ours8 = await int8.embed(texts);
  const ours8Sec = Number(process.hrtime.bigint() - t0) / 1e9;
  await int8.dispose();

  // single query: default threads (2 on this machine) and 1 thread, then the Python peer
  const lat = await latencies();
  const lat1 = await latencies(1);
  const pyRef = await pythonReference([Q50], { batchSize: 32, latencyRuns: 100 });
  const pyLat = [...pyRef.latenciesMs].sort((a, b) => a - b);
  const loadLat = load();

  const cosRef = rowCosines(ours!, refMatrix!);
  const cos8 = rowCosines(ours8, ours!);
  const tput = texts.length / cmp.ours.median;
  const tput8 = texts.length / ours8Sec;
  const pyTput = texts.length / cmp.peer.median;
  console.error(`[bench embed] load average after throughput ${loadTput}, after latency ${loadLat}`);

  const stream = STREAM_N > 0 ? await runStreamChild(STREAM_N) : undefined;
  // the latency peer runs at torch's default thread count; the cosine check compares with the kept throughput run's
  const peer = `sentence-transformers, ${pyRef.threads} torch thread${pyRef.threads === 1 ? "" : "s"} (default)`;
  const threadsDefault = Math.min(4, os.availableParallelism());
  /** An int8-vs-fp32 cosine statistic (no peer, informational). */
  const int8Cosine = (name: string, value: number): BenchResult => ({
    name,
    value,
    unit: "cosine",
    peer: null,
    peerValue: null,
    ratio: null,
    goal: "informational (vs routerlab fp32)",
    met: null,
  });
  /** Percentile `p` of a sorted single-query latency sample (ms), against the peer's at the same percentile. */
  const latencyFigure = (
    name: string,
    sorted: number[],
    p: number,
    goal: string,
    met: boolean | null,
  ): BenchResult => ({
    name,
    value: pct(sorted, p),
    unit: "ms",
    peer,
    peerValue: pct(pyLat, p),
    ratio: pct(pyLat, p) / pct(sorted, p),
    goal,
    met,
  });
  return [
    {
      name: "embed.fp32_throughput",
      value: tput,
      unit: "texts/s",
      peer: describe(cmp.peer),
      peerValue: pyTput,
      ratio: tput / pyTput,
      goal: `>= 1.5x sentence-transformers at its best thread count (medians of ${ROUNDS} interleaved rounds)`,
      met: !cmp.noisy && tput / pyTput >= 1.5,
      noisy: cmp.noisy,
      ours: describe(cmp.ours),
      load: cmp.load,
      samples: { ours: cmp.ours.samples, peer: cmp.peer.samples },
    },
    {
      name: "embed.fp32_cosine_min",
      value: Math.min(...cosRef),
      unit: "cosine",
      peer: describe(cmp.peer),
      peerValue: 1,
      ratio: null,
      goal: ">= 0.9999 vs sentence-transformers (kept throughput run)",
      met: Math.min(...cosRef) >= 0.9999,
    },
    {
      name: "embed.int8_throughput",
      value: tput8,
      unit: "texts/s",
      peer: describe(cmp.peer),
      peerValue: pyTput,
      ratio: tput8 / pyTput,
      goal: "informational (int8 is not gateway-compatible; peer from the interleaved rounds)",
      met: null,
    },
    int8Cosine("embed.int8_cosine_min", Math.min(...cos8)),
    int8Cosine("embed.int8_cosine_mean", mean(cos8)),
    latencyFigure(
      "embed.latency_p50_ms",
      lat,
      50,
      `informational (${q50Tokens}-token query, ${threadsDefault} threads, load ${loadLat})`,
      null,
    ),
    latencyFigure(
      "embed.latency_p99_ms",
      lat,
      99,
      // Not a goal: routerlab embeds in batches; the gateway embeds each request itself (issue 16).
      `informational (${q50Tokens}-token query, ${threadsDefault} threads, load ${loadLat})`,
      null,
    ),
    latencyFigure(
      "embed.latency_1t_p50_ms",
      lat1,
      50,
      `informational (${q50Tokens}-token query, 1 thread, load ${loadLat})`,
      null,
    ),
    latencyFigure(
      "embed.latency_1t_p99_ms",
      lat1,
      99,
      `informational (${q50Tokens}-token query, 1 thread, load ${loadLat})`,
      null,
    ),
    ...(stream ? [streamFigure(stream)] : []),
  ];
}

/** Peak RSS of the streamed run (only with ROUTERLAB_BENCH_EMBED_STREAM > 0, e.g. `npm run bench -- --long`). */
function streamFigure(stream: z.infer<typeof ChildOut>): BenchResult {
  const rssMb = stream.maxRssKb / 1024;
  const half = stream.samples.find(([done]) => done >= stream.rows / 2)?.[1] ?? 0;
  const last = stream.samples[stream.samples.length - 1]?.[1] ?? 0;
  const streamName = STREAM_N % 1000 === 0 ? `${STREAM_N / 1000}k` : String(STREAM_N);
  return {
    name: `embed.stream_${streamName}_peak_rss_mb`,
    value: rssMb,
    unit: "MB",
    peer: null,
    peerValue: null,
    ratio: null,
    goal:
      `<= 1536 MB (VmHWM; ${stream.rows} distinct texts streamed in ${stream.seconds.toFixed(0)} s; ` +
      `RSS ${(half / 1024).toFixed(0)} MB at half, ${(last / 1024).toFixed(0)} MB at the end; load ${load()})`,
    met: rssMb <= 1536,
  };
}

export const embedBench: BenchArea = { prefix: "embed.", run };

if (require.main === module && process.argv[2] === "--stream-child") {
  streamChild(Number(process.argv[3]), process.argv[4]!).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
