import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

/** The cluster training notebook (and its IRT and group-prior KNN cells) runs headlessly on a small sample of LLMRouter's data. */
describe("training notebook (cluster)", () => {
  const svc = testServices();
  it("notebooks/03_train_cluster.ipynb runs and writes its model file and charts", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
    const nb = path.join(projectRoot(), "notebooks", "03_train_cluster.ipynb");
    const out = path.join(projectRoot(), "out", "notebooks");
    const irtModel = path.join(out, "irt-notebook.router.json");
    const groupKnnModel = path.join(out, "group-knn-notebook.router.json");
    rmSync(irtModel, { force: true });
    rmSync(groupKnnModel, { force: true });
    const executed = await executeNotebook(nb, {
      env: { ROUTERLAB_NOTEBOOK_SAMPLE: "300" },
      timeoutMs: 420_000,
    });
    assertChartsInline(executed, 3); // per-cluster quality, decisions, the IRT learning curve
    const model = JSON.parse(readFileSync(path.join(out, "cluster-notebook.router.json"), "utf8")) as {
      kind: string;
      meta: { setting: string; models: string[] };
    };
    assert.equal(model.kind, "cluster");
    assert.equal(model.meta.setting, "multi");
    assert.equal(model.meta.models.length, 9);
    assert.ok(existsSync(path.join(out, "cluster-training.html")));
    // the last cell trains the IRT router on the same data and split
    const irt = JSON.parse(readFileSync(irtModel, "utf8")) as { kind: string; meta: { models: string[] } };
    assert.equal(irt.kind, "irt");
    assert.deepEqual(irt.meta.models, model.meta.models);
    // and the group-prior KNN, with one prior row per training task
    const groupKnn = JSON.parse(readFileSync(groupKnnModel, "utf8")) as {
      kind: string;
      meta: { models: string[]; groups: string[] };
    };
    assert.equal(groupKnn.kind, "group-knn");
    assert.deepEqual(groupKnn.meta.models, model.meta.models);
    assert.ok(groupKnn.meta.groups.length > 1, "the sample spans several tasks");
  });
});
