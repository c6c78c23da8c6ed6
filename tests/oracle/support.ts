/** Shared set-up for the oracle tests: the real sim server on SimpleQA facts, a models file pointing at it. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundledPaths } from "../../lib/data/bundled";
import { loadSimpleQa } from "../../lib/data/simpleqa";
import type { SimpleQaRow } from "../../lib/data/simpleqa";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { startSimServer } from "../../lib/llm/sim/server";
import type { SimFaults, SimModel, SimRequestRecord } from "../../lib/llm/sim/types";
import { projectRoot } from "../../lib/util/paths";
import { writeSimModelsFile } from "../support/sim";
import type { ChildRun } from "../support/spawn";
import { runChild } from "../support/spawn";

let rows: SimpleQaRow[] | undefined;
export function simpleqaRows(): SimpleQaRow[] {
  rows ??= loadSimpleQa(bundledPaths().simpleqa).rows;
  return rows;
}

export const SIM_MODELS: readonly SimModel[] = [
  { id: "sim-weak", kind: "answer", accuracy: 0.3, notAttemptedRate: 0.3 },
  { id: "sim-strong", kind: "answer", accuracy: 0.6, notAttemptedRate: 0.3 },
  { id: "sim-grader", kind: "grader", noisyRate: 0.1 },
  { id: "sim-judge", kind: "judge", positionBias: 0 },
];

/** A sim server that knows every SimpleQA question (train AND test, so a leaked test question would be seen). */
export function startSim(
  opts: { faults?: SimFaults; apiKey?: string; models?: readonly SimModel[]; logFile?: string } = {},
): Promise<RunningSimServer> {
  return startSimServer({
    seed: 11,
    facts: simpleqaRows().map((r) => ({ question: r.problem, answer: r.answer, kind: r.answerType })),
    models: opts.models ?? SIM_MODELS,
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.logFile ? { logFile: opts.logFile } : {}),
  });
}

export const PRICES: Record<string, { input: number; output: number }> = {
  "sim-weak": { input: 0.15, output: 0.6 },
  "sim-strong": { input: 2.5, output: 10 },
  "sim-grader": { input: 0.15, output: 0.6 },
  "sim-judge": { input: 0.15, output: 0.6 },
};

/** A models file for the four sim models; with `apiKeyEnv` every model sends the key from that variable. */
export function writeModelsFile(dir: string, baseUrl: string, apiKeyEnv?: string): string {
  const roles = { weak: "sim-weak", strong: "sim-strong", grader: "sim-grader", judge: "sim-judge" };
  return writeSimModelsFile(dir, baseUrl, PRICES, roles, apiKeyEnv);
}

const created: string[] = [];

export function tmpDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `routerlab-oracle-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every folder tmpDir made in this process (call from `after`). */
export function removeTmpDirs(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Requests the server billed: answered (200), not a fault, not an idempotency replay. */
export function billed(records: readonly SimRequestRecord[]): SimRequestRecord[] {
  return records.filter((r) => r.status === 200 && r.fault === null && !r.replay);
}

/** Request hashes the server billed more than once. */
export function duplicateBilled(records: readonly SimRequestRecord[]): string[] {
  const n = new Map<string, number>();
  for (const r of billed(records)) n.set(r.requestHash, (n.get(r.requestHash) ?? 0) + 1);
  return [...n].filter(([, c]) => c > 1).map(([h]) => h);
}

export type CliRun = ChildRun;

/** Runs `routerlab <args>` (compiled CLI); `killWhen` is polled every 20 ms and signals the child (once) when true. */
export async function runCli(
  args: readonly string[],
  opts: {
    env?: Record<string, string>;
    killWhen?: () => boolean;
    killSignal?: NodeJS.Signals;
    timeoutMs?: number;
  } = {},
): Promise<CliRun> {
  const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
  let poll: NodeJS.Timeout | undefined;
  try {
    return await runChild(process.execPath, [main, ...args], {
      cwd: projectRoot(),
      env: { ...process.env, ROUTERLAB_QUIET: "1", ...opts.env },
      timeoutMs: opts.timeoutMs ?? 300_000,
      onStart: (child) => {
        const killWhen = opts.killWhen;
        if (!killWhen) return;
        let sent = false;
        poll = setInterval(() => {
          if (!sent && killWhen()) {
            sent = true;
            child.kill(opts.killSignal ?? "SIGKILL");
          }
        }, 20);
      },
    });
  } finally {
    clearInterval(poll);
  }
}

export { filesUnder } from "../support/files";

export function readText(file: string): string {
  return readFileSync(file, "utf8");
}
