import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { readOracleDataset } from "../../lib/oracle/outputs";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, assertStoredWithoutOutputs, executeNotebook } from "../support/notebooks";

/** The oracle notebook runs headlessly against an in-process sim server on a sample of SimpleQA train questions. */
describe("oracle notebook", () => {
  const nb = path.join(projectRoot(), "notebooks", "02_oracle_generation.ipynb");

  it("is stored without outputs", () => assertStoredWithoutOutputs(nb));

  it("notebooks/02_oracle_generation.ipynb labels a sample and writes the oracle dataset", async () => {
    assert.ok(
      process.env.ROUTERLAB_TEST_JUPYTER === "1",
      "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)",
    );
    const env: Record<string, string> = { ROUTERLAB_NOTEBOOK_SAMPLE: "40", ROUTERLAB_QUIET: "1" };
    // The notebook starts its own sim server unless one is given.
    if (process.env.ROUTERLAB_SIM_URL === undefined) env.ROUTERLAB_SIM_URL = "";
    const executed = await executeNotebook(nb, { env: env, timeoutMs: 300_000 });
    assertChartsInline(executed, 2); // oracle matrix, label distribution
    const rows = readOracleDataset(path.join(projectRoot(), "out", "notebooks", "oracle", "oracle.jsonl"));
    assert.equal(rows.length, 40);
    assert.ok(rows.every((r) => r.kind === "graded"));
  });
});
