import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Command } from "commander";
import { registerTrackingCommands } from "../../lib/cli/tracking";
import { MlflowClient } from "../../lib/tracking/client";
import { startRun } from "../../lib/tracking/run";
import { RouterlabError } from "../../lib/util/errors";
import { testServices } from "../support/services";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-tracking-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `routerlab tracking ...` in-process and returns what it printed. */
async function cli(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerTrackingCommands(program);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "routerlab", "tracking", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out.join("");
}

test("routerlab tracking ls and sync: offline journal runs reach the server once", async () => {
  const svc = testServices();
  const journal = path.join(tmp, "journal");
  const run = startRun({
    experiment: "tracking-cli",
    runName: "offline",
    trackingUri: "",
    journalDir: journal,
    handleSignals: false,
  });
  for (let i = 0; i < 50; i++) run.logMetric("loss", i, i);
  run.logParams({ k: 3 });
  const res = await run.end();

  const ls = await cli("ls", "--journal", journal, "--tracking-uri", svc.mlflowUri);
  assert.match(ls, new RegExp(`${res.localRunId}\\s+tracking-cli/offline\\s+FINISHED`));
  assert.match(ls, /pending/);

  const first = await cli("sync", "--journal", journal, "--tracking-uri", svc.mlflowUri);
  assert.match(first, /1\/1 runs synced/);
  const serverRunId = /synced to run ([0-9a-f]+)/.exec(first)?.[1];
  assert.ok(serverRunId);
  const second = await cli("sync", "--journal", journal, "--tracking-uri", svc.mlflowUri);
  assert.match(second, /\(0 events sent\)/);
  const history = await new MlflowClient(svc.mlflowUri).getMetricHistory(serverRunId, "loss");
  assert.equal(history.length, 50);
  assert.match(await cli("ls", "--journal", journal, "--tracking-uri", svc.mlflowUri), /synced \(run/);

  await assert.rejects(cli("sync", "--journal", journal, "--tracking-uri", "ftp://x"), RouterlabError);
  await assert.rejects(
    cli("sync", "--journal", journal, "--run", "nope", "--tracking-uri", svc.mlflowUri),
    /no run 'nope'/,
  );
});
