import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { listRunDirs, readEvents, readRunMeta } from "../../lib/tracking/journal";
import { startRun, withRun } from "../../lib/tracking/run";
import { RouterlabError } from "../../lib/util/errors";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-tracking-run-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("journal-only mode: everything lands in the run folder, in order, with the end status", async () => {
  const journalDir = path.join(tmp, "embedded");
  const run = startRun({
    experiment: "e",
    runName: "r",
    config: { a: { b: 1 } },
    journalDir,
    trackingUri: "",
    handleSignals: false,
  });
  for (let i = 0; i < 1000; i++) run.logMetric("loss", i / 10, i);
  run.logParams({ lr: 0.01 });
  run.logParams({ lr: 0.01 }); // same value again: fine
  assert.throws(() => run.logParams({ lr: 0.02 }), /cannot change/);
  assert.throws(() => run.logMetrics({ "bad\nkey": 1 }), RouterlabError);
  const res = await run.end();
  assert.equal(res.synced, false);
  assert.equal(res.serverRunId, undefined);
  const dirs = listRunDirs(journalDir);
  assert.deepEqual(dirs, [res.runDir]);
  assert.equal(readRunMeta(res.runDir).runName, "r");
  const events = readEvents(res.runDir);
  assert.deepEqual(
    events.map((e) => e.s),
    events.map((_, i) => i + 1),
  );
  assert.equal(events.filter((e) => e.t === "m").length, 1000);
  const last = events.at(-1);
  assert.equal(last?.t === "end" ? last.status : undefined, "FINISHED");
  assert.ok(events.some((e) => e.t === "p" && e.k === "a.b" && e.v === "1"));
  assert.ok(readdirSync(path.join(res.runDir, "files")).some((f) => f.endsWith("config.json")));
  // Logging after the end is refused (metrics are silently dropped on the hot path).
  assert.throws(() => run.setTags({ x: "1" }), /has ended/);
});

test("concurrent end() calls share one end: a single end event, the first status", async () => {
  const run = startRun({
    experiment: "e",
    journalDir: path.join(tmp, "twice"),
    trackingUri: "",
    handleSignals: false,
  });
  run.logMetric("m", 1, 0);
  const [a, b] = await Promise.all([run.end("KILLED"), run.end("FINISHED")]);
  assert.equal(a, b);
  assert.equal(a.status, "KILLED");
  const ends = readEvents(a.runDir).filter((e) => e.t === "end");
  assert.equal(ends.length, 1);
  assert.equal(await run.end(), a);
});

test("a torn last journal line is ignored; a corrupt line elsewhere names file and line", async () => {
  const run = startRun({
    experiment: "e",
    journalDir: path.join(tmp, "torn"),
    trackingUri: "",
    handleSignals: false,
  });
  run.logMetric("m", 1, 0);
  const res = await run.end();
  const file = path.join(res.runDir, "events.jsonl");
  appendFileSync(file, '{"s":99,"t":"m","k":"m","v":');
  assert.equal(readEvents(res.runDir).at(-1)?.t, "end");
  appendFileSync(file, '\n{"s":100,"t":"tag","k":"x","v":"y"}\n');
  assert.throws(
    () => readEvents(res.runDir),
    (e: unknown) => e instanceof RouterlabError && /events\.jsonl:\d+/.test(e.message),
  );
});

test("withRun ends the run FAILED when the body throws, and re-throws", async () => {
  const journalDir = path.join(tmp, "failed");
  await assert.rejects(
    withRun({ experiment: "e", journalDir, trackingUri: "", handleSignals: false }, async (run) => {
      run.logMetric("m", 1, 0);
      await Promise.resolve();
      throw new Error("training blew up");
    }),
    /training blew up/,
  );
  const [dir] = listRunDirs(journalDir);
  const end = readEvents(dir!).at(-1);
  assert.equal(end?.t === "end" ? end.status : undefined, "FAILED");
});

test("Ctrl-C (SIGINT) ends the run KILLED with the journal flushed", () => {
  const journalDir = path.join(tmp, "sigint");
  const runModule = path.join(__dirname, "..", "..", "lib", "tracking", "run.js");
  const script = `
    const { startRun } = require(${JSON.stringify(runModule)});
    const run = startRun({ experiment: "e", journalDir: ${JSON.stringify(journalDir)}, trackingUri: "" });
    for (let i = 0; i < 500; i++) run.logMetric("m", i, i);
    setInterval(() => {}, 1000);
    setTimeout(() => process.kill(process.pid, "SIGINT"), 50);
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 130, r.stderr);
  const [dir] = listRunDirs(journalDir);
  const events = readEvents(dir!);
  assert.equal(events.filter((e) => e.t === "m").length, 500);
  const end = events.at(-1);
  assert.equal(end?.t === "end" ? end.status : undefined, "KILLED");
});
