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
import type { BenchArea, BenchResult } from "./types";

/**
 * LLM client benchmarks, against routerlab's simulator (latency 0) running in its own process:
 * - sustained requests/s at concurrency 64 and the client's CPU time per call, routerlab's client vs the Python
 *   `openai` package (AsyncOpenAI + asyncio semaphore) against the same server in the same run;
 * - the cache-hit path (key hashing + index lookup + one pread), per call.
 */

const N = 4000;
const CONCURRENCY = 64;

interface Sim {
  url: string;
  child: ChildProcess;
}

/** Starts the simulator in a child process, so the client measured does not share its event loop. */
async function startSim(): Promise<Sim> {
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

function stopSim(sim: Sim): Promise<void> {
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

async function pythonThroughput(
  url: string,
  prefix: string,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const child = spawn(venvPython(), [path.join(projectRoot(), "python", "peers", "llm_peer_bench.py")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin.end(JSON.stringify({ base_url: url, model: "bench", n: N, concurrency: CONCURRENCY, prefix }));
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`llm bench: python peer exited with ${code}`);
  const out = z
    .object({ seconds: z.number(), cpu_seconds: z.number(), requests: z.number(), errors: z.number() })
    .parse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  if (out.errors > 0) throw new Error(`llm bench: python peer had ${out.errors} errors`);
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
      // Alternate, best of two each, so both see the same machine load.
      const ours: { seconds: number; cpuSeconds: number }[] = [];
      const theirs: { seconds: number; cpuSeconds: number }[] = [];
      for (let r = 0; r < 2; r++) {
        ours.push(await routerlabThroughput(sim.url, `ts${r}`));
        theirs.push(await pythonThroughput(sim.url, `py${r}`));
      }
      const best = (xs: { seconds: number; cpuSeconds: number }[]) =>
        xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const o = best(ours);
      const p = best(theirs);
      const rps = N / o.seconds;
      const peerRps = N / p.seconds;
      const cpuMs = (o.cpuSeconds * 1000) / N;
      const peerCpuMs = (p.cpuSeconds * 1000) / N;
      const hit = await cacheHitMs(sim.url);
      const peer = "python openai 3.51.0 AsyncOpenAI, asyncio, same server";
      return [
        {
          name: "llm.requests_per_second_c64",
          value: rps,
          unit: "req/s",
          peer,
          peerValue: peerRps,
          ratio: rps / peerRps,
          goal: ">= 500 req/s (sim server, latency 0, own process)",
          met: rps >= 500,
        },
        {
          name: "llm.client_cpu_ms_per_call",
          value: cpuMs,
          unit: "ms",
          peer,
          peerValue: peerCpuMs,
          ratio: peerCpuMs / cpuMs,
          goal: "reported (client process CPU time per call at concurrency 64)",
          met: null,
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
