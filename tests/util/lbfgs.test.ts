import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fitL2Logistic } from "../../lib/routers/logreg-emb-features";
import { minimizeLbfgs } from "../../lib/util/lbfgs";
import { venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

test("L-BFGS finds the minimum of an ill-conditioned quadratic", () => {
  const scales = [1, 10, 100, 1000, 0.1];
  const target = [3, -2, 0.5, 7, -1];
  const r = minimizeLbfgs(
    (x, g) => {
      let f = 0;
      for (let i = 0; i < x.length; i++) {
        const d = x[i]! - target[i]!;
        f += 0.5 * scales[i]! * d * d;
        g[i] = scales[i]! * d;
      }
      return f;
    },
    new Float64Array(5),
    { maxIterations: 200, gradientTolerance: 1e-9 },
  );
  assert.ok(r.converged);
  r.x.forEach((v, i) => assert.ok(Math.abs(v - target[i]!) < 1e-8, `x[${i}] = ${v}`));
});

test("L-BFGS minimises the Rosenbrock function from (-1.2, 1)", () => {
  const r = minimizeLbfgs(
    (x, g) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    },
    Float64Array.from([-1.2, 1]),
    { maxIterations: 500, gradientTolerance: 1e-8 },
  );
  assert.ok(r.converged, `not converged after ${r.iterations}`);
  assert.ok(Math.abs(r.x[0]! - 1) < 1e-6 && Math.abs(r.x[1]! - 1) < 1e-6, `${r.x[0]}, ${r.x[1]}`);
});

test("the feature router's L2 logistic regression matches scikit-learn's LogisticRegression", () => {
  const rng = createRng(7);
  const n = 400;
  const p = 12;
  const S = new Float64Array(n * p);
  const y = new Float64Array(n);
  const truth = Array.from({ length: p }, () => rng.next() * 2 - 1);
  for (let i = 0; i < n; i++) {
    let z = 0.3;
    for (let j = 0; j < p; j++) {
      const v = rng.next() * 2 - 1;
      S[i * p + j] = v;
      z += 2 * truth[j]! * v;
    }
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  const rows = Array.from({ length: n }, (_, i) => i);
  for (const l2 of [0.001, 0.1]) {
    const w = fitL2Logistic(S, p, y, rows, l2, 500);
    // scikit-learn minimises C * sum(log-loss) + ||w||^2 / 2, i.e. ours with l2 = 1 / (C n)
    const script = `
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
d = json.load(sys.stdin)
X = np.array(d["X"]).reshape(d["n"], d["p"]); y = np.array(d["y"])
m = LogisticRegression(C=1.0 / (d["l2"] * d["n"]), tol=1e-12, max_iter=100000).fit(X, y)
print(json.dumps([float(m.intercept_[0])] + [float(v) for v in m.coef_[0]]))
`;
    const r = spawnSync(venvPython(), ["-c", script], {
      input: JSON.stringify({ X: Array.from(S), y: Array.from(y), n, p, l2 }),
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as number[];
    ref.forEach((v, j) =>
      assert.ok(Math.abs(w[j]! - v) < 1e-5 * Math.max(1, Math.abs(v)), `l2 ${l2} w[${j}] ${w[j]} vs ${v}`),
    );
  }
});
