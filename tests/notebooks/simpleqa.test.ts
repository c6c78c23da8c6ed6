import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import type { ResultsJson } from "../../lib/simpleqa/report";
import { projectRoot } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

/** The SimpleQA evaluation notebook runs headlessly against the in-process sim server on a small sample. */
describe("SimpleQA evaluation notebook", () => {
  const svc = testServices();

  it("notebooks/04_simpleqa_evaluation.ipynb trains a router on oracle labels and evaluates it on the test split", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1");
    const env: Record<string, string> = { ROUTERLAB_NOTEBOOK_SAMPLE: "30", ROUTERLAB_QUIET: "1" };
    const executed = await executeNotebook(
      path.join(projectRoot(), "notebooks", "04_simpleqa_evaluation.ipynb"),
      {
        env,
        timeoutMs: 600_000,
      },
    );
    assertChartsInline(executed, 1); // accuracy vs cost
    const dir = path.join(projectRoot(), "out", "notebooks", "04_simpleqa", "eval");
    const results = JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as ResultsJson;
    assert.equal(results.simulated, true);
    assert.equal(results.n, 30);
    const names = results.arms.map((a) => a.name);
    for (const n of ["always-weak", "always-strong", "router", "random@router", "static", "hybrid"])
      assert.ok(names.includes(n), n);
    assert.match(readFileSync(path.join(dir, "report.html"), "utf8"), /SIMULATED/);
  });
});
