import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { MlflowClient } from "../../lib/tracking/client";
import { loadSyncState, syncRunDir } from "../../lib/tracking/sync";
import { startRun } from "../../lib/tracking/run";
import type { S3Service } from "../harness/services";
import { startMlflow } from "../harness/services";
import { testServices } from "../support/services";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-tracking-fault-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function s3Service(): S3Service {
  const svc = testServices();
  const url = new URL(svc.s3.endpoint);
  return {
    name: "s3",
    url: svc.s3.endpoint,
    port: Number(url.port),
    logFile: "",
    stop: async () => undefined,
    accessKey: svc.s3.accessKeyId,
    secretKey: svc.s3.secretAccessKey,
    region: svc.s3.region,
    bucket: svc.s3.bucket,
  };
}

async function expectExactRun(
  client: MlflowClient,
  runId: string,
  steps: number,
  params: Record<string, string>,
  artifacts: string[],
): Promise<void> {
  const history = await client.getMetricHistory(runId, "loss");
  assert.equal(history.length, steps, "no metric point missing or duplicated");
  assert.deepEqual(
    history.map((m) => m.step).sort((a, b) => a - b),
    Array.from({ length: steps }, (_, i) => i),
  );
  const run = await client.getRun(runId);
  const got = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
  for (const [k, v] of Object.entries(params)) assert.equal(got[k], v, `param ${k}`);
  const files = (await client.listArtifacts(runId)).map((f) => f.path).sort();
  assert.deepEqual(files, [...artifacts].sort());
}

test("MLflow killed mid-run and restarted: after sync nothing is missing or duplicated", async () => {
  const backendDir = path.join(tmp, "backend");
  const s3 = s3Service();
  const logs: string[] = [];
  const artifactsPrefix = `fault-${randomBytes(3).toString("hex")}`;
  let server = await startMlflow({ s3, backendDir, artifactsPrefix });
  try {
    const run = startRun({
      experiment: "tracking-fault",
      runName: "killed-server",
      config: { lr: 0.1 },
      trackingUri: server.url,
      journalDir: path.join(tmp, "journal"),
      syncIntervalMs: 100,
      flushIntervalMs: 50,
      handleSignals: false,
      log: (m) => logs.push(m),
    });
    for (let i = 0; i < 1500; i++) run.logMetric("loss", 1 / (i + 1), i);
    const a1 = path.join(tmp, "before.txt");
    writeFileSync(a1, "logged before the crash\n");
    await run.logArtifact(a1);
    await run.flush();
    for (let i = 1500; i < 3000; i++) run.logMetric("loss", 1 / (i + 1), i);
    // Kill the server while the background sync is (likely) busy with the new points.
    await new Promise((r) => setTimeout(r, 120));
    await server.stop();
    for (let i = 3000; i < 5000; i++) run.logMetric("loss", 1 / (i + 1), i);
    run.logParams({ phase: "after-crash" });
    run.setTags({ note: "server was down" });
    const a2 = path.join(tmp, "after.txt");
    writeFileSync(a2, "logged while the server was down\n");
    await run.logArtifact(a2);
    await new Promise((r) => setTimeout(r, 300));
    const ended = await run.end("FINISHED", { timeoutMs: 20_000 });
    assert.equal(ended.synced, false);
    assert.match(logs.join("\n"), /unreachable|kept in/);

    // Restart on the same backend (a new port: the sync adopts the run by its local-run tag).
    server = await startMlflow({ s3, backendDir, artifactsPrefix });
    const client = new MlflowClient(server.url);
    const first = await syncRunDir(ended.runDir, client);
    assert.equal(first.serverRunId, ended.serverRunId, "the same server run, not a new one");
    await expectExactRun(client, first.serverRunId, 5000, { lr: "0.1", phase: "after-crash" }, [
      "after.txt",
      "before.txt",
      "config.json",
    ]);
    const run2 = await client.getRun(first.serverRunId);
    assert.equal(run2.info.status, "FINISHED");
    assert.equal(run2.data.tags.find((t) => t.key === "note")?.value, "server was down");

    const second = await syncRunDir(ended.runDir, client);
    assert.equal(second.sent, 0);
    await expectExactRun(client, first.serverRunId, 5000, {}, ["after.txt", "before.txt", "config.json"]);
  } finally {
    await server.stop();
  }
});

test("a sync interrupted after the server accepted a batch resumes without duplicates", async () => {
  const svc = testServices();
  const run = startRun({
    experiment: "tracking-resume",
    config: { x: 1 },
    journalDir: path.join(tmp, "journal-resume"),
    trackingUri: "",
    handleSignals: false,
  });
  for (let i = 0; i < 3500; i++) run.logMetric("loss", i * 0.5, i);
  run.logParams({ y: "2" });
  const res = await run.end();
  assert.equal(res.serverRunId, undefined, "journal only: no server configured");
  const client = new MlflowClient(svc.mlflowUri);
  let units = 0;
  await assert.rejects(
    syncRunDir(res.runDir, client, {
      afterSend: () => {
        if (++units === 3) throw new Error("simulated crash after the server applied the batch");
      },
    }),
    /simulated crash/,
  );
  const state = loadSyncState(res.runDir, svc.mlflowUri);
  assert.ok(state.inflight, "the unacknowledged batch is remembered");
  const resumed = await syncRunDir(res.runDir, client);
  assert.ok(resumed.deduplicated > 0, "points already on the server were not re-sent");
  await expectExactRun(client, resumed.serverRunId, 3500, { x: "1", y: "2" }, ["config.json"]);
  assert.equal((await syncRunDir(res.runDir, client)).sent, 0);
});
