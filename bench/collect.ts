import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { readIndex } from "../lib/collect/store";
import { projectRoot, venvPython } from "../lib/util/paths";
import type { BenchArea, BenchResult } from "./types";

/**
 * `routerlab collect` ingesting a 1M-span burst with durable writes (every request fsynced before its 200), in its
 * own process, driven by a keep-alive node:http client at concurrency 16 from this process. The request body is
 * what the gateway's exporter sends: gateway-shaped spans (decision span with its event, LiteLLM LLM span with
 * prompt and answer, a root span) recorded by the OpenTelemetry Python SDK and encoded by its OTLP encoder
 * (protobuf, 513 spans, gzip), replayed (the receiver does not de-duplicate; the reader does).
 * - spans per second over the whole burst, 503/429 retries included;
 * - the receiver's peak RSS (VmHWM, Linux).
 * Every span is checked to be accounted for in the dataset's index. No peer: nothing else ingests into this format.
 */

const CONCURRENCY = 16;
const TOTAL_SPANS = 1_000_000;

function startCollect(dir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
  const child = spawn(
    process.execPath,
    [main, "collect", "--out", dir, "--port", "0", "--report-seconds", "3600"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+\/v1\/traces)/.exec(out);
      if (m) resolve({ child, endpoint: m[1]! });
    });
    child.once("exit", (c) => reject(new Error(`collect exited (${c}) before listening: ${out}`)));
  });
}

function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function drive(
  endpoint: string,
  body: Buffer,
  requests: number,
): Promise<{ seconds: number; retries: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(endpoint);
  let retries = 0;
  const once = () =>
    new Promise<{ status: number; retryAfter: number }>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: {
            "content-type": "application/x-protobuf",
            "content-encoding": "gzip",
            "content-length": body.length,
          },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers["retry-after"] ?? 1) }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < requests) {
      next++;
      for (;;) {
        const r = await once();
        if (r.status === 200) break;
        if (r.status !== 429 && r.status !== 503) throw new Error(`collect answered ${r.status}`);
        retries++;
        await new Promise((res) => setTimeout(res, Math.min(1000, r.retryAfter * 100)));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { seconds, retries };
}

export const collectBench: BenchArea = {
  prefix: "collect.",
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-collect-"));
    try {
      const bodyFile = path.join(dir, "body.pb");
      const gen = spawnSync(
        venvPython(),
        [
          path.join(projectRoot(), "python", "otel_gateway_emit.py"),
          "--endpoint",
          "-",
          "--traces",
          "171",
          "--seed",
          "1",
          "--write-body",
          bodyFile,
        ],
        {
          encoding: "utf8",
        },
      );
      if (gen.status !== 0) throw new Error(`otel_gateway_emit.py failed: ${gen.stderr}`);
      const spansPerBody = (JSON.parse(gen.stdout) as { spans: number }).spans;
      const body = gzipSync(readFileSync(bodyFile));
      const requests = Math.ceil(TOTAL_SPANS / spansPerBody);
      const ds = path.join(dir, "dataset");
      const c = await startCollect(ds);
      const { seconds, retries } = await drive(c.endpoint, body, requests);
      const rss = peakRssMb(c.child.pid!);
      await new Promise<void>((resolve) => {
        c.child.once("exit", () => resolve());
        c.child.kill("SIGTERM");
      });
      const spans = requests * spansPerBody;
      const stored = readIndex(ds)?.totals.spans ?? -1;
      if (stored !== spans) throw new Error(`collect stored ${stored} spans, ${spans} were acknowledged`);
      const rate = spans / seconds;
      const load = os.loadavg()[0]!.toFixed(1);
      process.stderr.write(
        `collect.: ${spans} spans in ${seconds.toFixed(1)} s (${retries} 503/429 retries), load ${load}\n`,
      );
      return [
        {
          name: "collect.ingest_spans_per_s",
          value: Math.round(rate),
          unit: "spans/s",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: ">= 20000 spans/s, fsync before every 200",
          met: rate >= 20_000,
        },
        {
          name: "collect.peak_rss_mb_1m_burst",
          value: rss === null ? NaN : Math.round(rss),
          unit: "MB",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: "<= 500 MB",
          met: rss === null ? null : rss <= 500,
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
