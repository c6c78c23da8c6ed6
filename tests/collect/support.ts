/** Shared pieces of the collect tests: a temp dataset, an in-process receiver, the Python SDK emitter. */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import type { CollectLimits, RunningCollector } from "../../lib/collect/server";
import { DEFAULT_LIMITS, startCollectServer } from "../../lib/collect/server";
import { CollectStore } from "../../lib/collect/store";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { runChild } from "../support/spawn";

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-collect-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Receiver {
  server: RunningCollector;
  store: CollectStore;
  endpoint: string;
  stop: () => Promise<void>;
}

export async function startReceiver(
  dir: string,
  opts: { token?: string; limits?: Partial<CollectLimits>; segmentBytes?: number } = {},
): Promise<Receiver> {
  const store = await CollectStore.open(dir, { segmentBytes: opts.segmentBytes ?? 64 * 1024 * 1024 });
  const server = await startCollectServer({
    host: "127.0.0.1",
    port: 0,
    store,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  return {
    server,
    store,
    endpoint: `${server.url}/v1/traces`,
    stop: async () => {
      await server.close();
      await store.close();
    },
  };
}

export interface AckLine {
  spans: number;
  llm: string[];
  events: string[];
  no_prompt: number;
}

export interface EmitResult {
  spans: number;
  batches: number;
  ok: number;
  failed: number;
}

/** Runs python/otel_gateway_emit.py (the real OpenTelemetry SDK and OTLP exporter) against `endpoint`. */
export async function emit(
  endpoint: string,
  acks: string,
  args: {
    encoding: "proto" | "json";
    traces: number;
    batch?: number;
    threads?: number;
    gzip?: boolean;
    seed: number;
    noPromptEvery?: number;
    token?: string;
    timeout?: number;
  },
  onStart?: (child: ChildProcess) => void,
): Promise<{ result: EmitResult | null; stderr: string; code: number | null }> {
  const argv = [
    path.join(projectRoot(), "python", "otel_gateway_emit.py"),
    "--endpoint",
    endpoint,
    "--acks",
    acks,
    "--encoding",
    args.encoding,
    "--traces",
    String(args.traces),
    "--batch",
    String(args.batch ?? 512),
    "--threads",
    String(args.threads ?? 1),
    "--seed",
    String(args.seed),
    "--no-prompt-every",
    String(args.noPromptEvery ?? 0),
    "--timeout",
    String(args.timeout ?? 30),
    ...(args.gzip ? ["--gzip"] : []),
    ...(args.token ? ["--token", args.token] : []),
  ];
  const r = await runChild(venvPython(), argv, { timeoutMs: 600_000, ...(onStart ? { onStart } : {}) });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let result: EmitResult | null = null;
  try {
    result = JSON.parse(last) as EmitResult;
  } catch {
    result = null;
  }
  return { result, stderr: r.stderr, code: r.code };
}

/** The complete lines of an ack file (a killed writer may leave a torn last line). */
export function readAcks(file: string): AckLine[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const lines = text.split("\n");
  lines.pop(); // after the last "\n": empty, or a torn line
  return lines.filter((l) => l !== "").map((l) => JSON.parse(l) as AckLine);
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One raw HTTP request; `chunks` are written one by one (no content-length unless given in headers). */
export function post(
  url: string,
  headers: Record<string, string>,
  chunks: Buffer[] | Buffer,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: "POST", headers }, (res) => {
      answered = true;
      const out: Buffer[] = [];
      res.on("data", (c: Buffer) => out.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(out) }),
      );
      res.on("error", reject);
    });
    // the server may close the connection after refusing a body it did not read
    req.on("error", (e) => setTimeout(() => (answered ? undefined : reject(e)), 100));
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) req.write(c);
    req.end();
  });
}
