import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { runTraining, TrainConfigSchema } from "../../lib/pipeline/train";
import type { KnnRouter } from "../../lib/routers/knn";
import { createRouter } from "../../lib/routers/registry";
import { runSklearnPeer } from "../peers/sklearn-peer";
import { loadYamlConfig } from "../../lib/util/config";
import { projectRoot } from "../../lib/util/paths";

/**
 * KNN labels on the FULL bundled RouteLLM MMLU test split of configs/knn.yaml (seeded, de-duplicated,
 * subject-stratified 80/20 split; ~11k train / ~2.8k test rows) equal scikit-learn's
 * KNeighborsClassifier(algorithm="brute", metric="cosine") fitted on the same vectors. The vectors are the
 * gateway's fp32 MiniLM embeddings through lib/embed's persistent cache (.cache/embeddings, shared with
 * `npm start` and `routerlab train`): a cold cache costs one embedding pass over ~14k queries (minutes on
 * 2 cores), a warm one a few seconds. (The pure-TypeScript path is compared with the onnxruntime path on the
 * 300/100 sample in knn-svm-mmlu.test.ts; here it would add minutes.)
 */
describe("KNN parity on the full RouteLLM MMLU test split", () => {
  it("labels identical to scikit-learn (k=20 uniform as configs/knn.yaml, and k=20 distance)", async (t) => {
    const config = loadYamlConfig(path.join(projectRoot(), "configs", "knn.yaml"), TrainConfigSchema);
    const started = performance.now();
    const base = await runTraining(config, { save: false, tracking: { enabled: false } });
    t.diagnostic(
      `train ${base.trainX.rows} / test ${base.testX.rows} rows; embed + fit + route ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.ok(base.testX.rows > 2000, `full test split (${base.testX.rows} rows)`);
    const routers: [KnnRouter, "uniform" | "distance"][] = [[base.router as KnnRouter, "uniform"]];
    const dist = createRouter("knn", { k: 20, weights: "distance" }) as KnnRouter;
    await dist.fit({ X: base.trainX }, base.trainTask);
    routers.push([dist, "distance"]);
    for (const [router, weights] of routers) {
      const sk = runSklearnPeer({
        estimator: "knn",
        params: { n_neighbors: 20, weights },
        train: base.trainX,
        labels: base.trainTask.labels,
        test: base.testX,
      });
      const ours = (await router.predict({ X: base.testX })).map((m) => base.trainTask.models.indexOf(m));
      const differ = ours.map((v, i) => (v === sk.pred[i] ? -1 : i)).filter((i) => i >= 0);
      assert.deepEqual(differ, [], `${weights}: ${differ.length} of ${ours.length} labels differ`);
    }
  });
});
