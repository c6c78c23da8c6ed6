import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { assertStoredWithoutOutputs, executeNotebook } from "../support/notebooks";

/**
 * The traffic notebook runs headlessly (tslab kernel): the bundled trace fixtures, then a SIMULATED week replayed
 * through an in-process `routerlab collect`, analysed. Needs Jupyter + tslab (ROUTERLAB_TEST_JUPYTER=1), no other service.
 */
describe("traffic notebook", () => {
  const nb = path.join(projectRoot(), "notebooks", "07_traffic.ipynb");

  it("is stored without outputs", () => assertStoredWithoutOutputs(nb));

  it("notebooks/07_traffic.ipynb runs every cell without error", async () => {
    assert.ok(
      process.env.ROUTERLAB_TEST_JUPYTER === "1",
      "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)",
    );
    await executeNotebook(nb, {
      env: { ROUTERLAB_NOTEBOOK_SAMPLE: "200", ROUTERLAB_QUIET: "1" },
      timeoutMs: 300_000,
    });
  });
});
