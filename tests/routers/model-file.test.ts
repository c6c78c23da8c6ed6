import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import type { RouterState } from "../../lib/routers/types";

const dir = mkdtempSync(path.join(tmpdir(), "routerlab-mf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const state: RouterState = {
  kind: "knn",
  hyperparameters: { k: 5, weights: "uniform" },
  meta: { setting: "binary", models: ["w", "s"], dim: 3, z: { b: 1, a: [1, 2] } },
  tensors: {
    y: { shape: [2], data: new Float32Array([0, 1]) },
    X: { shape: [2, 3], data: new Float32Array([0.1, -0.2, 0.3, 1e-30, 3.4e38, -0]) },
  },
};

describe("model file", () => {
  it("round-trips state exactly (float32 bits, shapes, meta)", () => {
    const p = saveRouterState(state, path.join(dir, "m1"));
    assert.equal(p.json, path.join(dir, "m1.router.json"));
    const back = loadRouterState(p.json);
    assert.equal(back.kind, "knn");
    assert.deepEqual(back.hyperparameters, state.hyperparameters);
    assert.deepEqual(back.meta, state.meta);
    assert.deepEqual(back.tensors["X"]!.shape, [2, 3]);
    assert.deepEqual(Array.from(back.tensors["X"]!.data), Array.from(state.tensors["X"]!.data));
    assert.ok(Object.is(back.tensors["X"]!.data[5], -0));
    assert.equal(readFileSync(p.bin).length, 8 * 4);
  });

  it("writes identical bytes twice, with sorted keys", () => {
    const a = saveRouterState(state, path.join(dir, "a"));
    const b = saveRouterState(
      { ...state, meta: { z: { a: [1, 2], b: 1 }, dim: 3, models: ["w", "s"], setting: "binary" } },
      path.join(dir, "b"),
    );
    assert.deepEqual(readFileSync(a.bin), readFileSync(b.bin));
    assert.equal(
      readFileSync(a.json, "utf8").replace("a.router.bin", "X"),
      readFileSync(b.json, "utf8").replace("b.router.bin", "X"),
    );
    const text = readFileSync(a.json, "utf8");
    assert.ok(text.indexOf('"hyperparameters"') < text.indexOf('"kind"'));
  });

  it("rejects a corrupted tensor file and a bad index with the file named", () => {
    const p = saveRouterState(state, path.join(dir, "c"));
    const bin = readFileSync(p.bin);
    bin[0] = bin[0]! ^ 1;
    writeFileSync(p.bin, bin);
    assert.throws(() => loadRouterState(p.json), /c\.router\.bin: tensor file does not match/);
    const j = JSON.parse(readFileSync(p.json, "utf8")) as Record<string, unknown>;
    j["version"] = 7;
    writeFileSync(p.json, JSON.stringify(j));
    assert.throws(() => loadRouterState(p.json), /c\.router\.json \$\.version/);
  });

  it("rejects a shape that does not match the data", () => {
    assert.throws(
      () =>
        saveRouterState(
          { ...state, tensors: { y: { shape: [3], data: new Float32Array(2) } } },
          path.join(dir, "d"),
        ),
      /shape/,
    );
  });
});
