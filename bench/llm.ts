import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { createLlmClient } from "../lib/llm/client";
import { parseModelsConfig } from "../lib/llm/config";
import type { ChatRequest } from "../lib/llm/types";
import { projectRoot, venvPython } from "../lib/util/paths";
import { compare, describe, median } from "./protocol";
import type { BenchArea, BenchResult } from "./types";

/**
 * LLM client benchmarks, against routerlab's simulator (latency 0) running in its own process:
 * - sustained requests/s at concurrency 64 and the client's CPU time per call, routerlab's client vs the Python
 *   `openai` package (AsyncOpenAI + asyncio semaphore) against the same server in the same run, on bench/protocol.ts:
 *   the peer tries both HTTP clients the package offers (httpx, its default, and aiohttp) and keeps the faster;
 *   asyncio and Node's event loop are single-threaded, so thread counts are not a knob on either side;
 * - the cache-hit path (key hashing + index lookup + one pread), per call.
 */

const N = 4000;
const CONCURRENCY = 64;

interface Sim {
  url: string;
  child: ChildProcess;
}

/** Starts the simulator in a child process, so the client measured does not share its event loop. */
export async function startSim(): Promise<Sim> {
  const server = path.join(projectRoot(), "dist", "lib", "llm", "sim", "server.js");
  const code = `
    const { startSimServer } = require(${JSON.stringify(server)});
    startSimServer({
      models: [{ id: "bench", kind: "answer", accuracy: 0.5, notAttemptedRate: 0.5, latencyMs: 0 }],
      facts: [{ question: "What is the capital of France?", answer: "Paris" }],
      seed: 0,
    }).then((s) => {
      process.stdout.write(s.url + "\\n");
      process.stdin.on("end", () => s.close().then(() => process.exit(0)));
      process.stdin.resume();
    });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["pipe", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (l) => resolve(l.trim()));
    child.once("exit", (c) => reject(new Error(`simulator exited (${c}) before listening`)));
  });
  return { url, child };
}

export function stopSim(sim: Sim): Promise<void> {
  return new Promise((resolve) => {
    sim.child.once("exit", () => resolve());
    sim.child.stdin!.end();
  });
}

function modelsFor(url: string) {
  return parseModelsConfig(
    `models:
  - name: bench
    baseUrl: ${url}
    modelId: bench
    inputPricePerMTok: 0.15
    outputPricePerMTok: 0.6
    limits: { concurrency: ${CONCURRENCY} }
    maxRetries: 0
`,
    "(bench models)",
  );
}

const req = (prefix: string, i: number): ChatRequest => ({
  model: "bench",
  messages: [{ role: "user", content: `${prefix} request ${i}` }],
  temperature: 0,
  maxTokens: 64,
});

async function routerlabThroughput(
  url: string,
  prefix: string,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const client = createLlmClient(modelsFor(url), { cacheDir: null });
  await Promise.all(Array.from({ length: 200 }, (_, i) => client.chat(req(`${prefix}-warm`, i))));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: N }, (_, i) => client.chat(req(prefix, i))));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await client.close();
  if (client.stats().total.failures > 0) throw new Error("llm bench: routerlab calls failed");
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export type PeerHttpClient = "httpx" | "aiohttp";
let openaiVersion = "";

/** One run of python/peers/llm_peer_bench.py: `n` requests (default N) with the given HTTP client. */
export async function pythonThroughput(
  url: string,
  prefix: string,
  httpClient: PeerHttpClient,
  n = N,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const child = spawn(venvPython(), [path.join(projectRoot(), "python", "peers", "llm_peer_bench.py")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin.end(
    JSON.stringify({
      base_url: url,
      model: "bench",
      n,
      concurrency: CONCURRENCY,
      prefix,
      http_client: httpClient,
    }),
  );
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`llm bench: python peer exited with ${code}`);
  const out = z
    .object({
      seconds: z.number(),
      cpu_seconds: z.number(),
      requests: z.number(),
      errors: z.number(),
      openai: z.string(),
    })
    .parse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  if (out.errors > 0) throw new Error(`llm bench: python peer had ${out.errors} errors`);
  openaiVersion = out.openai;
  return { seconds: out.seconds, cpuSeconds: out.cpu_seconds };
}

async function cacheHitMs(url: string): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-llm-"));
  try {
    const warm = createLlmClient(modelsFor(url), { cacheDir: dir });
    const entries = 2000;
    await Promise.all(Array.from({ length: entries }, (_, i) => warm.chat(req("cached", i))));
    await warm.close();
    const client = createLlmClient(modelsFor(url), { cacheDir: dir });
    const reqs = Array.from({ length: entries }, (_, i) => req("cached", i));
    for (const r of reqs) await client.chat(r); // JIT warm-up
    const rounds = 10;
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      for (let j = 0; j < rounds; j++) for (const r of reqs) await client.chat(r);
      best = Math.min(best, (performance.now() - t0) / (rounds * entries));
    }
    const s = client.stats().total;
    await client.close();
    if (s.cacheHits !== s.calls) throw new Error("llm bench: expected only cache hits");
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const llmBench: BenchArea = {
  prefix: "llm.",
  run: async (): Promise<BenchResult[]> => {
    const sim = await startSim();
    try {
      // CPU time of each run, by configuration label, for the kept configurations' CPU-per-call figure.
      const cpu = new Map<string, number[]>();
      let round = 0;
      const timedRun =
        (label: string, f: (prefix: string) => Promise<{ seconds: number; cpuSeconds: number }>) =>
        async (): Promise<number> => {
          const r = await f(`r${round++}`);
          cpu.set(label, [...(cpu.get(label) ?? []), r.cpuSeconds]);
          return r.seconds;
        };
      const peerConfig = (client: PeerHttpClient, label: string) => ({
        label,
        run: timedRun(`peer ${label}`, (prefix) => pythonThroughput(sim.url, prefix, client)),
      });
      const c = await compare(
        {
          name: "routerlab LLM client",
          configs: [
            {
              label: "1 event loop",
              run: timedRun("ours", (prefix) => routerlabThroughput(sim.url, prefix)),
            },
          ],
        },
        {
          name: "python openai AsyncOpenAI, asyncio, same server",
          configs: [
            peerConfig("httpx", "httpx (default)"),
            peerConfig("aiohttp", "aiohttp (DefaultAioHttpClient)"),
          ],
        },
      );
      c.peer.name = `python openai ${openaiVersion} AsyncOpenAI, asyncio, same server`;
      const rps = N / c.ours.median;
      const peerRps = N / c.peer.median;
      const cpuMs = (median(cpu.get("ours")!) * 1000) / N;
      const peerCpuMs = (median(cpu.get(`peer ${c.peer.config}`)!) * 1000) / N;
      const hit = await cacheHitMs(sim.url);
      const peer = describe(c.peer);
      const protocol = { noisy: c.noisy, ours: describe(c.ours), load: c.load };
      return [
        {
          name: "llm.requests_per_second_c64",
          value: rps,
          unit: "req/s",
          peer,
          peerValue: peerRps,
          ratio: rps / peerRps,
          goal: ">= 500 req/s (sim server, latency 0, own process; medians of interleaved rounds)",
          met: !c.noisy && rps >= 500,
          ...protocol,
          samples: { ours: c.ours.samples, peer: c.peer.samples },
        },
        {
          name: "llm.client_cpu_ms_per_call",
          value: cpuMs,
          unit: "ms",
          peer,
          peerValue: peerCpuMs,
          ratio: peerCpuMs / cpuMs,
          goal: "reported (client process CPU time per call at concurrency 64, median of the kept configurations' rounds)",
          met: null,
          ...protocol,
        },
        {
          name: "llm.cache_hit_ms_per_call",
          value: hit,
          unit: "ms",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: "< 0.2 ms (key hash + index lookup + pread, 2000 entries)",
          met: hit < 0.2,
        },
      ];
    } finally {
      await stopSim(sim);
    }
  },
};
