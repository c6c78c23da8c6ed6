import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { loadRecord } from "../../lib/calibrate/record";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

/** The evaluation and calibration notebooks run headlessly on a sample of the bundled data. */
describe("evaluation and calibration notebooks", () => {
  const svc = testServices();
  const out = path.join(projectRoot(), "out", "notebooks");

  it("notebooks/04_evaluate_routers.ipynb evaluates every router and writes the reports", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1");
    const executed = await executeNotebook(
      path.join(projectRoot(), "notebooks", "04_evaluate_routers.ipynb"),
      {
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: "150" },
        timeoutMs: 600_000,
      },
    );
    assertChartsInline(executed, 9); // cost/quality, routing share, confusion for MMLU, GSM8K and MT-Bench
    for (const d of ["routellm-mmlu", "routellm-gsm8k", "routellm-mt-bench"])
      assert.ok(existsSync(path.join(out, "04_evaluate", d, "report.html")), `${d} report`);
  });

  it("notebooks/05_threshold_calibration.ipynb writes a valid calibration record", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1");
    const executed = await executeNotebook(
      path.join(projectRoot(), "notebooks", "05_threshold_calibration.ipynb"),
      {
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: "150" },
        timeoutMs: 600_000,
      },
    );
    assertChartsInline(executed, 1); // target vs realised share
    const rec = loadRecord(path.join(out, "calibration-knn-mmlu.json"));
    assert.equal(rec.target.value, 0.5);
    assert.ok(rec.holdout);
  });
});
