import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { saveRouterState } from "../../lib/routers/model-file";
import { createRouter, loadRouter } from "../../lib/routers/registry";
import { runSklearnPeer } from "../peers/sklearn-peer";
import type { SvmRouter } from "../../lib/routers/svm";
import type { RoutingTask } from "../../lib/routers/types";
import { clustered } from "./helpers";

const dir = mkdtempSync(path.join(tmpdir(), "routerlab-svm-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function sub(X: EmbeddingMatrix, from: number, to: number): EmbeddingMatrix {
  return { data: X.data.slice(from * X.dim, to * X.dim), rows: to - from, dim: X.dim };
}

function compare(
  ours: Float64Array,
  theirs: Float64Array,
  predOurs: Int32Array,
  predTheirs: Int32Array,
): void {
  assert.equal(ours.length, theirs.length);
  let maxDiff = 0;
  for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
  assert.ok(maxDiff <= 1e-6, `max |decision difference| ${maxDiff}`);
  const agree = Array.from(predOurs).filter((p, i) => p === predTheirs[i]).length / predOurs.length;
  assert.ok(agree >= 0.999, `label agreement ${agree}`);
}

describe("svm: parity with scikit-learn SVC", () => {
  const { X, labels } = clustered(700, 24, 10, 3, 17, 1.2);
  const train = sub(X, 0, 500);
  const test = sub(X, 500, 700);
  const cases: { name: string; hp: Record<string, unknown>; sk: Record<string, unknown>; classes: number }[] =
    [
      { name: "binary rbf gamma=scale C=1", hp: {}, sk: {}, classes: 2 },
      { name: "binary rbf gamma=2 C=10", hp: { gamma: 2, C: 10 }, sk: { gamma: 2, C: 10 }, classes: 2 },
      {
        name: "binary linear C=0.5",
        hp: { kernel: "linear", C: 0.5 },
        sk: { kernel: "linear", C: 0.5 },
        classes: 2,
      },
      {
        name: "3-class rbf (one-vs-one)",
        hp: { C: 3 },
        sk: { C: 3, decision_function_shape: "ovo" },
        classes: 3,
      },
    ];
  for (const c of cases) {
    it(c.name, async () => {
      const y = labels.slice(0, 500).map((l) => (c.classes === 2 ? l % 2 : l));
      const task: RoutingTask =
        c.classes === 2
          ? { kind: "binary", models: ["weak", "strong"], labels: y }
          : { kind: "multi", models: ["a", "b", "c"], labels: y };
      const r = createRouter("svm", c.hp) as SvmRouter;
      await r.fit({ X: train }, task);
      const sk = runSklearnPeer({ estimator: "svc", params: c.sk, train, labels: y, test });
      assert.deepEqual(r.model.nSV, sk.n_support);
      compare(r.decisionFunction(test), sk.decision!, r.predictIndex(test), sk.pred);
      // the saved model gives the same decision values
      const p = saveRouterState(r.state(), path.join(dir, c.name.replace(/\W+/g, "_")));
      const back = loadRouter(p.json) as SvmRouter;
      assert.deepEqual(back.decisionFunction(test), r.decisionFunction(test));
    });
  }
});

describe("svm: behaviour", () => {
  const { X, labels } = clustered(200, 8, 4, 2, 3);
  const task: RoutingTask = { kind: "binary", models: ["weak", "strong"], labels };
  it("deterministic bytes; P(strong) > 0.5 exactly when strong is predicted", async () => {
    const a = createRouter("svm", { C: 2 });
    await a.fit({ X }, task);
    const b = createRouter("svm", { C: 2 });
    await b.fit({ X }, task);
    const pa = saveRouterState(a.state(), path.join(dir, "a"));
    const pb = saveRouterState(b.state(), path.join(dir, "b"));
    assert.deepEqual(readFileSync(pa.bin), readFileSync(pb.bin));
    assert.equal(
      readFileSync(pa.json, "utf8").replace("a.router", ""),
      readFileSync(pb.json, "utf8").replace("b.router", ""),
    );
    const s = await a.score({ X });
    (await a.predict({ X })).forEach((m, i) => assert.equal(m === "strong", s.strongProbability![i]! > 0.5));
  });
  it("bad input is rejected before training", async () => {
    await assert.rejects(
      createRouter("svm").fit({ X }, { ...task, labels: new Int32Array(200).fill(1) }),
      /single class \('strong'\)/,
    );
    await assert.rejects(
      createRouter("svm").fit(
        { X: { data: new Float32Array(0), rows: 0, dim: 8 } },
        { ...task, labels: new Int32Array(0) },
      ),
      /empty/,
    );
    assert.throws(() => createRouter("svm", { gamma: "big" }), /field 'gamma'/);
  });
});
