/**
 * `routerlab collect` as a process: kill -9 in the middle of a burst from the OpenTelemetry SDK
 * exporter loses nothing the exporter was told was accepted; the next run cuts the torn tail and
 * carries on. Binding a non-loopback address needs a token and is announced.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readCollected } from "../../lib/collect/read";
import { CollectStore } from "../../lib/collect/store";
import { projectRoot } from "../../lib/util/paths";
import { runChild } from "../support/spawn";
import { emit, readAcks, tempDir } from "./support";

const t = tempDir();
test.after(() => t.cleanup());

const CLI = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

/** Starts `routerlab collect` and resolves with the child and its endpoint once it listens. */
function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; endpoint: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "collect", "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let out = "";
    let settled = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+\/v1\/traces)/.exec(out);
      if (m && !settled) {
        settled = true;
        resolve({ child, endpoint: m[1]!, output: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      if (!settled) reject(new Error(`collect exited ${code}: ${out}`));
    });
  });
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("kill -9 of collect mid-burst loses nothing acknowledged; the next run recovers and appends", async () => {
  const dir = path.join(t.dir, "crash");
  const acks = path.join(t.dir, "crash.acks");
  const c = await startCli(["--out", dir, "--segment-mb", "2"]);
  let emitter: ChildProcess | undefined;
  const run = emit(
    c.endpoint,
    acks,
    { encoding: "proto", traces: 20_000, batch: 200, threads: 3, seed: 5, timeout: 2 },
    (ch) => (emitter = ch),
  );
  // kill once a good number of requests were acknowledged, while more are in flight
  await waitFor(() => readAcks(acks).length >= 40, 120_000);
  c.child.kill("SIGKILL");
  await new Promise((r) => c.child.once("exit", r));
  emitter?.kill("SIGKILL"); // its remaining exports could only fail now
  await run;
  // every reply the exporter got before the kill; a reply read just before the kill may be logged just after it
  const acked = readAcks(acks);
  assert.ok(acked.length < 300, "killed mid-burst, not after it");

  const d = readCollected(dir);
  const spans = new Set(d.llm.map((l) => l.span_id));
  const events = new Set(d.decisions.map((x) => x.decision.event_id));
  let ackedSpans = 0;
  for (const a of acked) {
    ackedSpans += a.spans;
    for (const id of a.llm) assert.ok(spans.has(id), `acknowledged LLM span ${id} lost`);
    for (const id of a.events) assert.ok(events.has(id), `acknowledged decision ${id} lost`);
  }
  // committed >= acknowledged: a request may be on disk while its reply was lost with the process
  assert.ok(d.counts.spans >= ackedSpans, `${d.counts.spans} committed < ${ackedSpans} acknowledged`);
  assert.equal(
    d.counts.spans,
    d.counts.llm + d.counts.llm_no_prompt + d.counts.decision_spans + d.counts.other + d.counts.rejected,
  );

  // the stale lock of the killed process does not block; the torn tail is cut; counts survive
  assert.ok(existsSync(path.join(dir, "collect.lock")));
  const store = await CollectStore.open(dir, { segmentBytes: 2 * 1024 * 1024 });
  assert.equal(store.totals().spans, d.counts.spans);
  await store.close();
  const again = readCollected(dir);
  assert.equal(again.uncommitted, 0, "recovery cut every unacknowledged record");
  assert.equal(again.llm.length, d.llm.length);

  const c2 = await startCli(["--out", dir]);
  assert.match(c2.output(), /already holds \d+ spans/);
  const more = await emit(c2.endpoint, path.join(t.dir, "crash2.acks"), {
    encoding: "json",
    traces: 10,
    batch: 30,
    seed: 6,
  });
  assert.equal(more.result!.ok, 1);
  c2.child.kill("SIGTERM");
  await new Promise((r) => c2.child.once("exit", r));
  assert.equal(readCollected(dir).counts.spans, d.counts.spans + 30);
  assert.ok(!existsSync(path.join(dir, "collect.lock")), "a clean stop releases the lock");
});

test("a non-loopback bind needs a bearer token and is announced loudly", async () => {
  const dir = path.join(t.dir, "public");
  const env = { ...process.env };
  delete env.ROUTERLAB_COLLECT_TOKEN;
  const refused = await runChild(
    process.execPath,
    [CLI, "collect", "--out", dir, "--host", "0.0.0.0", "--port", "0"],
    { env, timeoutMs: 30_000 },
  );
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /not a loopback address: set a bearer token in the environment variable ROUTERLAB_COLLECT_TOKEN/,
  );
  const c = await startCli(["--out", dir, "--host", "0.0.0.0"], {
    ...env,
    ROUTERLAB_COLLECT_TOKEN: "tok-123",
  });
  try {
    await waitFor(() => /NON-LOOPBACK/.test(c.output()), 10_000);
    const endpoint = c.endpoint.replace("0.0.0.0", "127.0.0.1");
    const noTok = await emit(endpoint, path.join(t.dir, "public.acks"), {
      encoding: "json",
      traces: 2,
      seed: 9,
      timeout: 5,
    });
    assert.equal(noTok.result!.failed, 1);
    const withTok = await emit(endpoint, path.join(t.dir, "public.acks"), {
      encoding: "proto",
      traces: 2,
      seed: 9,
      token: "tok-123",
    });
    assert.equal(withTok.result!.ok, 1);
  } finally {
    c.child.kill("SIGTERM");
    await new Promise((r) => c.child.once("exit", r));
  }
  assert.equal(readCollected(dir).counts.spans, 6);
});

test("routerlab collect --help and label-traffic --help describe their options", async () => {
  const c = await runChild(process.execPath, [CLI, "collect", "--help"], { timeoutMs: 30_000 });
  assert.equal(c.code, 0);
  for (const o of [
    "--out <dir>",
    "--host <host>",
    "--token-env <name>",
    "--max-decoded-mb <n>",
    "--max-inflight-mb <n>",
  ])
    assert.ok(c.stdout.includes(o), o);
  const l = await runChild(process.execPath, [CLI, "label-traffic", "--help"], { timeoutMs: 30_000 });
  assert.equal(l.code, 0);
  assert.match(l.stdout, /--config <file>/);
});
