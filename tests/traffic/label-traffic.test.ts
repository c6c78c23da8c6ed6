/**
 * `routerlab label-traffic` end to end: SIMULATED gateway traffic (SimpleQA questions, served answers right or wrong)
 * through an in-process `collect`, then the CLI labels it against the real sim server and writes a routing file the
 * LLMRouter loader accepts and `routerlab train` trains a router on.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { loadRoutingJsonl } from "../../lib/data/llmrouter";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import type { ProductionLabel } from "../../lib/traffic/production-labels";
import { simulateTraffic } from "../../lib/traffic/simulate";
import { projectRoot } from "../../lib/util/paths";
import { removeTmpDirs, simpleqaRows, startSim, tmpDir, writeModelsFile } from "../oracle/support";
import { runChild } from "../support/spawn";
import { collectInto } from "./support";

const servers: RunningSimServer[] = [];
after(async () => {
  for (const s of servers.splice(0)) await s.close();
  removeTmpDirs();
});

describe("routerlab label-traffic", () => {
  it("collected traffic -> labels from the served answers -> routing.jsonl for routerlab train", async () => {
    const qa = simpleqaRows().slice(0, 60);
    const gold = new Map(qa.map((r) => [r.problem, r.answer]));
    // weak serves a right answer on even questions, a wrong one on odd ones; strong always serves a right one
    const weakRight = (q: string) => qa.findIndex((r) => r.problem === q) % 2 === 0;
    const sim = simulateTraffic(
      {
        requests: 60,
        queries: qa.map((r) => r.problem),
        driftAt: null,
        errorRate: 0,
        answer: (_i, q, strong) =>
          strong || weakRight(q) ? `It is ${gold.get(q)!}.` : "It is definitely Zanzibar 1789.",
      },
      25,
    );
    const dir = tmpDir("label-traffic");
    const dataset = path.join(dir, "traffic");
    await collectInto(dataset, sim.bodies);

    const server = await startSim();
    servers.push(server);
    const models = writeModelsFile(dir, server.url);
    const config = path.join(dir, "label-traffic.yaml");
    writeFileSync(
      config,
      [
        `dataset: ${dataset}`,
        `models: ${models}`,
        "judge: judge",
        "tiers:",
        "  weak: { gateway: openai/gpt-4o-mini, served: [openai/gpt-4o-mini], model: weak }",
        "  strong: { gateway: openai/gpt-4o, served: [openai/gpt-4o], model: strong }",
        "seed: 4",
        `output: { dir: ${path.join(dir, "out")} }`,
        "",
      ].join("\n"),
    );
    const cli = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
    const env = { ...process.env, ROUTERLAB_QUIET: "1" };
    const run = await runChild(
      process.execPath,
      [cli, "label-traffic", "--config", config, "--cache-dir", path.join(dir, "cache")],
      { env, timeoutMs: 300_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /60 queries: 60 labelled/);
    assert.match(run.stdout, /routing file \(for routerlab train, data.dataset\): .*routing\.jsonl/);

    const labels = readFileSync(path.join(dir, "out", "labels.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ProductionLabel);
    assert.equal(labels.length, 60);
    const served = new Map(sim.requests.map((r) => [r.query, r.selected]));
    let strongChecked = 0;
    for (const l of labels) {
      assert.equal(l.basis, "served-vs-counterfactual");
      assert.equal(l.servedModel, served.get(l.query));
      // a right weak answer can at best be tied: weak keeps the query
      if (l.servedTier === "weak" && weakRight(l.query)) assert.equal(l.label, "weak", l.because);
      // a wrong served weak answer loses to a counterfactual strong answer that has the gold answer
      const cf = l.counterfactual!;
      if (
        l.servedTier === "weak" &&
        !weakRight(l.query) &&
        cf.pair.consistent &&
        cf.answer.toLowerCase().includes(gold.get(l.query)!.toLowerCase())
      ) {
        assert.equal(l.label, "strong", l.because);
        strongChecked++;
      }
    }
    assert.ok(strongChecked > 0, "no served-wrong weak answer met a right strong counterfactual");
    assert.ok(labels.some((l) => l.label === "strong") && labels.some((l) => l.label === "weak"));

    const routing = loadRoutingJsonl(path.join(dir, "out", "routing.jsonl"), {
      quarantineDir: path.join(dir, "q"),
    });
    assert.equal(routing.rows.length, 120, "one weak and one strong row per labelled query");
    assert.equal(routing.report.rowsQuarantined, 0);
    assert.deepEqual([...new Set(routing.rows.map((r) => r.modelName))].sort(), [
      "openai/gpt-4o",
      "openai/gpt-4o-mini",
    ]);

    // the routing file trains a router as it is: routerlab train, binary on the two gateway deployment names
    const trainConfig = path.join(dir, "train.yaml");
    writeFileSync(
      trainConfig,
      [
        `data: { dataset: ${path.join(dir, "out", "routing.jsonl")}, split: { testFraction: 0.25, stratifyBy: none } }`,
        "routing: { setting: binary, weak: openai/gpt-4o-mini, strong: openai/gpt-4o }",
        "router: { kind: knn, hyperparameters: { k: 5 } }",
        "seed: 1",
        "tracking: { enabled: false }",
        `output: { dir: ${path.join(dir, "models")}, name: traffic-knn }`,
        "",
      ].join("\n"),
    );
    const train = await runChild(process.execPath, [cli, "train", "--config", trainConfig], {
      env,
      timeoutMs: 300_000,
    });
    assert.equal(train.code, 0, train.stderr + train.stdout);
    assert.ok(existsSync(path.join(dir, "models", "traffic-knn.router.json")), train.stdout);

    // a re-run pays for nothing: every judgement and answer comes from the response cache
    const again = await runChild(
      process.execPath,
      [cli, "label-traffic", "--config", config, "--cache-dir", path.join(dir, "cache")],
      { env, timeoutMs: 300_000 },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      readFileSync(path.join(dir, "out", "labels.jsonl"), "utf8"),
      labels.map((l) => JSON.stringify(l) + "\n").join(""),
    );
  });
});
