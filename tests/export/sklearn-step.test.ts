import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { rowOf } from "../../lib/embed/types";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import { knnDecide } from "../../lib/export/gateway-scoring";
import { runSklearnExport } from "../../lib/export/sklearn-step";
import { createRouter } from "../../lib/routers/registry";
import { venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

// The project's .venv has the same pinned scikit-learn 1.8.0 / numpy 2.4.1 as the export venv; reuse it to save time.
// The step still checks the versions itself.
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-sklearn-test-"));
before(() => {
  process.env.ROUTERLAB_EXPORT_PYTHON = venvPython();
});
after(() => {
  delete process.env.ROUTERLAB_EXPORT_PYTHON;
  rmSync(tmp, { recursive: true, force: true });
});

const LABELS = ["anthropic/claude-3-5-haiku", "openai/gpt-4o", "openai/gpt-4o-mini"];

/** Unit-norm points around 3 random centres; label = centre, with 15% of labels flipped so KNN has work to do. */
function clustered(
  seed: number,
  rows: number,
  noise: number,
): { X: EmbeddingMatrix; y: string[]; centre: number[] } {
  const rng = createRng(seed);
  const dim = 384;
  const centres = LABELS.map(() => Array.from({ length: dim }, () => rng.normal()));
  const data = new Float32Array(rows * dim);
  const y: string[] = [];
  const centre: number[] = [];
  for (let r = 0; r < rows; r++) {
    const c = rng.int(centres.length);
    centre.push(c);
    y.push(rng.next() < 0.15 ? LABELS[rng.int(LABELS.length)]! : LABELS[c]!);
    let n = 0;
    for (let j = 0; j < dim; j++) n += (data[r * dim + j] = centres[c]![j]! + noise * rng.normal()) ** 2;
    n = Math.sqrt(n);
    for (let j = 0; j < dim; j++) data[r * dim + j]! /= n;
  }
  return { X: { data, rows, dim }, y, centre };
}

function slice(s: ReturnType<typeof clustered>, from: number, to: number): ReturnType<typeof clustered> {
  return {
    X: { data: s.X.data.slice(from * 384, to * 384), rows: to - from, dim: 384 },
    y: s.y.slice(from, to),
    centre: s.centre.slice(from, to),
  };
}

test("KNN: the pinned step fits, pickles and reloads; the gateway's pickle.load + predict equals routerlab on 1,000 queries", () => {
  const all = clustered(1, 2500, 2.5);
  const train = slice(all, 0, 1500);
  const evalSet = slice(all, 1500, 2500);
  const sortedClasses = [...new Set(train.y)].sort();
  const yIdx = Int32Array.from(train.y.map((l) => sortedClasses.indexOf(l)));
  const ours = Array.from({ length: evalSet.X.rows }, (_, i) =>
    knnDecide(train.X.data, 384, yIdx, sortedClasses, 5, rowOf(evalSet.X, i)),
  );
  assert.ok(new Set(ours).size === 3);
  const out = path.join(tmp, "knn", "router.pkl");
  const res = runSklearnExport({
    kind: "knn",
    train: train.X,
    labels: train.y,
    hyperparameters: { n_neighbors: 5, metric: "cosine", weights: "distance", algorithm: "brute" },
    probes: evalSet.X,
    expected: ours,
    out,
  });
  assert.equal(res.ok, true);
  assert.deepEqual(res.classes, sortedClasses);
  assert.equal(res.versions?.["scikit-learn"], "1.8.0");
  assert.deepEqual(gatewayDecisions("knn", out, evalSet.X), ours);
});

test("KNN vote ties break like routerlab (its label order, not scikit-learn's sorted classes_)", async () => {
  const all = clustered(7, 1400, 3.5);
  const train = slice(all, 0, 400);
  const evalSet = slice(all, 400, 1400);
  // routerlab's label order, deliberately not sorted: ties go to the first label here, to the smallest in sklearn.
  const models = [LABELS[2]!, LABELS[0]!, LABELS[1]!];
  const router = createRouter("knn", { k: 4, weights: "uniform" });
  await router.fit(
    { X: train.X },
    {
      kind: "multi",
      models,
      labels: Int32Array.from(train.y.map((l) => models.indexOf(l))),
    },
  );
  const expected = await router.predict({ X: evalSet.X });
  const perModel = (await router.score({ X: evalSet.X })).perModel;
  let ties = 0;
  for (let i = 0; i < evalSet.X.rows; i++) {
    const row = Array.from(perModel.subarray(i * 3, i * 3 + 3));
    if (row.filter((v) => v === Math.max(...row)).length > 1) ties++;
  }
  assert.ok(ties >= 20, `only ${ties} tied queries`);
  const req = {
    kind: "knn" as const,
    train: train.X,
    labels: train.y,
    hyperparameters: { n_neighbors: 4, metric: "cosine", weights: "uniform", algorithm: "brute" } as const,
    probes: evalSet.X,
    expected,
  };
  // Without routerlab's order scikit-learn breaks ties alphabetically: refused, nothing written.
  const refused = path.join(tmp, "knn-tie-refused", "router.pkl");
  assert.throws(() => runSklearnExport({ ...req, out: refused }), /disagrees with routerlab/);
  assert.equal(existsSync(refused), false);
  const out = path.join(tmp, "knn-tie", "router.pkl");
  const res = runSklearnExport({ ...req, out, classOrder: models });
  assert.deepEqual(res.classes, models);
  assert.deepEqual(gatewayDecisions("knn", out, evalSet.X), expected);
});

test("SVM: exported SVC reproduces routerlab's decisions; a single disagreement refuses the export and writes nothing", () => {
  const all = clustered(3, 1600, 1.0);
  const train = slice(all, 0, 600);
  const evalSet = slice(all, 600, 1600);
  // With this separation routerlab's rule (the cluster's model) is what an rbf SVC learns.
  const expected = evalSet.centre.map((c) => LABELS[c]!);
  const labels = train.centre.map((c) => LABELS[c]!);
  const out = path.join(tmp, "svm", "router.pkl");
  const req = {
    kind: "svm" as const,
    train: train.X,
    labels,
    hyperparameters: { C: 1, kernel: "rbf" },
    probes: evalSet.X,
  };
  runSklearnExport({ ...req, expected, out });
  assert.deepEqual(gatewayDecisions("svm", out, evalSet.X), expected);
  const wrong = [...expected];
  wrong[17] = wrong[17] === LABELS[0] ? LABELS[1]! : LABELS[0]!;
  const out2 = path.join(tmp, "svm2", "router.pkl");
  assert.throws(
    () => runSklearnExport({ ...req, expected: wrong, out: out2 }),
    /disagrees with routerlab on 1 of 1000.*query 17/,
  );
  assert.equal(existsSync(out2), false);
});

test("missing Python gives one clear error naming what to install", () => {
  const saved = { ...process.env };
  delete process.env.ROUTERLAB_EXPORT_PYTHON;
  process.env.ROUTERLAB_EXPORT_BASE_PYTHON = path.join(tmp, "no-such-python3");
  process.env.ROUTERLAB_CACHE_DIR = path.join(tmp, "cache");
  try {
    const X = clustered(5, 10, 1).X;
    assert.throws(
      () =>
        runSklearnExport({
          kind: "knn",
          train: X,
          labels: Array(10).fill(LABELS[0]),
          hyperparameters: {},
          probes: X,
          expected: Array(10).fill(LABELS[0]),
          out: path.join(tmp, "x.pkl"),
        }),
      /need Python 3\.11\+ with venv and pip[\s\S]*scikit-learn 1\.8\.0/,
    );
  } finally {
    process.env = saved;
  }
});

test("hyperparameters are schema-checked before Python runs", () => {
  const X = clustered(6, 10, 1).X;
  assert.throws(() =>
    runSklearnExport({
      kind: "knn",
      train: X,
      labels: Array(10).fill("a"),
      hyperparameters: { n_neighbours: 5 },
      probes: X,
      expected: Array(10).fill("a"),
      out: path.join(tmp, "y.pkl"),
    }),
  );
});
