/**
 * Runs `routerlab lab` / `routerlab ui` as a person would (the compiled CLI in a child process), waits for the URL
 * it prints, and stops it with Ctrl-C (SIGINT), checking that the server it started is gone.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../../lib/util/paths";
import { logTail, sleep, spawnService } from "../harness/services";

export interface StartedCommand {
  /** The first URL the command printed after `label:`. */
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The server's process group, as printed (`server pid N`). */
  serverPid: number | undefined;
  /** Ctrl-C, then: the command exits 0 and the server's process group is gone. */
  interruptAndCheck(): Promise<void>;
  /** Waits for the command to exit by itself; its exit code. */
  exitCode(timeoutMs?: number): Promise<number | null>;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startCommand(
  name: string,
  args: string[],
  label: string,
  opts: { env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<StartedCommand> {
  const cli = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
  const svc = spawnService(name, process.execPath, [cli, ...args], { env: opts.env });
  const output = (): string => readFileSync(svc.logFile, "utf8");
  const pattern = new RegExp(`^${label}: (https?://\\S+)`, "m");
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  let url: string | undefined;
  while (url === undefined) {
    const ex = svc.exited();
    url = pattern.exec(output())?.[1];
    if (url !== undefined) break;
    if (ex !== undefined)
      assert.fail(`${name} exited (code ${ex.code}) before printing its URL:\n${logTail(svc.logFile)}`);
    if (Date.now() > deadline) {
      await svc.stop();
      assert.fail(`${name} printed no URL in time:\n${logTail(svc.logFile)}`);
    }
    await sleep(250);
  }
  const pidMatch = /server pid (\d+)/.exec(output());
  const serverPid = pidMatch ? Number(pidMatch[1]) : undefined;
  return {
    url,
    output,
    serverPid,
    async exitCode(timeoutMs = 60_000): Promise<number | null> {
      const until = Date.now() + timeoutMs;
      while (svc.exited() === undefined && Date.now() < until) await sleep(100);
      const ex = svc.exited();
      await svc.stop(2000);
      assert.ok(ex !== undefined, `${name} did not exit:\n${logTail(svc.logFile)}`);
      return ex.code;
    },
    async interruptAndCheck(): Promise<void> {
      svc.child.kill("SIGINT");
      const until = Date.now() + 30_000;
      while (svc.exited() === undefined && Date.now() < until) await sleep(100);
      const ex = svc.exited();
      await svc.stop(2000);
      assert.ok(ex !== undefined, `${name} did not exit after Ctrl-C:\n${logTail(svc.logFile)}`);
      assert.equal(ex.code, 0, `${name} exit code after Ctrl-C:\n${logTail(svc.logFile)}`);
      if (serverPid !== undefined)
        assert.equal(groupAlive(serverPid), false, "the server's process group is gone");
    },
  };
}

/** True when nothing accepts connections at `url` any more. */
export async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return false;
  } catch {
    return true;
  }
}
