import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { TrainResult } from "../../lib/pipeline/train";
import { runTraining, TrainConfigSchema } from "../../lib/pipeline/train";
import type { KnnRouter } from "../../lib/routers/knn";
import { createRouter } from "../../lib/routers/registry";
import { runSklearnPeer } from "../peers/sklearn-peer";
import type { SvmRouter } from "../../lib/routers/svm";
import { loadYamlConfig } from "../../lib/util/config";
import { projectRoot } from "../../lib/util/paths";

/**
 * Real data: a seeded sample of the bundled RouteLLM MMLU split (300 train / 100 test rows, as
 * configs/train.smoke.yaml), embedded with the gateway's fp32 MiniLM through lib/embed (cached).
 * The full test split is checked by `npm run bench -- knn.`.
 */
const dir = mkdtempSync(path.join(tmpdir(), "routerlab-train-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = loadYamlConfig(path.join(projectRoot(), "configs", "train.smoke.yaml"), TrainConfigSchema);
let base: TrainResult;

describe("real MMLU sample: parity with scikit-learn and deterministic training", () => {
  before(async () => {
    base = await runTraining({ ...config, output: { dir, name: "first" } }, { tracking: { enabled: false } });
  });

  it("KNN labels equal KNeighborsClassifier(algorithm='brute', metric='cosine') (k=5 uniform, k=15 distance)", async () => {
    for (const hp of [
      { k: 5, weights: "uniform" },
      { k: 15, weights: "distance" },
    ] as const) {
      const r = createRouter("knn", hp) as KnnRouter;
      await r.fit({ X: base.trainX }, base.trainTask);
      const sk = runSklearnPeer({
        estimator: "knn",
        params: { n_neighbors: hp.k, weights: hp.weights },
        train: base.trainX,
        labels: base.trainTask.labels,
        test: base.testX,
      });
      const ours = (await r.predict({ X: base.testX })).map((m) => base.trainTask.models.indexOf(m));
      assert.deepEqual(ours, Array.from(sk.pred));
      assert.deepEqual(Array.from(r.vote(r.kneighborsJs(base.testX)).pred), ours);
    }
  });

  it("SVM (rbf, gamma=scale) decision values within 1e-6 of SVC, labels identical", async () => {
    const r = createRouter("svm", { C: 1 }) as SvmRouter;
    await r.fit({ X: base.trainX }, base.trainTask);
    const sk = runSklearnPeer({
      estimator: "svc",
      params: { C: 1 },
      train: base.trainX,
      labels: base.trainTask.labels,
      test: base.testX,
    });
    const dec = r.decisionFunction(base.testX);
    let maxDiff = 0;
    dec.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - sk.decision![i]!))));
    assert.ok(maxDiff <= 1e-6, `max diff ${maxDiff}`);
    assert.deepEqual(Array.from(r.predictIndex(base.testX)), Array.from(sk.pred));
  });

  it("the same config and seed give the same model bytes twice", async () => {
    const again = await runTraining(
      { ...config, output: { dir, name: "second" } },
      { tracking: { enabled: false } },
    );
    assert.deepEqual(readFileSync(again.modelFiles!.bin), readFileSync(base.modelFiles!.bin));
    const strip = (p: string) => readFileSync(p, "utf8").replace(/(first|second)\.router\.bin/, "");
    assert.equal(strip(again.modelFiles!.json), strip(base.modelFiles!.json));
    assert.deepEqual(again.predictions, base.predictions);
  });

  it("bad config: unknown model name and bad hyperparameters fail before training", async () => {
    await assert.rejects(
      runTraining({
        ...config,
        routing: {
          ...config.routing,
          setting: "binary",
          weak: "no-such-model",
          strong: "gpt-4-1106-preview",
          label: { rule: "strong_better" },
        },
      }),
      /unknown model 'no-such-model'/,
    );
    await assert.rejects(
      runTraining({ ...config, router: { kind: "knn", hyperparameters: { k: -1 } } }),
      /field 'k'/,
    );
    assert.throws(() => TrainConfigSchema.parse({ ...config, seed: -1 }));
  });
});
