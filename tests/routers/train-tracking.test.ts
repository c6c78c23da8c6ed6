import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import type { TrainConfig } from "../../lib/pipeline/train";
import { runTraining, TrainConfigSchema } from "../../lib/pipeline/train";
import { configHash } from "../../lib/pipeline/train-tracking";
import type { MlpRouter } from "../../lib/routers/mlp";
import { MlflowClient } from "../../lib/tracking/client";
import { testServices } from "../support/services";

/**
 * `routerlab train` logs to tracking: a small MLP (and MF) run on the real MMLU sample of configs/train.smoke.yaml
 * (fp32 embeddings through lib/embed's cache), sent to the suite's real MLflow server and read back over REST.
 */
const dir = mkdtempSync(path.join(tmpdir(), "routerlab-train-tracking-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const base = TrainConfigSchema.parse({
  data: { dataset: "mmlu", maxTrain: 300, maxTest: 100 },
  routing: {
    setting: "binary",
    weak: "mistralai/Mixtral-8x7B-Instruct-v0.1",
    strong: "gpt-4-1106-preview",
  },
  router: {
    kind: "mlp",
    hyperparameters: { hiddenLayerSizes: [16], epochs: 4, patience: 0, validationFraction: 0.2 },
  },
  seed: 1,
  output: { dir, name: "mlp-tracked" },
});

const RunInputsSchema = z.object({
  run: z.object({
    inputs: z.object({
      dataset_inputs: z.array(
        z.object({
          tags: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
          dataset: z.object({ name: z.string(), digest: z.string() }),
        }),
      ),
    }),
  }),
});

describe("routerlab train: tracking", () => {
  it("logs params, seeds, config hash, inputs, per-epoch step metrics, final metrics, model artifacts and a model version to MLflow", async () => {
    const svc = testServices();
    const modelName = `train-test-mlp-${process.pid}`;
    const config: TrainConfig = {
      ...base,
      tracking: {
        enabled: true,
        experiment: "routerlab-train-tests",
        registerModel: { name: modelName, alias: "champion" },
      },
    };
    const r = await runTraining(config, {
      tracking: { trackingUri: svc.mlflowUri, journalDir: path.join(dir, "journal") },
    });
    assert.ok(r.tracking, "a run was recorded");
    assert.equal(r.tracking.status, "FINISHED");
    assert.equal(r.tracking.synced, true, r.tracking.error);
    const runId = r.tracking.serverRunId!;
    const client = new MlflowClient(svc.mlflowUri);

    // per-epoch step metrics, read back via the REST API, equal the router's history
    const history = (r.router as MlpRouter).history;
    assert.equal(history.length, 4);
    for (const key of ["loss", "accuracy", "val_loss", "val_accuracy"] as const) {
      const points = (await client.getMetricHistory(runId, key)).sort((a, b) => a.step - b.step);
      assert.deepEqual(
        points.map((p) => p.step),
        [1, 2, 3, 4],
        key,
      );
      assert.deepEqual(
        points.map((p) => Number(p.value)),
        history.map((h) => h[key]),
        key,
      );
    }

    const run = await client.getRun(runId);
    assert.equal(run.info.status, "FINISHED");
    const params = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
    assert.equal(params["hp.seed"], "1", "the router's seed is the config's seed");
    assert.equal(params["seed.seed"], "1");
    assert.equal(params["hp.hiddenLayerSizes"], "[16]");
    assert.equal(params["hp.learningRate"], "0.001", "defaults are logged too");
    assert.equal(params["router.kind"], "mlp");
    assert.equal(params.config_sha256, configHash(config));
    const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, Number(m.value)]));
    assert.equal(metrics.test_label_accuracy, r.summary.labelAccuracy);
    assert.equal(metrics.test_rows, 100);
    assert.equal(metrics["test_share.gpt-4-1106-preview"], r.summary.share["gpt-4-1106-preview"]);
    const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
    assert.match(tags["routerlab.data.mmlu"] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(tags["routerlab.job"], "train");

    const res = await fetch(`${svc.mlflowUri}/api/2.0/mlflow/runs/get?run_id=${runId}`);
    const inputs = RunInputsSchema.parse(await res.json()).run.inputs.dataset_inputs;
    assert.deepEqual(inputs.map((i) => i.dataset.name).sort(), ["mmlu-test", "mmlu-training"]);
    for (const i of inputs) assert.match(i.dataset.digest, /^[0-9a-f]+$/);

    const files = (await client.listArtifacts(runId, "model")).map((f) => f.path).sort();
    assert.deepEqual(files, ["model/mlp-tracked.router.bin", "model/mlp-tracked.router.json"]);
    const version = await client.getModelVersionByAlias(modelName, "champion");
    assert.equal(version.run_id, runId);
  });

  it("without a server the run stays in the journal, MF epochs included; same config and seed give the same bytes", async () => {
    const journal = path.join(dir, "offline");
    const mf: TrainConfig = {
      ...base,
      router: { kind: "mf", hyperparameters: { latentDim: 8, epochs: 3 } },
      output: { dir, name: "mf-a" },
    };
    const a = await runTraining(mf, { tracking: { trackingUri: "", journalDir: journal } });
    assert.equal(a.tracking?.synced, false);
    const events = readFileSync(path.join(a.tracking!.runDir, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) =>
        z.object({ t: z.string(), k: z.string().optional(), st: z.number().optional() }).parse(JSON.parse(l)),
      );
    const lossSteps = events.filter((e) => e.t === "m" && e.k === "loss").map((e) => e.st);
    assert.deepEqual(lossSteps, [1, 2, 3]);
    assert.ok(events.some((e) => e.t === "artifact"));
    assert.ok(events.some((e) => e.t === "end"));
    // The learning curves and the decisions are logged as a chart artifact.
    const charts = readdirSync(path.join(a.tracking!.runDir, "files")).find((f) => f.endsWith("charts.html"));
    assert.ok(charts, "charts.html logged");
    const html = readFileSync(path.join(a.tracking!.runDir, "files", charts), "utf8");
    for (const t of [
      "Learning curve: loss",
      "Learning curve: accuracy",
      "Per-model decisions on the test split",
    ]) {
      assert.ok(html.includes(t), t);
    }

    const b = await runTraining({ ...mf, output: { dir, name: "mf-b" } }, { tracking: { enabled: false } });
    assert.equal(b.tracking, undefined);
    assert.deepEqual(readFileSync(b.modelFiles!.bin), readFileSync(a.modelFiles!.bin));
    // the config's seed is the router's seed: setting it explicitly to the same value changes nothing, another changes the bytes
    const withSeed = (seed: number, name: string): TrainConfig => ({
      ...mf,
      router: { kind: "mf", hyperparameters: { latentDim: 8, epochs: 3, seed } },
      output: { dir, name },
    });
    const c = await runTraining(withSeed(1, "mf-c"), { tracking: { enabled: false } });
    assert.deepEqual(readFileSync(c.modelFiles!.bin), readFileSync(a.modelFiles!.bin));
    const d = await runTraining(withSeed(2, "mf-d"), { tracking: { enabled: false } });
    assert.notDeepEqual(readFileSync(d.modelFiles!.bin), readFileSync(a.modelFiles!.bin));
    assert.equal(readdirSync(journal).length, 1, "disabled tracking writes no run");
  });
});
