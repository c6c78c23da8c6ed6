/** The oracle's routing file trains a router with `routerlab train` unchanged (binary weak/strong, strong-wins labels). */
import assert from "node:assert/strict";
import path from "node:path";
import { after, describe, it } from "node:test";
import { runTraining, TrainConfigSchema } from "../../lib/pipeline/train";
import { loadRoutingJsonl } from "../../lib/data/llmrouter";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig } from "../../lib/llm/config";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { OracleConfigSchema } from "../../lib/oracle/config";
import { OUTPUT_FILES } from "../../lib/oracle/outputs";
import { runOracle } from "../../lib/oracle/run";
import { startSim, removeTmpDirs, tmpDir, writeModelsFile } from "./support";

describe("oracle routing data -> routerlab train", () => {
  let sim: RunningSimServer | undefined;
  after(async () => {
    await sim?.close();
    removeTmpDirs();
  });

  it("trains a KNN router on the oracle's routing.jsonl", async () => {
    sim = await startSim();
    const dir = tmpDir("train");
    const client = createLlmClient(loadModelsConfig(writeModelsFile(dir, sim.url)), {
      cacheDir: path.join(dir, "cache"),
    });
    const out = path.join(dir, "out");
    const oracle = await runOracle(
      OracleConfigSchema.parse({ data: { source: "simpleqa", limit: 200 }, concurrency: 16 }),
      {
        client,
        models: { weak: "sim-weak", strong: "sim-strong", grader: "sim-grader", judge: "sim-judge" },
        outDir: out,
        log: () => undefined,
      },
    );
    await client.close();
    const routingFile = path.join(out, OUTPUT_FILES.routing);
    const loaded = loadRoutingJsonl(routingFile);
    assert.equal(loaded.report.rowsQuarantined, 0);
    assert.equal(loaded.rows.length, 2 * (200 - oracle.summary.routingDuplicatesSkipped));
    // quality 1 iff graded A; cost = usage x price
    const first = oracle.rows[0]!;
    const w = loaded.rows.find((r) => r.query === first.query && r.modelName === "sim-weak")!;
    assert.equal(w.performance, first.kind === "graded" && first.weak.grade === "A" ? 1 : 0);
    assert.equal(w.cost, first.weak.costUsd);

    const config = TrainConfigSchema.parse({
      data: { dataset: routingFile, split: { testFraction: 0.25, stratifyBy: "none" } },
      routing: {
        setting: "binary",
        weak: "sim-weak",
        strong: "sim-strong",
        label: { rule: "strong_correct_and_weak_wrong", threshold: 0.5 },
      },
      router: { kind: "knn", hyperparameters: { k: 5 } },
      seed: 1,
      tracking: { enabled: false },
    });
    const r = await runTraining(config, { save: false });
    assert.equal(r.train.queryIds.length + r.test.queryIds.length, loaded.rows.length / 2);
    const positives = r.trainTask.labels.filter((l) => l === 1).length;
    assert.equal(
      positives,
      r.train.queryIds.filter((_, i) => r.train.quality[i * 2 + 1] === 1 && r.train.quality[i * 2] === 0)
        .length,
    );
    assert.ok(positives > 0 && positives < r.train.queryIds.length);
    assert.equal(r.predictions.length, r.test.queryIds.length);
  });
});
