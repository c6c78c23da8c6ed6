import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ResponseCache } from "../../lib/llm/cache";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig, modelForRole } from "../../lib/llm/config";
import { logLlmStats } from "../../lib/llm/cost";
import { startSimServer, type RunningSimServer } from "../../lib/llm/sim/server";
import type { SimModel } from "../../lib/llm/sim/types";
import { MlflowClient } from "../../lib/tracking/client";
import { startRun } from "../../lib/tracking/run";
import { projectRoot } from "../../lib/util/paths";
import { testServices } from "../support/services";
import { filesUnder } from "../support/files";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-llm-sim-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const KEY = "sk-sim-test-0a1b2c3d4e5f60718293";
const MODELS_FILE = path.join(projectRoot(), "configs", "models.yaml");
const facts = Array.from({ length: 40 }, (_, i) => ({
  question: `Which number did the test assign to fact ${i}?`,
  answer: `It was ${i * 7}`,
}));
const simModels = (latencyMs: number): SimModel[] => [
  { id: "sim-weak", kind: "answer", accuracy: 0.4, notAttemptedRate: 0.3, latencyMs },
  { id: "sim-strong", kind: "answer", accuracy: 0.8, notAttemptedRate: 0.5, latencyMs },
];

function config(url: string) {
  return loadModelsConfig(MODELS_FILE, {
    env: { ROUTERLAB_SIM_URL: url },
    // 12 retries: at a 30% fault rate 7 attempts all fail for ~2% of 80-call runs (0.3^7 x 80); 13 for ~1e-5.
    // 3 s per attempt: an answer delayed by a loaded machine is not taken for an injected hang.
    models: {
      "sim-weak": { apiKeyEnv: "SIM_TEST_KEY", timeoutMs: 3000, maxRetries: 12 },
      "sim-strong": { apiKeyEnv: "SIM_TEST_KEY", timeoutMs: 3000, maxRetries: 12 },
    },
  });
}

/** Every answer the simulator billed (200, not an idempotent replay) was billed once, `n` answers in all. */
function assertEachBilledOnce(sim: RunningSimServer, n: number): void {
  const billed = new Map<string, number>();
  for (const r of sim.requests())
    if (r.status === 200 && !r.replay)
      billed.set(r.idempotencyKey!, (billed.get(r.idempotencyKey!) ?? 0) + 1);
  assert.equal(billed.size, n);
  assert.ok([...billed.values()].every((c) => c === 1));
}

test("against the simulator with 30% faults: every call answered, billed once, spend = sim usage x price", async () => {
  const sim = await startSimServer({
    models: simModels(0),
    facts,
    seed: 11,
    apiKey: KEY,
    faults: { rate: 0.3, retryAfterSeconds: 0, timeoutHangMs: 10_000 },
  });
  try {
    const cfg = config(sim.url);
    const cacheDir = path.join(tmp, "faults-cache");
    const client = createLlmClient(cfg, {
      cacheDir,
      env: { SIM_TEST_KEY: KEY },
      seed: 5,
      backoff: { baseMs: 5, maxMs: 40 },
    });
    const roles = [modelForRole(cfg, "weak"), modelForRole(cfg, "strong")];
    const reqs = roles.flatMap((model) =>
      facts.map((f) => ({
        model,
        messages: [{ role: "user" as const, content: f.question }],
        temperature: 0,
      })),
    );
    const results = await Promise.all(reqs.map((r) => client.chat(r)));
    assert.equal(results.length, 80);
    const faulted = sim.requests().filter((r) => r.fault !== null).length;
    assert.ok(faulted >= 10, `only ${faulted} faults injected`);

    // Each request key was billed once: completed (non-replayed, status 200, no fault) at most once.
    const billedByKey = new Map<string, number>();
    for (const r of sim.requests())
      if (r.status === 200 && r.fault === null && !r.replay)
        billedByKey.set(r.idempotencyKey!, (billedByKey.get(r.idempotencyKey!) ?? 0) + 1);
    assert.equal(billedByKey.size, 80);
    assert.ok([...billedByKey.values()].every((n) => n === 1));

    const stats = client.stats();
    const usage = sim.usage();
    for (const name of roles) {
      const m = cfg.models[name]!;
      const u = usage[m.modelId]!;
      assert.equal(stats.byModel[name]!.promptTokens, u.promptTokens);
      assert.equal(stats.byModel[name]!.completionTokens, u.completionTokens);
      assert.equal(
        stats.byModel[name]!.costUsd,
        (u.promptTokens * m.inputPricePerMTok + u.completionTokens * m.outputPricePerMTok) / 1e6,
      );
    }
    assert.equal(stats.total.retries, sim.requests().length - 80);

    // Spend, cache hits and retries reach a real MLflow run; the key reaches neither the run nor the cache.
    const svc = testServices();
    const run = startRun({
      experiment: "llm-client-test",
      runName: "sim-faults",
      trackingUri: svc.mlflowUri,
      journalDir: path.join(tmp, "journal"),
      handleSignals: false,
    });
    logLlmStats(run, stats);
    const end = await run.end();
    assert.ok(end.serverRunId);
    const mlflow = new MlflowClient(svc.mlflowUri);
    const cost = await mlflow.getMetricHistory(end.serverRunId, "llm.total.cost_usd");
    assert.equal(cost[0]!.value, stats.total.costUsd);
    const retries = await mlflow.getMetricHistory(end.serverRunId, "llm.sim-weak.retries");
    assert.equal(retries[0]!.value, stats.byModel["sim-weak"]!.retries);
    await client.close();

    for (const f of [...filesUnder(cacheDir), ...filesUnder(path.join(tmp, "journal"))])
      assert.ok(!readFileSync(f, "utf8").includes(KEY), `${f} contains the API key`);

    // A re-run is served from the cache: no request reaches the server.
    const before = sim.requests().length;
    const again = createLlmClient(cfg, { cacheDir, env: { SIM_TEST_KEY: KEY } });
    const cached = await Promise.all(reqs.map((r) => again.chat(r)));
    assert.equal(sim.requests().length, before);
    assert.deepEqual(
      cached.map((r) => r.text),
      results.map((r) => r.text),
    );
    await again.close();
  } finally {
    await sim.close();
  }
});

function runChild(
  sim: RunningSimServer,
  cacheDir: string,
  questions: string[],
  interruptAfter: number | null,
) {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, "sigint-child.js"), sim.url, cacheDir, JSON.stringify(questions)],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SIM_TEST_KEY: KEY } },
  );
  let out = "";
  let err = "";
  let sentAt = 0;
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (interruptAfter !== null && sentAt === 0 && (out.match(/^done /gm) ?? []).length >= interruptAfter) {
      sentAt = performance.now();
      child.kill("SIGINT");
    }
  });
  return new Promise<{ code: number | null; out: string; err: string; exitMs: number }>((resolve) =>
    child.on("exit", (code) => resolve({ code, out, err, exitMs: performance.now() - sentAt })),
  );
}

test("Ctrl-C: in-flight calls aborted, answers kept, exit 130; the resumed run pays for nothing twice", async () => {
  const sim = await startSimServer({ models: simModels(150), facts, seed: 12, apiKey: KEY });
  try {
    const cacheDir = path.join(tmp, "sigint-cache");
    const questions = facts.map((f) => f.question);
    const first = await runChild(sim, cacheDir, questions, 8);
    assert.equal(first.code, 130, first.err);
    assert.ok(first.exitMs < 3000, `exit took ${first.exitMs} ms`);
    assert.match(first.err, /interrupted; aborting \d+ LLM call/);
    const answered = (first.out.match(/^done /gm) ?? []).length;
    assert.ok(answered >= 8 && answered < 40);
    // The simulator logs a request when it replies: let the ones in flight at the interrupt land.
    await new Promise((r) => setTimeout(r, 500));
    const seenBefore = sim.requests().length;
    assert.ok(seenBefore < 40, "the run stopped early");

    const second = await runChild(sim, cacheDir, questions, null);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /finished/);
    // Every question billed exactly once over both runs; answers cached before the interrupt were not re-sent.
    assertEachBilledOnce(sim, 40);
    assert.ok(sim.requests().length - seenBefore <= 40 - answered);
    for (const f of filesUnder(cacheDir)) assert.ok(!readFileSync(f, "utf8").includes(KEY));
    assert.ok(!first.err.includes(KEY) && !first.out.includes(KEY));
  } finally {
    await sim.close();
  }
});

test("two processes sharing one cache: both complete, each answer billed once, every entry readable", async () => {
  const sim = await startSimServer({ models: simModels(150), facts, seed: 13, apiKey: KEY });
  try {
    const cacheDir = path.join(tmp, "shared-cache");
    const questions = facts.map((f) => f.question);
    const [a, b] = await Promise.all([
      runChild(sim, cacheDir, questions, null),
      runChild(sim, cacheDir, [...questions].reverse(), null),
    ]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assertEachBilledOnce(sim, 40);
    const segments = readdirSync(cacheDir).filter((n) => n.endsWith(".jsonl"));
    // One append-only segment per process that wrote something: two when both fetched answers, one when a
    // process started late on a loaded machine and found every answer already cached (seen in CI).
    assert.ok(
      segments.length === 1 || segments.length === 2,
      `one segment per writing process, got ${segments.length}`,
    );
    const cache = new ResponseCache(cacheDir);
    assert.equal(cache.size, 40);
    assert.equal(cache.stats().skippedLines, 0);
    cache.close();
  } finally {
    await sim.close();
  }
});
