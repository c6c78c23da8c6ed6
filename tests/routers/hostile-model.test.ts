import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot } from "../../lib/util/paths";

const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

function exportCli(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [main, "export", ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

test("model weights, --eval rows and --embedding-spec that cannot be used are blamed on their own file and field", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-hostile-model-"));
  try {
    const state = (w: number[]) => ({
      kind: "mlp",
      hyperparameters: {},
      meta: {},
      tensors: { w: { shape: [w.length], data: new Float32Array(w) } },
    });
    saveRouterState(state([1, 2]), path.join(dir, "ok"));
    saveRouterState(state([1, NaN, 3]), path.join(dir, "nan"));
    assert.throws(
      () => loadRouterState(path.join(dir, "nan")),
      (e: unknown) =>
        e instanceof RouterlabError &&
        e.location?.file === path.join(dir, "nan.router.bin") &&
        e.location.field === "w" &&
        /tensor 'w' holds a non-finite value \(NaN\) at element 1/.test(e.message),
    );
    const good = path.join(dir, "good.f32");
    writeFileSync(good, Buffer.alloc(384 * 4 * 2));
    const bad = Buffer.alloc(384 * 4 * 2);
    bad.writeFloatLE(Infinity, (384 + 7) * 4);
    const badEval = path.join(dir, "eval.f32");
    writeFileSync(badEval, bad);
    const e1 = exportCli([
      path.join(dir, "ok.router.json"),
      "--out",
      path.join(dir, "o1"),
      "--eval",
      badEval,
    ]);
    assert.equal(e1.code, 1);
    assert.match(e1.stderr, /eval\.f32 field 'row 1': non-finite value Infinity at row 1, column 7/);
    const e2 = exportCli([path.join(dir, "nan.router.json"), "--out", path.join(dir, "o2"), "--eval", good]);
    assert.match(
      e2.stderr,
      /nan\.router\.bin \$\.tensors\[0\] field 'w': tensor 'w' holds a non-finite value/,
    );
    const spec = path.join(dir, "spec.json");
    writeFileSync(
      spec,
      JSON.stringify({
        modelId: "sentence-transformers/all-MiniLM-L6-v2",
        dim: 512,
        precision: "fp32",
        maxLength: 256,
        pooling: "mean",
        normalize: true,
        weightsSha256: "0".repeat(64),
      }),
    );
    const e3 = exportCli([
      path.join(dir, "ok.router.json"),
      "--out",
      path.join(dir, "o3"),
      "--eval",
      good,
      "--embedding-spec",
      spec,
    ]);
    assert.equal(e3.code, 1);
    assert.match(e3.stderr, /spec\.json field 'dim': embeddings do not match the gateway: dim is 512/);
    assert.doesNotMatch(e3.stderr, /ok\.router/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bad router hyperparameter or kind in a train config names the file and line", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-hostile-train-"));
  try {
    const base = readFileSync(path.join(projectRoot(), "configs", "knn.yaml"), "utf8");
    const cases: [string, string, RegExp][] = [
      ["    k: 20", "    k: -3", /bad\.yaml:(\d+) field 'router\.hyperparameters\.k': knn: Too small/],
      [
        "    k: 20",
        "    kk: 3",
        /bad\.yaml:(\d+) field 'router\.hyperparameters\.kk': knn: Unrecognized key/,
      ],
      ["  kind: knn", "  kind: nope", /bad\.yaml:(\d+) field 'router\.kind': unknown router kind 'nope'/],
    ];
    for (const [from, to, expected] of cases) {
      assert.ok(base.includes(from));
      const text = base.replace(from, to);
      const file = path.join(dir, "bad.yaml");
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, [main, "train", "--config", file], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status, 1);
      const m = expected.exec(r.stderr);
      assert.ok(m, r.stderr);
      const line = text.split("\n").findIndex((l) => l === to) + 1;
      assert.equal(Number(m[1]), line);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
