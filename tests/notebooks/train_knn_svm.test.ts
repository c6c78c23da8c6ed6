import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

/** The training notebooks run headlessly on a small sample of the bundled MMLU data. */
describe("training notebooks (KNN, SVM)", () => {
  const svc = testServices();
  for (const kind of ["knn", "svm"]) {
    it(`notebooks/03_train_${kind}.ipynb runs and writes its model file and charts`, async () => {
      assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
      const nb = path.join(projectRoot(), "notebooks", `03_train_${kind}.ipynb`);
      const out = path.join(projectRoot(), "out", "notebooks");
      const swModel = path.join(out, "sw-ranking-notebook.router.json");
      rmSync(swModel, { force: true });
      // the KNN notebook's last cell fine-tunes the encoder router on the same split (written fresh each run)
      const encoderFile = path.join(out, "encoder-notebook.router.json");
      if (kind === "knn") rmSync(encoderFile, { force: true });
      const executed = await executeNotebook(nb, {
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: "200" },
        timeoutMs: 420_000,
      });
      assertChartsInline(executed, 2); // learning curve, decisions
      assert.ok(existsSync(path.join(out, `${kind}-notebook.router.json`)));
      if (kind === "knn") assert.ok(existsSync(encoderFile), "the encoder cell wrote its model file");
      assert.ok(existsSync(path.join(out, `${kind}-training.html`)));
      // the KNN notebook's last cell trains the similarity-weighted ranking router on the same data
      if (kind === "knn") assert.ok(existsSync(swModel));
    });
  }
});
