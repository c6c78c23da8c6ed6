/**
 * A bench area's own file run as a child process, one per routerlab thread setting: the native kernels read
 * ROUTERLAB_KNN_THREADS once per process (lib/routers/native/topk.ts, gram.ts), so trying 1..cores onnxruntime
 * threads for routerlab (bench/protocol.ts) needs a process per setting. The child does its setup once (data, fit,
 * warm-up), then answers one command per stdin line with one tagged JSON line on stdout (anything else the child
 * prints is ignored), so the protocol's interleaved runs do not pay the setup again.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const FLAG = "--bench-worker";
const TAG = "@@bench-worker ";

export interface BenchWorker {
  /** Sends one command; resolves with the handler's result (rejects with its error, or if the child exits). */
  call(command: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts `file` (a compiled bench module that calls `serveBenchWorker` when `isBenchWorker()`) with `env` added. */
export function startBenchWorker(file: string, env: Record<string, string>): BenchWorker {
  const child = spawn(process.execPath, [file, FLAG], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (!line.startsWith(TAG)) return;
    const reply = JSON.parse(line.slice(TAG.length)) as { result?: unknown; error?: string };
    const w = waiting.shift();
    if (reply.error !== undefined) w?.reject(new Error(`bench worker ${file}: ${reply.error}`));
    else w?.resolve(reply.result);
  });
  child.once("exit", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`bench worker ${file} exited (${code})`));
  });
  return {
    call: (command) =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`bench worker ${file} has exited`));
        waiting.push({ resolve, reject });
        child.stdin.write(command + "\n");
      }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

export function isBenchWorker(): boolean {
  return process.argv[2] === FLAG;
}

/** Child side: `setup` once, then one reply per command line until stdin ends. */
export async function serveBenchWorker(setup: () => Promise<Record<string, () => unknown>>): Promise<void> {
  const reply = (msg: object): void => void process.stdout.write(TAG + JSON.stringify(msg) + "\n");
  // The parent is gone (killed mid-run): nobody reads the reply, so stop quietly instead of crashing on EPIPE.
  process.stdout.on("error", () => process.exit(0));
  let handlers: Record<string, () => unknown> | undefined;
  let setupError: string | undefined;
  try {
    handlers = await setup();
  } catch (e) {
    setupError = `setup failed: ${e instanceof Error ? e.stack : String(e)}`;
  }
  for await (const line of createInterface({ input: process.stdin })) {
    const command = line.trim();
    try {
      if (!handlers) throw new Error(setupError);
      const h = handlers[command];
      if (!h) throw new Error(`unknown command '${command}'`);
      reply({ result: await h() });
    } catch (e) {
      reply({ error: e instanceof Error ? e.message : String(e) });
    }
  }
}
