/** An oracle run logged to the suite's real MLflow server: params, metrics and artifacts, and never the API key. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { MlflowClient } from "../../lib/tracking/client";
import { projectRoot } from "../../lib/util/paths";
import { testServices } from "../support/services";
import { runCli, startSim, removeTmpDirs, tmpDir, writeModelsFile } from "./support";

describe("oracle tracking (MLflow)", () => {
  let sim: RunningSimServer | undefined;
  after(async () => {
    await sim?.close();
    removeTmpDirs();
  });

  it("logs seeds, models, prompt hash, counts, spend and the outputs; the API key is nowhere in the run", async () => {
    const svc = testServices();
    const apiKey = `sk-routerlab-track-${randomBytes(12).toString("hex")}`;
    sim = await startSim({ apiKey });
    const dir = tmpDir("tracking");
    const models = writeModelsFile(dir, sim.url, "ROUTERLAB_TEST_SIM_API_KEY");
    const r = await runCli(
      [
        "oracle",
        "--config",
        path.join(projectRoot(), "configs", "oracle.sim.yaml"),
        "--models",
        models,
        "--limit",
        "30",
        "--out",
        path.join(dir, "out"),
        "--cache-dir",
        path.join(dir, "cache"),
        "--tracking-uri",
        svc.mlflowUri,
      ],
      { env: { ROUTERLAB_TEST_SIM_API_KEY: apiKey, ROUTERLAB_TRACKING_DIR: path.join(dir, "journal") } },
    );
    assert.equal(r.code, 0, r.stderr);
    const id = /\(server ([0-9a-f]+)\)/.exec(r.stderr)?.[1];
    assert.ok(id, `server run id in: ${r.stderr}`);
    const client = new MlflowClient(svc.mlflowUri);
    const run = await client.getRun(id);
    const params = Object.fromEntries(run.data.params?.map((p) => [p.key, p.value]) ?? []);
    assert.equal(params["resolved.weak"], "sim-weak");
    assert.equal(params["resolved.grader"], "sim-grader");
    assert.match(params["prompt_hash"] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(params["seed.split"], "42");
    const metrics = new Map((run.data.metrics ?? []).map((m) => [m.key, Number(m.value)]));
    assert.equal(metrics.get("rows"), 30);
    assert.ok((metrics.get("spend_usd") ?? 0) > 0);
    const artifacts = await client.listArtifacts(id, "oracle");
    const names = artifacts.map((a) => path.basename(a.path));
    for (const f of ["oracle.jsonl", "routing.jsonl", "sft.jsonl", "dpo.jsonl", "summary.json"])
      assert.ok(names.includes(f), f);
    assert.equal(JSON.stringify(run).includes(apiKey), false, "API key in the MLflow run");
    assert.equal((r.stdout + r.stderr).includes(apiKey), false, "API key in the CLI output");
  });
});
