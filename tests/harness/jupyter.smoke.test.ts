import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { createRng, shuffled } from "../../lib/util/random";
import { projectRoot } from "../../lib/util/paths";
import { NotebookError, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

const fixtures = path.join(projectRoot(), "tests", "harness", "fixtures");

describe("Jupyter with the tslab kernel", () => {
  const svc = testServices();

  test("a notebook imports compiled routerlab and a dual ESM+CJS package, in its folder, with env", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
    const nb = path.join(fixtures, "smoke.ipynb");
    const before = statSync(nb).mtimeMs;
    const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-nb-"));
    try {
      const out = path.join(tmp, "out.json");
      await executeNotebook(nb, {
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: "25", SMOKE_OUT: out },
        timeoutMs: 240_000,
      });
      const written = JSON.parse(readFileSync(out, "utf8")) as { a: number[]; sample: number };
      // The notebook's shuffle must equal the one computed here by the same compiled module.
      assert.deepEqual(written.a, shuffled([1, 2, 3, 4, 5, 6, 7, 8], createRng(42)));
      assert.equal(written.sample, 25);
      assert.equal(statSync(nb).mtimeMs, before, "outputs must not be written back into the repo");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a failing cell makes executeNotebook reject with that cell's source and error", async () => {
    const nb = path.join(fixtures, "failing.ipynb");
    await assert.rejects(executeNotebook(nb, { timeoutMs: 240_000 }), (e: unknown) => {
      assert.ok(e instanceof NotebookError, String(e));
      assert.equal(e.cellIndex, 1);
      assert.match(e.cellSource ?? "", /deliberate failure in cell 1/);
      assert.match(e.message, /cell 1 failed/);
      assert.match(e.message, /deliberate failure in cell 1/);
      return true;
    });
  });
});
