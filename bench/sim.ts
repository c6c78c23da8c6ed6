import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { loadSimFacts } from "../lib/llm/sim/facts-file";
import { renderGraderPrompt } from "../lib/oracle/grader";
import { projectRoot } from "../lib/util/paths";
import type { BenchArea, BenchResult } from "./types";

/**
 * The simulator's own speed (lib/llm/sim): `routerlab sim-server` in its own process with latency 0, driven by a
 * keep-alive node:http client at concurrency 64 from this process.
 * - the oracle mix: per question a weak and a strong answer, then the SimpleQA grader on each (half the requests
 *   carry the ~6 kB grader prompt);
 * - answers only (short prompts);
 * - the server's CPU per request (from /proc, Linux), which does not depend on what else the machine is running.
 * No peer: the simulator exists to serve routerlab's client; the client's own benchmark (llm.) runs against it.
 */

const CONCURRENCY = 64;
const WARMUP = 2_000;
const N = 20_000;

interface Sim {
  child: ChildProcess;
  url: string;
}

async function startSim(config: string): Promise<Sim> {
  const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
  const child = spawn(process.execPath, [main, "sim-server", "--config", config, "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ROUTERLAB_QUIET: "1" },
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /url: (http:\/\/\S+\/v1)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (c) => reject(new Error(`sim-server exited (${c}) before listening: ${out}`)));
  });
  return { child, url };
}

function stopSim(sim: Sim): Promise<void> {
  return new Promise((resolve) => {
    if (sim.child.exitCode !== null) return resolve();
    sim.child.once("exit", () => resolve());
    sim.child.kill("SIGTERM");
  });
}

/** User + system CPU seconds of a process, or null off Linux. */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

async function drive(url: string, bodies: readonly string[], n: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${url}/chat/completions`);
  const one = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`sim bench: status ${res.statusCode}`));
          res.resume();
          res.on("end", () => resolve());
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        await one(bodies[i % bodies.length]!);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return seconds;
}

export const simBench: BenchArea = {
  prefix: "sim.",
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-sim-"));
    const config = path.join(dir, "sim.yaml");
    writeFileSync(
      config,
      [
        "seed: 0",
        "models:",
        "  - { id: sim-weak, kind: answer, accuracy: 0.3, notAttemptedRate: 0.3, latencyMs: 0 }",
        "  - { id: sim-strong, kind: answer, accuracy: 0.6, notAttemptedRate: 0.5, latencyMs: 0 }",
        "  - { id: sim-grader, kind: grader, noisyRate: 0.05, latencyMs: 0 }",
        "",
      ].join("\n"),
    );
    const facts = loadSimFacts("simpleqa").facts;
    const chat = (model: string, content: string) =>
      JSON.stringify({ model, messages: [{ role: "user", content }], temperature: 0, max_tokens: 256 });
    const oracleMix = facts.flatMap((f) => [
      chat("sim-weak", f.question),
      chat("sim-strong", f.question),
      chat(
        "sim-grader",
        renderGraderPrompt({ question: f.question, target: f.answer, predicted: "I don't know." }),
      ),
      chat("sim-grader", renderGraderPrompt({ question: f.question, target: f.answer, predicted: f.answer })),
    ]);
    const answers = facts.map((f, i) => chat(i % 2 === 0 ? "sim-weak" : "sim-strong", f.question));
    const sim = await startSim(config);
    try {
      await drive(sim.url, oracleMix, WARMUP);
      const cpu0 = cpuSeconds(sim.child.pid!);
      const mixSeconds = await drive(sim.url, oracleMix, N);
      const cpu1 = cpuSeconds(sim.child.pid!);
      const answerSeconds = await drive(sim.url, answers, N);
      const cpuMs = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * 1000) / N : null;
      const load = os.loadavg()[0]!.toFixed(1);
      const mixRps = N / mixSeconds;
      const answerRps = N / answerSeconds;
      return [
        {
          name: "sim.rps_c64_oracle_mix",
          value: mixRps,
          unit: "req/s",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: `>= 1000 req/s (latency 0, concurrency 64, client in another process; load avg ${load})`,
          met: mixRps >= 1000,
        },
        {
          name: "sim.rps_c64_answers",
          value: answerRps,
          unit: "req/s",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: `>= 1000 req/s (latency 0, concurrency 64; load avg ${load})`,
          met: answerRps >= 1000,
        },
        {
          name: "sim.server_cpu_per_req_oracle_mix",
          value: cpuMs ?? NaN,
          unit: "ms",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: "<= 0.5 ms server CPU per request (>= 2,000 req/s per core)",
          met: cpuMs === null ? null : cpuMs <= 0.5,
        },
      ];
    } finally {
      await stopSim(sim);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
