/**
 * `routerlab oracle` end to end, as a child process against the real sim server running in this process: an
 * uninterrupted run; a run SIGKILLed halfway and resumed (byte-identical outputs, zero duplicate billed requests);
 * a run with 30% injected faults (same outputs); no TEST question ever reaches the server; spend equals the server's
 * billed usage x the configured prices; the API key appears nowhere on disk or in the logs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { splitSimpleQa } from "../../lib/data/simpleqa-split";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { OUTPUT_FILES, readOracleDataset } from "../../lib/oracle/outputs";
import type { OracleSummary } from "../../lib/oracle/run";
import {
  billed,
  duplicateBilled,
  filesUnder,
  PRICES,
  runCli,
  simpleqaRows,
  startSim,
  removeTmpDirs,
  tmpDir,
  writeModelsFile,
} from "./support";

const LIMIT = 300;
const COMPARED = [OUTPUT_FILES.dataset, OUTPUT_FILES.routing, OUTPUT_FILES.sft, OUTPUT_FILES.dpo];
const KEY_ENV = "ROUTERLAB_TEST_SIM_API_KEY";

function writeConfig(dir: string): string {
  const f = path.join(dir, "oracle.yaml");
  writeFileSync(
    f,
    [
      "data: { source: simpleqa, split: { seed: 42, testFraction: 0.2 }, limit: " +
        LIMIT +
        ", sampleSeed: 3 }",
      "models: { weak: weak, strong: strong, grader: grader, judge: judge }",
      "concurrency: 32",
    ].join("\n") + "\n",
  );
  return f;
}

interface Arm {
  sim: RunningSimServer;
  dir: string;
  out: string;
  cache: string;
  args: string[];
  logs: string;
}

describe("routerlab oracle end to end (sim server)", () => {
  const apiKey = `sk-routerlab-test-${randomBytes(12).toString("hex")}`;
  const env = { [KEY_ENV]: apiKey };
  const arms: Arm[] = [];
  let baseline: Arm;
  let expectedRequests = 0;

  async function arm(name: string, faults?: { rate: number }): Promise<Arm> {
    const sim = await startSim({
      apiKey,
      ...(faults
        ? {
            faults: {
              rate: faults.rate,
              kinds: ["429", "500", "timeout", "truncated", "empty"],
              retryAfterSeconds: 0,
              timeoutHangMs: 150,
            },
          }
        : {}),
    });
    const dir = tmpDir(name);
    const models = writeModelsFile(dir, sim.url, KEY_ENV);
    const out = path.join(dir, "out");
    const cache = path.join(dir, "cache");
    const args = [
      "oracle",
      "--config",
      writeConfig(dir),
      "--models",
      models,
      "--out",
      out,
      "--cache-dir",
      cache,
      "--tracking-uri",
      "journal",
    ];
    const a = { sim, dir, out, cache, args, logs: "" };
    arms.push(a);
    return a;
  }

  const trackingEnv = (a: Arm) => ({ ...env, ROUTERLAB_TRACKING_DIR: path.join(a.dir, "journal") });

  before(async () => {
    baseline = await arm("baseline");
    const r = await runCli(baseline.args, { env: trackingEnv(baseline) });
    baseline.logs += r.stdout + r.stderr;
    assert.equal(r.code, 0, r.stderr);
    expectedRequests = baseline.sim.requests().length;
  });

  after(async () => {
    for (const a of arms) await a.sim.close();
    removeTmpDirs();
  });

  it("labels the sample, prints the 9-cell matrix and writes schema-valid outputs", () => {
    const rows = readOracleDataset(path.join(baseline.out, OUTPUT_FILES.dataset));
    assert.equal(rows.length, LIMIT);
    assert.match(baseline.logs, /A correct .*\|.*Standard_Query/);
    const s = JSON.parse(
      readFileSync(path.join(baseline.out, OUTPUT_FILES.summary), "utf8"),
    ) as OracleSummary;
    assert.equal(s.rows, LIMIT);
    assert.equal(
      Object.values(s.matrix!).reduce((a, b) => a + b, 0),
      LIMIT,
    );
    // The simulated pair has a real gap: every label occurs.
    for (const l of ["Standard_Query", "Complex_Query", "Ambiguous_Query"])
      assert.ok((s.labels[l] ?? 0) > 10, l);
    assert.equal(s.unparsed, 0);
    assert.ok(s.graderRetries > 0, "the noisy grader forced retries at temperature 0");
    assert.ok(expectedRequests >= LIMIT * 4);
  });

  it("resumes after SIGKILL halfway: byte-identical outputs and zero duplicate billed requests", async () => {
    const a = await arm("sigkill");
    const killed = await runCli(a.args, {
      env: trackingEnv(a),
      killWhen: () => a.sim.requests().length >= expectedRequests / 2,
    });
    a.logs += killed.stdout + killed.stderr;
    assert.equal(killed.signal, "SIGKILL", "the first run was killed");
    const beforeResume = a.sim.requests().length;
    assert.ok(beforeResume < expectedRequests, `killed before the end (${beforeResume}/${expectedRequests})`);
    for (const f of COMPARED) assert.equal(existsSync(path.join(a.out, f)), false, `no torn/partial ${f}`);

    const resumed = await runCli(a.args, { env: trackingEnv(a) });
    a.logs += resumed.stdout + resumed.stderr;
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const f of COMPARED)
      assert.ok(
        readFileSync(path.join(a.out, f)).equals(readFileSync(path.join(baseline.out, f))),
        `${f} identical`,
      );

    const records = a.sim.requests();
    // Requests in flight when the process died were completed (and billed) by the server but never reached the
    // cache; the resumed run re-sends them with the same Idempotency-Key and the server replays them unbilled.
    assert.deepEqual(duplicateBilled(records), []);
    assert.equal(
      billed(records).length,
      billed(baseline.sim.requests()).length,
      "billed exactly what one run bills",
    );
    const s = JSON.parse(readFileSync(path.join(a.out, OUTPUT_FILES.summary), "utf8")) as OracleSummary;
    assert.ok(s.spend.total.cacheHits > 0, "the resumed run took answers from the cache");
    const replays = records.filter((r) => r.replay).length;
    process.stderr.write(
      `sigkill: ${beforeResume} requests before the kill, ${records.length - beforeResume} after; ` +
        `${replays} idempotency replays (unbilled); ${s.spend.total.cacheHits} cache hits on resume\n`,
    );
  });

  it("stops cleanly on Ctrl-C (exit 130, no output) and a re-run finishes with the same outputs", async () => {
    const a = await arm("sigint");
    const stopped = await runCli(a.args, {
      env: trackingEnv(a),
      killWhen: () => a.sim.requests().length >= expectedRequests / 3,
      killSignal: "SIGINT",
    });
    a.logs += stopped.stdout + stopped.stderr;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /no output written\. Re-run the same command to resume/);
    for (const f of COMPARED) assert.equal(existsSync(path.join(a.out, f)), false);
    const resumed = await runCli(a.args, { env: trackingEnv(a) });
    a.logs += resumed.stdout + resumed.stderr;
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const f of COMPARED)
      assert.ok(
        readFileSync(path.join(a.out, f)).equals(readFileSync(path.join(baseline.out, f))),
        `${f} identical`,
      );
    assert.deepEqual(duplicateBilled(a.sim.requests()), []);
  });

  it("completes with 30% injected faults and gives the same results", async () => {
    const a = await arm("faults", { rate: 0.3 });
    const r = await runCli(a.args, { env: trackingEnv(a) });
    a.logs += r.stdout + r.stderr;
    assert.equal(r.code, 0, r.stderr);
    const records = a.sim.requests();
    const faulted = records.filter((x) => x.fault !== null).length;
    assert.ok(faulted / records.length > 0.15, `faults injected: ${faulted}/${records.length}`);
    for (const f of COMPARED)
      assert.ok(
        readFileSync(path.join(a.out, f)).equals(readFileSync(path.join(baseline.out, f))),
        `${f} identical`,
      );
    assert.deepEqual(duplicateBilled(records), []);
  });

  it("never sends a TEST-split question to the server", () => {
    const split = splitSimpleQa(simpleqaRows(), { seed: 42, testFraction: 0.2 });
    const test = new Set(split.test.map((r) => r.problem));
    const train = new Set(split.train.map((r) => r.problem));
    for (const a of arms) {
      const seen = a.sim.requests().filter((r) => r.question !== null);
      assert.ok(seen.length > 0, "the server recognises the questions it is asked (the check can fail)");
      assert.deepEqual(
        seen.filter((r) => test.has(r.question!)).map((r) => r.question),
        [],
      );
      assert.ok(seen.every((r) => train.has(r.question!)));
    }
  });

  it("reports spend equal to the server's billed usage x the configured prices", () => {
    const s = JSON.parse(
      readFileSync(path.join(baseline.out, OUTPUT_FILES.summary), "utf8"),
    ) as OracleSummary;
    const usage = baseline.sim.usage();
    let total = 0;
    for (const [model, p] of Object.entries(PRICES)) {
      const u = usage[model] ?? { promptTokens: 0, completionTokens: 0 };
      const expected = (u.promptTokens * p.input + u.completionTokens * p.output) / 1e6;
      const got = s.spend.byModel[model]?.costUsd ?? 0;
      assert.ok(Math.abs(got - expected) <= 1e-9 + 1e-9 * expected, `${model}: ${got} vs ${expected}`);
      total += expected;
    }
    assert.ok(total > 0);
    assert.ok(Math.abs(s.spend.total.costUsd - total) <= 1e-9 + 1e-9 * total);
  });

  it("never writes the API key to the cache, the outputs, the tracking journal or the logs", () => {
    assert.ok(
      billed(baseline.sim.requests()).length > 0,
      "the server requires the key (401 without it), so the client did send it",
    );
    for (const a of arms) {
      const files = filesUnder(a.dir);
      assert.ok(
        files.some((f) => f.includes(`${path.sep}cache${path.sep}`)),
        "cache files exist",
      );
      assert.ok(
        files.some((f) => f.includes(`${path.sep}journal${path.sep}`)),
        "tracking journal exists",
      );
      for (const f of files) assert.equal(readFileSync(f).includes(apiKey), false, `key found in ${f}`);
      assert.equal(a.logs.includes(apiKey), false, "key in the CLI output");
    }
  });
});
