/**
 * SimpleQA evaluation end to end against routerlab's real sim server: a KNN policy router trained on oracle-like
 * labels of TRAIN questions, then evaluated on a TEST sample. Checks: no TRAIN question reaches the server during
 * evaluation; spend and arm costs equal the server's billed usage x configured prices; a re-run pays nothing;
 * the API key never appears in outputs, the response cache or the tracking run.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ChildProcess } from "node:child_process";
import { bundledPaths } from "../../lib/data/bundled";
import { loadSimpleQa } from "../../lib/data/simpleqa";
import { splitSimpleQa } from "../../lib/data/simpleqa-split";
import { resolveModelDir } from "../../lib/embed/model";
import { simpleqaMetrics } from "../../lib/eval/simpleqa";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig } from "../../lib/llm/config";
import { MlflowClient } from "../../lib/tracking/client";
import type { ModelsConfig } from "../../lib/llm/config";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { startSimServer } from "../../lib/llm/sim/server";
import type { SimFaults, SimRequestRecord } from "../../lib/llm/sim/types";
import { EvalSimpleQaConfigSchema } from "../../lib/simpleqa/config";
import type { EvalSimpleQaConfig } from "../../lib/simpleqa/config";
import { evaluateSimpleQa } from "../../lib/simpleqa/evaluate";
import { applyLayer } from "../../lib/simpleqa/policy";
import type { EvaluateOutput } from "../../lib/simpleqa/evaluate";
import type { ResultsJson } from "../../lib/simpleqa/report";
import { oracleLabels, trainPolicyRouter } from "../../lib/simpleqa/train-router";
import { projectRoot } from "../../lib/util/paths";
import { createRng, shuffled } from "../../lib/util/random";
import { filesUnder } from "../support/files";
import { DISK_FAULTS, mountTmpfs, unmount } from "../support/tmpfs";
import { testServices } from "../support/services";
import { writeSimModelsFile } from "../support/sim";
import type { ChildRun } from "../support/spawn";
import { runChild } from "../support/spawn";

const KEY = "sk-routerlab-test-9f2c4e1d7a6b5c3e";
const KEY_ENV = "ROUTERLAB_SQA_TEST_KEY";
const PRICES: Record<string, { input: number; output: number }> = {
  "sim-weak": { input: 0.15, output: 0.6 },
  "sim-strong": { input: 2.5, output: 10 },
  "sim-grader": { input: 0.15, output: 0.6 },
};

const writeModelsFile = (dir: string, baseUrl: string): string =>
  writeSimModelsFile(
    dir,
    baseUrl,
    PRICES,
    { weak: "sim-weak", strong: "sim-strong", grader: "sim-grader" },
    KEY_ENV,
  );

/** Every SimpleQA question, train AND test, so a leaked train question would be recognised and logged. */
function startSim(faults?: SimFaults, latencyMs = 0): Promise<RunningSimServer> {
  return startSimServer({
    seed: 5,
    facts: loadSimpleQa(bundledPaths().simpleqa).rows.map((r) => ({ question: r.problem, answer: r.answer })),
    models: [
      { id: "sim-weak", kind: "answer", accuracy: 0.3, notAttemptedRate: 0.3, latencyMs },
      { id: "sim-strong", kind: "answer", accuracy: 0.65, notAttemptedRate: 0.3, latencyMs },
      { id: "sim-grader", kind: "grader", noisyRate: 0.1, latencyMs },
    ],
    apiKey: KEY,
    ...(faults ? { faults } : {}),
  });
}

const billed = (rs: readonly SimRequestRecord[]) =>
  rs.filter((r) => r.status === 200 && r.fault === null && !r.replay);

/** USD per model from the server's billed usage and the configured prices. */
function billedUsd(rs: readonly SimRequestRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of billed(rs)) {
    const p = PRICES[r.model]!;
    out[r.model] =
      (out[r.model] ?? 0) + (r.usage!.promptTokens * p.input + r.usage!.completionTokens * p.output) / 1e6;
  }
  return out;
}

const CLI = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

/** Runs the CLI in a child process; `onStart` gets the child (e.g. to interrupt it). */
function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onStart?: (child: ChildProcess) => void,
): Promise<ChildRun> {
  return runChild(process.execPath, [CLI, ...args], { env, ...(onStart ? { onStart } : {}) });
}

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

describe("routerlab eval-simpleqa against the sim server", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-sqa-"));
  // The CLI re-run reads the same response cache through ROUTERLAB_CACHE_DIR=dir (cache in dir/llm).
  const cacheDir = path.join(dir, "llm");
  const journal = path.join(dir, "journal");
  const env = { ...process.env, [KEY_ENV]: KEY };
  let sim: RunningSimServer;
  let models: ModelsConfig;
  let config: EvalSimpleQaConfig;
  let routerFile: string;
  let trainSet: Set<string>;
  let testSet: Set<string>;
  let first: EvaluateOutput;
  let evalRequests: SimRequestRecord[];
  const savedTrackingDir = process.env.ROUTERLAB_TRACKING_DIR;

  before(async () => {
    process.env.ROUTERLAB_TRACKING_DIR = journal;
    process.env.ROUTERLAB_QUIET = "1";
    const rows = loadSimpleQa(bundledPaths().simpleqa).rows;
    sim = await startSim();
    models = loadModelsConfig(writeModelsFile(dir, sim.url), { env });
    config = EvalSimpleQaConfigSchema.parse({
      models: path.join(dir, "models.yaml"),
      data: { split: { seed: 42, testFraction: 0.2 }, limit: 40 },
      router: { threshold: { kind: "share", value: 0.4 } },
      policies: [
        {
          kind: "static",
          table: { Standard_Query: "weak", Complex_Query: "strong", Ambiguous_Query: "strong" },
        },
        { kind: "budget", budgetUsd: 0.0005 },
        { kind: "keyword", rules: [{ pattern: "\\b(how many|what year)\\b", route: "strong" }] },
        { kind: "hybrid", rules: [{ pattern: "\\bwho\\b", route: "weak" }], budgetUsd: 0.0005 },
      ],
      output: { dir: path.join(dir, "out") },
    });
    const split = splitSimpleQa(rows, { seed: 42, testFraction: 0.2 });
    trainSet = new Set(split.train.map((r) => r.problem));
    testSet = new Set(split.test.map((r) => r.problem));
    // Oracle-like labels on 80 TRAIN questions, a KNN policy classifier on them.
    const trainRows = shuffled(split.train, createRng(3)).slice(0, 80);
    const client = createLlmClient(models, { cacheDir, env });
    const labelled = await oracleLabels(
      client,
      config,
      { weak: "sim-weak", strong: "sim-strong", grader: "sim-grader" },
      trainRows,
      {
        progress: null,
      },
    );
    await client.close();
    routerFile = (await trainPolicyRouter(labelled, path.join(dir, "router"), { k: 7 })).file;
  });

  after(async () => {
    await sim.close();
    if (savedTrackingDir === undefined) delete process.env.ROUTERLAB_TRACKING_DIR;
    else process.env.ROUTERLAB_TRACKING_DIR = savedTrackingDir;
  });

  it("evaluates a TEST sample: the server sees no TRAIN question, and every arm is scored", async () => {
    const before = sim.requests().length;
    const client = createLlmClient(models, { cacheDir, env });
    // Under the suite runner the run goes to the real MLflow server too.
    const mlflow = process.env.ROUTERLAB_TEST_MLFLOW_URI;
    first = await evaluateSimpleQa({
      config,
      models,
      client,
      routerFile,
      progress: null,
      log: () => {},
      ...(mlflow ? { trackingUri: mlflow } : {}),
    });
    await client.close();
    evalRequests = sim.requests().slice(before);
    assert.ok(evalRequests.length >= 40 * 4, `only ${evalRequests.length} requests`);
    const asked = evalRequests.map((r) => r.question);
    assert.ok(
      asked.every((q) => q !== null),
      "every request is about a known question",
    );
    assert.deepEqual(
      asked.filter((q) => trainSet.has(q!)),
      [],
      "no TRAIN question during evaluation",
    );
    assert.ok(asked.every((q) => testSet.has(q!)));
    assert.equal(new Set(asked).size, 40);

    const r = first.result;
    assert.equal(r.n, 40);
    const names = r.arms.map((a) => a.name);
    for (const n of [
      "always-weak",
      "always-strong",
      "router",
      "random@router",
      "static",
      "budget",
      "keyword",
      "hybrid",
    ])
      assert.ok(names.includes(n), `arm ${n}`);
    // Each arm's metrics are the SimpleQA metrics of the answers it picks.
    const weak = r.arms.find((a) => a.name === "always-weak")!;
    const strong = r.arms.find((a) => a.name === "always-strong")!;
    const router = r.arms.find((a) => a.name === "router")!;
    assert.deepEqual(weak.metrics, simpleqaMetrics(r.records.map((q) => q.weak.grade)));
    assert.deepEqual(strong.metrics, simpleqaMetrics(r.records.map((q) => q.strong.grade)));
    assert.deepEqual(
      router.metrics,
      simpleqaMetrics(r.records.map((q) => (q.route === "strong" ? q.strong.grade : q.weak.grade))),
    );
    assert.equal(router.strongShare, r.records.filter((q) => q.route === "strong").length / 40);
    // Share target 0.4 on the router's own scores (ties can only push it up).
    assert.ok(router.strongShare >= 0.4 - 1e-12, `share ${router.strongShare}`);
    const rand = r.arms.find((a) => a.name === "random@router")!;
    assert.equal(rand.strongShare, Math.round(router.strongShare * 40) / 40);
    // The simulated strong model is better: the gap is positive and APGR is defined.
    assert.ok(strong.metrics.correct > weak.metrics.correct);
    assert.notEqual(r.curve.apgr, null);
    // Budget layers never spend more than their budget on strong answers; each arm's cost is its answers' cost.
    const routed = r.records.map((q) => ({
      text: q.question,
      score: q.score,
      policy: q.policy,
      strongCostUsd: q.strong.costUsd,
    }));
    for (const layer of config.policies) {
      const routes = applyLayer(routed, layer, r.threshold);
      const arm = r.arms.find((x) => x.name === layer.name)!;
      let strongSpend = 0;
      let cost = 0;
      r.records.forEach((q, i) => {
        if (routes[i] === "strong") strongSpend += q.strong.costUsd;
        cost += routes[i] === "strong" ? q.strong.costUsd : q.weak.costUsd;
      });
      close(arm.costUsd, cost, `${layer.name} cost`);
      if (layer.kind === "budget" || layer.kind === "hybrid")
        assert.ok(strongSpend <= 0.0005 + 1e-15, `${layer.name} spent ${strongSpend}`);
    }
  });

  it("spend and costs equal the server's billed usage x configured prices", () => {
    const usd = billedUsd(evalRequests);
    const spend = first.result.spend;
    for (const m of ["sim-weak", "sim-strong", "sim-grader"])
      close(spend.byModel[m]!.costUsd, usd[m]!, `${m} spend`);
    const r = first.result;
    close(r.arms.find((a) => a.name === "always-weak")!.costUsd, usd["sim-weak"]!, "always-weak cost");
    close(r.arms.find((a) => a.name === "always-strong")!.costUsd, usd["sim-strong"]!, "always-strong cost");
    close(r.grading.costUsd, usd["sim-grader"]!, "grading cost");
    close(r.datasetCostUsd, usd["sim-weak"]! + usd["sim-strong"]! + usd["sim-grader"]!, "dataset cost");
    const router = r.arms.find((a) => a.name === "router")!;
    close(router.savingsVsStrong!, 1 - router.costUsd / usd["sim-strong"]!, "savings");
    const results = JSON.parse(readFileSync(first.files.results!, "utf8")) as ResultsJson;
    assert.equal(results.simulated, true);
    assert.equal(results.n, 40);
    assert.match(readFileSync(first.files.report!, "utf8"), /SIMULATED/);
    assert.equal(readFileSync(first.files.responses!, "utf8").trim().split("\n").length, 40);
  });

  it("a re-run through the CLI (child process) pays for nothing twice and reproduces the results", async () => {
    const before = sim.requests().length;
    const cfgFile = path.join(dir, "eval.yaml");
    writeFileSync(
      cfgFile,
      JSON.stringify({
        ...config,
        router: { ...config.router, file: routerFile },
        output: { dir: path.join(dir, "out2") },
      }),
    );
    const { code, stdout, stderr } = await runCli(["eval-simpleqa", "--config", cfgFile], {
      ...process.env,
      [KEY_ENV]: KEY,
      // The same response cache (dir/llm); the provisioned embedding model stays where it is.
      ROUTERLAB_CACHE_DIR: dir,
      ROUTERLAB_EMBEDDING_MODEL_DIR: resolveModelDir().dir,
      ROUTERLAB_TRACKING_DIR: journal,
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /SIMULATED/);
    assert.match(stdout, /always-strong/);
    assert.ok(!stdout.includes(KEY) && !stderr.includes(KEY), "key in CLI output");
    assert.equal(sim.requests().length, before, "no request reached the server");
    const a = JSON.parse(readFileSync(first.files.results!, "utf8")) as ResultsJson;
    const b = JSON.parse(readFileSync(path.join(dir, "out2", "results.json"), "utf8")) as ResultsJson;
    assert.deepEqual(b.arms, a.arms);
    assert.equal(b.spend.total.costUsd, 0);
    assert.equal(b.spend.total.cacheHits, b.spend.total.calls);
  });

  for (const fault of DISK_FAULTS) {
    it(`on ${fault.name} the CLI gives a located error and writes none of the three files`, async (ctx) => {
      const mnt = path.join(dir, `mnt-${fault.opts.replace(/\W/g, "")}`);
      const skip = mountTmpfs(mnt, fault.opts);
      if (skip) return ctx.skip(skip);
      try {
        const out = path.join(mnt, "out");
        const cfgFile = path.join(dir, `eval-${fault.opts.replace(/\W/g, "")}.yaml`);
        writeFileSync(
          cfgFile,
          JSON.stringify({ ...config, router: { ...config.router, file: routerFile }, output: { dir: out } }),
        );
        // every answer is in the response cache from the runs above: only the outputs are written
        const { code, stdout, stderr } = await runCli(["eval-simpleqa", "--config", cfgFile, "--no-track"], {
          ...process.env,
          [KEY_ENV]: KEY,
          ROUTERLAB_CACHE_DIR: dir,
          ROUTERLAB_EMBEDDING_MODEL_DIR: resolveModelDir().dir,
          ROUTERLAB_TRACKING_DIR: journal,
        });
        const all = stdout + stderr;
        assert.equal(code, 1, all);
        assert.ok(all.includes(`${out}: cannot write: `), all);
        assert.match(all, fault.error);
        assert.match(all, /no file was written; no partial file was left/);
        assert.doesNotMatch(all, /\n\s+at /, "no stack trace");
        assert.deepEqual(filesUnder(mnt), [], "no results, report or responses file, nothing staged");
      } finally {
        unmount(mnt);
      }
    });
  }

  it("--help describes the command", async () => {
    const { stdout: out } = await runCli(["eval-simpleqa", "--help"], process.env);
    for (const flag of ["--config", "--router", "--models", "--limit", "--out", "--tracking-uri"])
      assert.match(out, new RegExp(flag));
  });

  it("with 30% injected faults (429, 500, timeouts, truncated, empty) the results are the same", async () => {
    const faulty = await startSim({ rate: 0.3, retryAfterSeconds: 0, timeoutHangMs: 100 });
    try {
      const m = loadModelsConfig(writeModelsFile(path.join(dir, "faulty"), faulty.url), { env });
      const client = createLlmClient(m, {
        cacheDir: path.join(dir, "faulty", "llm"),
        env,
        backoff: { baseMs: 5, maxMs: 50 },
      });
      const out = await evaluateSimpleQa({
        config: { ...config, output: { dir: path.join(dir, "faulty", "out") } },
        models: m,
        client,
        routerFile,
        progress: null,
        track: false,
        log: () => {},
      });
      await client.close();
      const faults = faulty.requests().filter((r) => r.fault !== null).length;
      assert.ok(faults > 20, `only ${faults} faults injected`);
      assert.ok(out.result.spend.total.retries > 0);
      assert.deepEqual(out.result.arms, first.result.arms);
      assert.deepEqual(
        out.result.records.map((r) => [r.weak.response, r.strong.response]),
        first.result.records.map((r) => [r.weak.response, r.strong.response]),
      );
      const usd = billedUsd(faulty.requests());
      for (const model of ["sim-weak", "sim-strong", "sim-grader"])
        close(out.result.spend.byModel[model]!.costUsd, usd[model]!, `${model} spend under faults`);
    } finally {
      await faulty.close();
    }
  });

  it("Ctrl-C stops the CLI cleanly (exit 130, run KILLED); the resumed run completes and no request is billed twice", async () => {
    const slow = await startSim(undefined, 40);
    const base = path.join(dir, "int");
    try {
      writeModelsFile(base, slow.url);
      const cfgFile = path.join(base, "eval.yaml");
      writeFileSync(
        cfgFile,
        JSON.stringify({
          ...config,
          models: path.join(base, "models.yaml"),
          concurrency: 2,
          router: { ...config.router, file: routerFile },
          output: { dir: path.join(base, "out") },
        }),
      );
      const childEnv = {
        ...process.env,
        [KEY_ENV]: KEY,
        ROUTERLAB_CACHE_DIR: base,
        ROUTERLAB_EMBEDDING_MODEL_DIR: resolveModelDir().dir,
        ROUTERLAB_TRACKING_DIR: path.join(base, "journal"),
        ROUTERLAB_QUIET: "1",
      };
      const stopped = await runCli(["eval-simpleqa", "--config", cfgFile], childEnv, (child) => {
        const timer = setInterval(() => {
          if (slow.requests().length >= 40) {
            clearInterval(timer);
            child.kill("SIGINT");
          }
        }, 20);
        child.on("close", () => clearInterval(timer));
      });
      assert.equal(stopped.code, 130, stopped.stderr);
      assert.match(stopped.stderr, /interrupted/);
      const interruptedAt = slow.requests().length;
      assert.ok(interruptedAt < 40 * 4, `the run finished before the interrupt (${interruptedAt} requests)`);
      const runs = readdirSync(path.join(base, "journal"));
      assert.equal(runs.length, 1);
      const events = readFileSync(path.join(base, "journal", runs[0]!, "events.jsonl"), "utf8");
      const ends = events.split("\n").filter((l) => l.includes('"t":"end"'));
      assert.equal(ends.length, 1, events);
      assert.match(ends[0]!, /"status":"KILLED"/);

      const second = await runCli(["eval-simpleqa", "--config", cfgFile], childEnv);
      assert.equal(second.code, 0, second.stderr);
      const hashes = billed(slow.requests()).map((r) => r.requestHash);
      assert.equal(new Set(hashes).size, hashes.length, "a request was billed twice");
      const resumed = JSON.parse(readFileSync(path.join(base, "out", "results.json"), "utf8")) as ResultsJson;
      assert.deepEqual(resumed.arms, first.result.arms);
    } finally {
      await slow.close();
    }
  });

  it("the MLflow run holds the metrics and the outputs as artifacts, and no key (suite runner only)", async () => {
    const svc = testServices();
    assert.ok(first.serverRunId, "the run reached the MLflow server");
    const client = new MlflowClient(svc.mlflowUri);
    const run = await client.getRun(first.serverRunId);
    assert.equal(run.info.status, "FINISHED");
    const metrics = new Map(run.data.metrics.map((m) => [m.key, Number(m.value)]));
    const router = first.result.arms.find((a) => a.name === "router")!;
    assert.equal(metrics.get("router.correct"), router.metrics.correct);
    assert.equal(metrics.get("router.strong_share"), router.strongShare);
    assert.equal(metrics.get("n"), 40);
    const artifacts = (await client.listArtifacts(first.serverRunId)).map((f) => f.path);
    for (const f of ["responses.jsonl", "results.json", "report.html"])
      assert.ok(artifacts.includes(f), `${f} in ${artifacts.join(", ")}`);
    // Responses are an artifact, never params.
    assert.ok(run.data.params.every((p) => !p.value.includes(first.result.records[0]!.weak.response)));
    assert.ok(!JSON.stringify(run).includes(KEY));
  });

  it("the API key appears nowhere: outputs, response cache, tracking journal", () => {
    // Everything the tests wrote: outputs, both response caches, the embedding cache, the journal, the router.
    const files = filesUnder(dir);
    assert.ok(files.length > 5);
    assert.ok(
      files.some((f) => f.startsWith(journal)),
      "a tracking run was journaled",
    );
    for (const f of files) assert.ok(!readFileSync(f).includes(KEY), `key found in ${f}`);
  });
});
