import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

/** The MLP and MF training notebooks run headlessly on a small sample of the bundled data. */
describe("training notebooks (MLP, MF)", () => {
  const svc = testServices();
  for (const kind of ["mlp", "mf"]) {
    it(`notebooks/03_train_${kind}.ipynb runs and writes its model file, learning curves and charts`, async () => {
      assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
      const nb = path.join(projectRoot(), "notebooks", `03_train_${kind}.ipynb`);
      const executed = await executeNotebook(nb, {
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: "200" },
        timeoutMs: 420_000,
      });
      assertChartsInline(executed, 3); // loss, accuracy, decisions
      const out = path.join(projectRoot(), "out", "notebooks");
      const model = JSON.parse(readFileSync(path.join(out, `${kind}-notebook.router.json`), "utf8")) as {
        kind: string;
        meta: { history: unknown[] };
      };
      assert.equal(model.kind, kind);
      assert.ok(model.meta.history.length > 0, "per-epoch history saved with the model");
      assert.ok(existsSync(path.join(out, `${kind}-training.html`)));
    });
  }
});
