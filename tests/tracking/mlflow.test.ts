import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { barChart, figuresToHtml } from "../../lib/plots/plotly";
import { MlflowClient } from "../../lib/tracking/client";
import { readEvents } from "../../lib/tracking/journal";
import { S3ArtifactStore } from "../../lib/tracking/s3";
import { loadSyncState, syncRunDir } from "../../lib/tracking/sync";
import { startRun } from "../../lib/tracking/run";
import { sha256File, sha256Hex } from "../../lib/util/hash";
import { testServices } from "../support/services";
import { filesContaining, pythonReadback } from "./support";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-tracking-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("a full run is read back by MLflow's own Python client and matches, artifacts byte for byte", async () => {
  const svc = testServices();
  const journalDir = path.join(tmp, "journal-full");
  const logs: string[] = [];
  const llmKey = `sk-test-${randomBytes(8).toString("hex")}`;
  const urlPassword = `pw-${randomBytes(6).toString("hex")}`;
  const config = {
    router: { kind: "knn", k: 7, threshold: 0.42 },
    llm: { api_key: llmKey, base_url: `https://alice:${urlPassword}@llm.example.com/v1` },
    s3: { endpoint: svc.s3.endpoint, secretKey: svc.s3.secretAccessKey },
  };
  const experiment = `tracking-full-${randomBytes(4).toString("hex")}`;
  const run = startRun({
    experiment,
    runName: "full-readback",
    config,
    seeds: { split: 11, init: 12 },
    dataFingerprints: { routing: "abc123" },
    tags: { purpose: "test" },
    trackingUri: svc.mlflowUri,
    journalDir,
    handleSignals: false,
    log: (m) => logs.push(m),
  });
  const t0 = Date.now();
  for (let i = 0; i < 10_000; i++) run.logMetric("loss", 1 / (i + 1), i);
  run.logMetrics({ accuracy: 0.875, "auc/val": Number.NaN }, 3);
  const data = "query,model\nq1,gpt\nq2,llama\n";
  run.logInput({ name: "routing-sample", data, source: "data/routing.csv", context: "training" });
  const bigFile = path.join(tmp, "big.bin");
  writeFileSync(bigFile, randomBytes(50 * 1024 * 1024));
  await run.logArtifact(bigFile, "data");
  const modelFile = path.join(tmp, "model.json");
  writeFileSync(modelFile, JSON.stringify({ weights: [1, 2, 3] }));
  await run.logArtifact(modelFile, "model");
  const html = figuresToHtml([barChart("quality", ["a", "b"], [{ name: "q", y: [1, 2] }])], {
    title: "plot",
  });
  run.logHtml("plots/quality.html", html);
  run.registerModel(`${experiment}-model`, "model", { alias: "champion" });
  const res = await run.end();
  const elapsed = Date.now() - t0;
  assert.equal(res.synced, true, res.error);
  assert.ok(res.serverRunId);

  const state = loadSyncState(res.runDir, svc.mlflowUri);
  const rb = pythonReadback(svc.python, {
    tracking_uri: svc.mlflowUri,
    run_id: res.serverRunId,
    experiment_id: state.experimentId!,
    metric_keys: ["loss", "accuracy", "auc/val"],
    artifacts: ["data/big.bin", "model/model.json", "plots/quality.html", "config.json"],
    model: { name: `${experiment}-model`, alias: "champion" },
    dst_dir: path.join(tmp, "download"),
  });

  assert.equal(rb.status, "FINISHED");
  assert.equal(rb.search.status, "FINISHED");
  assert.equal(rb.params["router.k"], "7");
  assert.equal(rb.params["router.threshold"], "0.42");
  assert.equal(rb.params["seed.split"], "11");
  assert.equal(rb.params["llm.api_key"], "***REDACTED***");
  assert.equal(rb.tags.purpose, "test");
  assert.equal(rb.tags["routerlab.data.routing"], "abc123");
  assert.match(rb.tags["mlflow.source.git.commit"] ?? "", /^[0-9a-f]{40}$/);
  assert.match(rb.tags["routerlab.git.dirty"] ?? "", /^(true|false)$/);
  assert.equal(rb.tags["routerlab.node_version"], process.version);

  // Every metric point, exactly as the journal recorded it.
  const journal = readEvents(res.runDir).filter((e) => e.t === "m" && e.k === "loss");
  const loss = rb.history.loss!;
  assert.equal(loss.length, 10_000);
  const got = loss.map(([step, ts, v]) => `${step}|${ts}|${v}`).sort();
  const want = journal.map((e) => (e.t === "m" ? `${e.st}|${e.ts}|${e.v}` : "")).sort();
  assert.deepEqual(got, want);
  assert.deepEqual(
    rb.history.accuracy!.map((p) => [p[0], p[2]]),
    [[3, 0.875]],
  );
  assert.equal(rb.history["auc/val"]![0]![2], "NaN");

  assert.equal(rb.artifacts["data/big.bin"], await sha256File(bigFile));
  assert.equal(rb.artifacts["model/model.json"], await sha256File(modelFile));
  assert.equal(rb.artifacts["plots/quality.html"], sha256Hex(html));
  assert.deepEqual(rb.inputs, [
    { name: "routing-sample", digest: sha256Hex(data).slice(0, 36), context: "training" },
  ]);
  assert.equal(rb.model_version?.run_id, res.serverRunId);
  assert.match(rb.model_version?.source ?? "", /\/artifacts\/model$/);

  // Secrets: nowhere in the journal, params, tags, logs or downloaded artifacts.
  const secrets = [llmKey, urlPassword, svc.s3.secretAccessKey];
  assert.deepEqual(filesContaining(journalDir, secrets), []);
  assert.deepEqual(filesContaining(path.join(tmp, "download"), secrets), []);
  const serverText = JSON.stringify({
    params: rb.params,
    tags: rb.tags,
    search: rb.search,
    inputs: rb.inputs,
  });
  for (const s of secrets) assert.equal(serverText.includes(s), false);
  for (const s of secrets) assert.equal(logs.join("\n").includes(s), false);
  const downloadedConfig = readFileSync(path.join(tmp, "download", "config.json"), "utf8");
  assert.match(downloadedConfig, /REDACTED/);

  // A second sync of the finished journal sends nothing and duplicates nothing.
  const again = await syncRunDir(res.runDir, new MlflowClient(svc.mlflowUri));
  assert.equal(again.sent, 0);
  const history = await new MlflowClient(svc.mlflowUri).getMetricHistory(res.serverRunId, "loss");
  assert.equal(history.length, 10_000);
  process.stderr.write(`# full run logged and synced in ${elapsed} ms\n`);
});

test("runs whose artifact URI is s3:// upload directly to S3 with multipart and verified checksums", async () => {
  const svc = testServices();
  const journalDir = path.join(tmp, "journal-s3");
  const prefix = `routerlab-direct-${randomBytes(4).toString("hex")}`;
  const s3 = {
    endpoint: svc.s3.endpoint,
    region: svc.s3.region,
    accessKeyId: svc.s3.accessKeyId,
    secretAccessKey: svc.s3.secretAccessKey,
    multipartThreshold: 5 * 1024 * 1024,
    partSize: 5 * 1024 * 1024,
  };
  const run = startRun({
    experiment: `tracking-s3-${randomBytes(4).toString("hex")}`,
    artifactLocation: `s3://${svc.s3.bucket}/${prefix}`,
    trackingUri: svc.mlflowUri,
    journalDir,
    s3,
    handleSignals: false,
    log: () => undefined,
  });
  const file = path.join(tmp, "direct.bin");
  writeFileSync(file, randomBytes(12 * 1024 * 1024 + 123));
  await run.logArtifact(file, "blobs");
  const res = await run.end();
  assert.equal(res.synced, true, res.error);
  const state = loadSyncState(res.runDir, svc.mlflowUri);
  assert.match(state.artifactUri ?? "", /^s3:\/\//);
  const store = new S3ArtifactStore(s3);
  try {
    const key = `${prefix}/${res.serverRunId}/artifacts/blobs/direct.bin`;
    assert.equal(await store.sha256Object(svc.s3.bucket, key), await sha256File(file));
  } finally {
    store.destroy();
  }
  const rb = pythonReadback(svc.python, {
    tracking_uri: svc.mlflowUri,
    run_id: res.serverRunId!,
    experiment_id: state.experimentId!,
    artifacts: ["blobs/direct.bin"],
    dst_dir: path.join(tmp, "download-s3"),
  });
  assert.equal(rb.artifacts["blobs/direct.bin"], await sha256File(file));
});

test("S3 unreachable: retried with backoff, clear error, the journal keeps the upload until a later sync", async () => {
  const svc = testServices();
  const journalDir = path.join(tmp, "journal-s3-down");
  const prefix = `routerlab-down-${randomBytes(4).toString("hex")}`;
  const logs: string[] = [];
  const run = startRun({
    experiment: `tracking-s3-down-${randomBytes(4).toString("hex")}`,
    artifactLocation: `s3://${svc.s3.bucket}/${prefix}`,
    trackingUri: svc.mlflowUri,
    journalDir,
    // A port nobody listens on.
    s3: {
      endpoint: "http://127.0.0.1:9",
      region: svc.s3.region,
      accessKeyId: "x",
      secretAccessKey: "y",
      attempts: 3,
      backoffMs: 50,
    },
    handleSignals: false,
    log: (m) => logs.push(m),
  });
  run.logMetric("m", 1, 0);
  const file = path.join(tmp, "pending.txt");
  writeFileSync(file, "pending upload\n");
  await run.logArtifact(file);
  const started = Date.now();
  const res = await run.end();
  assert.equal(res.synced, false);
  assert.match(res.error ?? "", /S3 PUT .* failed after 3 attempts/);
  assert.ok(Date.now() - started >= 150, "backoff 50 + 100 ms between the 3 attempts");
  assert.match(logs.join("\n"), /routerlab tracking sync/);
  const state = loadSyncState(res.runDir, svc.mlflowUri);
  const artifactEvent = readEvents(res.runDir).find((e) => e.t === "artifact");
  assert.ok(artifactEvent && state.ackedSeq < artifactEvent.s, "the upload is still pending");
  assert.match(state.lastError ?? "", /after 3 attempts/);

  // S3 is back (the real endpoint): the pending upload and the end of the run go through.
  const done = await syncRunDir(res.runDir, new MlflowClient(svc.mlflowUri), {
    s3: {
      endpoint: svc.s3.endpoint,
      region: svc.s3.region,
      accessKeyId: svc.s3.accessKeyId,
      secretAccessKey: svc.s3.secretAccessKey,
    },
  });
  assert.ok(done.sent >= 2);
  const client = new MlflowClient(svc.mlflowUri);
  const files = await client.listArtifacts(done.serverRunId);
  assert.ok(files.some((f) => f.path === "pending.txt"));
  assert.equal((await client.getRun(done.serverRunId)).info.status, "FINISHED");
});
