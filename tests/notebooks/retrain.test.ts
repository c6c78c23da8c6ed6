import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import {
  assertChartsInline,
  assertStoredWithoutOutputs,
  executeNotebook,
  notebookOutputs,
} from "../support/notebooks";

/**
 * The retrain notebook runs headlessly (tslab kernel) on a sample: a SIMULATED week collected in-process, labelled by
 * the sim server, retrained twice; the gate's evidence is drawn inline. Needs Jupyter + tslab (ROUTERLAB_TEST_JUPYTER=1).
 */
describe("retrain notebook", () => {
  const nb = path.join(projectRoot(), "notebooks", "08_retrain.ipynb");

  it("is stored without outputs", () => assertStoredWithoutOutputs(nb));

  it("notebooks/08_retrain.ipynb runs every cell: promotes, then refuses the shuffled-label control, charts inline", async () => {
    assert.ok(
      process.env.ROUTERLAB_TEST_JUPYTER === "1",
      "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)",
    );
    const done = await executeNotebook(nb, {
      env: { ROUTERLAB_NOTEBOOK_SAMPLE: "300", ROUTERLAB_QUIET: "1" },
      timeoutMs: 300_000,
    });
    assertChartsInline(done, 2);
    const text = JSON.stringify(notebookOutputs(done));
    assert.match(text, /promote: the challenger's quality is higher/);
    assert.match(text, /keep the champion: the challenger is worse/);
    assert.match(text, /published to .*router\.pt/);
  });
});
