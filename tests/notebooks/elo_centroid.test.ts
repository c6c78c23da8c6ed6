import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readOperatingPoint } from "../../lib/export/operating-point";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook, notebookOutputs } from "../support/notebooks";
import { testServices } from "../support/services";

/**
 * notebooks/09_elo_centroid.ipynb on a sample of MMLU: trains ELO and centroid routers, evaluates them next to KNN
 * and logistic regression, exports the ELO JSON and the calibrated centroid pair. The written files are then read
 * the gateway's way in Python (json; numpy.load without pickle).
 */
describe("ELO and centroid notebook", () => {
  const svc = testServices();
  it("notebooks/09_elo_centroid.ipynb runs, evaluates both routers and exports files the gateway loads", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
    const nb = path.join(projectRoot(), "notebooks", "09_elo_centroid.ipynb");
    const executed = await executeNotebook(nb, {
      env: { ROUTERLAB_NOTEBOOK_SAMPLE: "1500" },
      timeoutMs: 420_000,
    });
    assertChartsInline(executed, 1);
    const text = notebookOutputs(executed)
      .map((o) => (Array.isArray(o.text) ? o.text.join("") : (o.text ?? "")))
      .join("");
    for (const router of ["knn", "logreg", "centroid", "elo"])
      assert.match(text, new RegExp(`│[^│]*\\b${router}\\b`));
    assert.match(text, /recommended for the gateway: /);
    const bundles = path.join(projectRoot(), "out", "notebooks", "09_elo_centroid", "bundles");
    const eloDir = path.join(bundles, "elo");
    const centroidDir = path.join(bundles, "centroid-calibrated");
    const eloFile = readdirSync(eloDir).find((f) => f.endsWith(".json") && f !== "manifest.json")!;
    const op = readOperatingPoint(centroidDir);
    assert.ok(op, "the centroid bundle records its operating point");
    assert.deepEqual(op.target, { kind: "share", value: 0.5 });
    const check = execFileSync(venvPython(), [
      "-c",
      [
        "import json, sys, numpy as np",
        "ratings = json.load(open(sys.argv[1]))",
        "assert ratings and all(isinstance(v, (int, float)) for v in ratings.values()), ratings",
        "c = np.load(sys.argv[2] + '/complex_centroid.npy', allow_pickle=False)",
        "s = np.load(sys.argv[2] + '/simple_centroid.npy', allow_pickle=False)",
        "assert c.shape == (384,) and s.shape == (384,), (c.shape, s.shape)",
        "assert abs(np.linalg.norm(c) - 1) < 1e-6 and abs(np.linalg.norm(s) - 1) < 1e-6",
        "print(max(ratings, key=ratings.get))",
      ].join("\n"),
      path.join(eloDir, eloFile),
      centroidDir,
    ])
      .toString("utf8")
      .trim();
    assert.equal(check, "gpt-4-1106-preview", "the ELO JSON ranks the strong model first");
  });
});
