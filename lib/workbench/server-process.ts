/**
 * A long-running local server (JupyterLab, the MLflow UI) started for a person: in its own process group, bound to
 * loopback, its output appended to a log file, polled until it answers, and stopped as a whole group (SIGTERM, then
 * SIGKILL) when the command is interrupted or the server exits, so nothing is left running.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, readFileSync, writeSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { openAppendLog } from "../util/atomic-write";
import { RouterlabError } from "../util/errors";

export interface ServerProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the server's main process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the whole process group: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 a moment ago: `preferred` when it is free, else one the OS picks. */
export async function pickPort(preferred?: number): Promise<number> {
  if (preferred !== undefined && preferred > 0 && (await isPortFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = addr !== null && typeof addr === "object" ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("could not read a probe socket's port"))));
    });
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd args` detached (its own process group), stdout and stderr appended to `logFile`. */
export function startServerProcess(
  cmd: string,
  args: readonly string[],
  opts: { logFile: string; env: NodeJS.ProcessEnv; cwd: string },
): ServerProcess {
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = openAppendLog(opts.logFile);
  writeSync(fd, `# ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
  const child = spawn(cmd, [...args], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: opts.env,
    cwd: opts.cwd,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new RouterlabError(`could not start ${cmd}`, { file: cmd });
  const pgid = child.pid;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", () => resolve({ code: null, signal: null }));
  });
  let done = false;
  void exited.then(() => (done = true));
  // If this Node process exits anyhow, take the server down with it.
  const onExit = (): void => killGroup(pgid, "SIGKILL");
  process.on("exit", onExit);
  // Ctrl-C while the server starts (before serveUntilInterrupted takes over): stop it and die like Node would.
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (process.listenerCount(sig) > 1) return;
    killGroup(pgid, "SIGKILL");
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  };
  for (const sig of signals) process.on(sig, onSignal);
  const stop = async (graceMs = 10_000): Promise<void> => {
    killGroup(pgid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (!done || groupAlive(pgid))) await sleep(100);
    if (groupAlive(pgid)) killGroup(pgid, "SIGKILL");
    await Promise.race([exited, sleep(2000)]);
    process.off("exit", onExit);
    for (const sig of signals) process.off(sig, onSignal);
  };
  return { pid: pgid, logFile: opts.logFile, exited, stop };
}

export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return `(no log at ${file})`;
  }
}

/** Polls `ready` every 250 ms until it is true; fails with the log tail if the server exits or the time runs out. */
export async function waitUntilReady(
  server: ServerProcess,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let exited = false;
  void server.exited.then(() => (exited = true));
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (exited) {
      throw new RouterlabError(
        `${what} exited during start-up`,
        { file: server.logFile },
        logTail(server.logFile),
      );
    }
    if (await ready().catch(() => false)) return;
    await sleep(250);
  }
  throw new RouterlabError(
    `${what} did not answer within ${Math.round(timeoutMs / 1000)} s`,
    { file: server.logFile },
    logTail(server.logFile),
  );
}

/** GET `url` with a 3 s timeout; undefined when nothing answers. */
export async function httpGet(url: string): Promise<Response | undefined> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(3000) });
  } catch {
    return undefined;
  }
}

/**
 * Keeps the command in the foreground until Ctrl-C / SIGTERM / SIGHUP (then stops the server) or until the server
 * exits by itself. Returns the exit code for the command.
 */
export async function serveUntilInterrupted(server: ServerProcess, what: string): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n${sig}: stopping ${what} ...\n`);
      void server.stop().then(() => done(0));
    };
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    for (const s of signals) process.on(s, onSignal);
    const done = (code: number): void => {
      for (const s of signals) process.off(s, onSignal);
      resolve(code);
    };
    void server.exited.then(({ code, signal }) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${what} exited (code ${code}, signal ${signal}); log ${server.logFile}\n`);
      void server.stop(1000).then(() => done(code === 0 ? 0 : 1));
    });
  });
}

/** How to start a server on `port` (`startServerProcess`), and how to tell that it serves. */
export interface ServerLaunch {
  cmd: string;
  args: readonly string[];
  logFile: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  what: string;
  ready: () => Promise<boolean>;
  timeoutMs: number;
}

/**
 * Starts a loopback server on a picked port (the preferred one first) and waits until it serves. A port taken between
 * picking and binding makes the server exit at once, so up to three ports are tried; any other failure is final.
 */
export async function startOnFreePort(
  preferred: number | undefined,
  launch: (port: number) => ServerLaunch,
): Promise<{ port: number; server: ServerProcess }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await pickPort(attempt === 0 ? preferred : undefined);
    const l = launch(port);
    const server = startServerProcess(l.cmd, l.args, l);
    try {
      await waitUntilReady(server, l.what, l.ready, l.timeoutMs);
      return { port, server };
    } catch (e) {
      lastError = e;
      let exitedEarly = false;
      await Promise.race([server.exited.then(() => (exitedEarly = true)), Promise.resolve()]);
      await server.stop(3000);
      if (!exitedEarly) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
