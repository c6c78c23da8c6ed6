import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import {
  ensureExportPython,
  exportVenvDir,
  GATEWAY_SKLEARN_VERSIONS,
  runSklearnExport,
} from "../../lib/export/sklearn-step";
import { createRouter } from "../../lib/routers/registry";
import { RouterlabError } from "../../lib/util/errors";
import { cacheDir, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

/**
 * The KNN/SVM step's own environment, provisioned for real from PyPI with the gateway's locked versions (not the
 * project's .venv). It lives in .cache/, so the suite pays for it once; delete the folder to re-test from scratch.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-export-venv-"));
const saved = { ...process.env };
after(() => {
  process.env = saved;
  rmSync(tmp, { recursive: true, force: true });
});

test("the export venv is provisioned on first use with scikit-learn 1.8.0 / numpy 2.4.1, and a KNN exports and reloads through it", async () => {
  delete process.env.ROUTERLAB_EXPORT_PYTHON;
  const logs: string[] = [];
  const py = ensureExportPython(GATEWAY_SKLEARN_VERSIONS, (m) => logs.push(m));
  assert.equal(py, path.join(exportVenvDir(GATEWAY_SKLEARN_VERSIONS), "bin", "python"));
  assert.ok(py.startsWith(cacheDir()), py);
  assert.notEqual(path.resolve(py), path.resolve(venvPython()));
  const v = spawnSync(
    py,
    ["-c", "import sys, numpy, sklearn; print(sklearn.__version__, numpy.__version__, sys.prefix)"],
    { encoding: "utf8" },
  );
  assert.equal(v.status, 0, v.stderr);
  const [sk, np, prefix] = v.stdout.trim().split(" ");
  assert.equal(sk, "1.8.0");
  assert.equal(np, "2.4.1");
  assert.equal(path.resolve(prefix!), path.resolve(exportVenvDir(GATEWAY_SKLEARN_VERSIONS)));
  // A second call reuses it without provisioning.
  const again: string[] = [];
  assert.equal(
    ensureExportPython(GATEWAY_SKLEARN_VERSIONS, (m) => again.push(m)),
    py,
  );
  assert.deepEqual(again, []);

  const rng = createRng(11);
  const dim = 384;
  const models = ["openai/gpt-4o-mini", "openai/gpt-4o"];
  const rows = 1600;
  const data = Float32Array.from({ length: rows * dim }, () => rng.normal());
  const labels = Int32Array.from({ length: 600 }, (_, i) =>
    data[i * dim]! + 0.3 * rng.normal() > 0 ? 1 : 0,
  );
  const train = { data: data.subarray(0, 600 * dim), rows: 600, dim };
  const probes = { data: data.subarray(600 * dim), rows: 1000, dim };
  const router = createRouter("knn", { k: 7, weights: "distance" });
  await router.fit({ X: train }, { kind: "multi", models, labels });
  const expected = await router.predict({ X: probes });
  const out = path.join(tmp, "router.pkl");
  const res = runSklearnExport({
    kind: "knn",
    train,
    labels: Array.from(labels, (l) => models[l]!),
    hyperparameters: { n_neighbors: 7, metric: "cosine", weights: "distance", algorithm: "brute" },
    probes,
    expected,
    out,
    classOrder: models,
  });
  assert.equal(res.versions?.["scikit-learn"], "1.8.0");
  assert.equal(res.versions?.numpy, "2.4.1");
  // Loaded the gateway's way (pickle.load, predict on (1, 384) float32) in the project's environment.
  assert.deepEqual(gatewayDecisions("knn", out, probes), expected);
});

test("without a usable Python, KNN/SVM exports fail with one error saying what to install", () => {
  delete process.env.ROUTERLAB_EXPORT_PYTHON;
  process.env.ROUTERLAB_EXPORT_BASE_PYTHON = path.join(tmp, "no-such", "python3");
  // A version set that is not provisioned, in a private root, so the base interpreter is needed.
  const versions = { ...GATEWAY_SKLEARN_VERSIONS, sklearn: "1.7.2" };
  try {
    assert.throws(
      () => ensureExportPython(versions, () => undefined, path.join(tmp, "cache")),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.match(e.message, /need Python 3\.11\+ with venv and pip to build scikit-learn 1\.7\.2/);
        assert.match(e.message, /cannot be run \(ENOENT\)/);
        assert.match(e.hint ?? "", /install python3 .*python3-venv/);
        assert.match(e.hint ?? "", /MLP, MF and ELO exports do not need Python/);
        return true;
      },
    );
  } finally {
    delete process.env.ROUTERLAB_EXPORT_BASE_PYTHON;
  }
});
