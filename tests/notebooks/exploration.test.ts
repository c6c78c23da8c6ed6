import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, assertStoredWithoutOutputs, executeNotebook } from "../support/notebooks";

/**
 * The exploration notebook runs headlessly (tslab kernel) on a sample of every bundled dataset. It needs
 * Jupyter + tslab (set up by the suite, ROUTERLAB_TEST_JUPYTER=1) but none of the other services.
 */
describe("exploration notebook", () => {
  const nb = path.join(projectRoot(), "notebooks", "01_exploration.ipynb");

  it("is stored without outputs", () => assertStoredWithoutOutputs(nb));

  it("notebooks/01_exploration.ipynb runs every cell without error", async () => {
    assert.ok(
      process.env.ROUTERLAB_TEST_JUPYTER === "1",
      "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)",
    );
    const executed = await executeNotebook(nb, {
      env: { ROUTERLAB_NOTEBOOK_SAMPLE: "100", ROUTERLAB_QUIET: "1" },
      timeoutMs: 300_000,
    });
    // per dataset (5): accuracy, cost, win/tie/loss; query lengths; queries per group (2 datasets have groups in a 100-row sample); 2 SimpleQA counts
    assertChartsInline(executed, 5 * 3 + 1 + 2 + 2);
  });
});
