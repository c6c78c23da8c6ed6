import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import type { RouterState } from "../../lib/routers/types";
import { FILE_SET_JOURNAL } from "../../lib/util/atomic-write";
import { RouterlabError } from "../../lib/util/errors";
import { sha256Hex } from "../../lib/util/hash";
import { mountTmpfs, unmount } from "../support/tmpfs";

/**
 * Issue 15: a save of a model pair (.router.bin + .router.json) killed after its journal leaves the pair mixed on
 * disk (a new .bin beside the old .json) until the next write into the folder. The loader completes the set first,
 * so a load after a kill at any write point gives the old model or the new one, whole.
 */
const dir = mkdtempSync(path.join(tmpdir(), "routerlab-mf-kill-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function state(v: number, n: number): RouterState {
  return {
    kind: "knn",
    hyperparameters: { k: 5, weights: "uniform" },
    meta: { dim: 4, models: ["w", "s"], setting: "binary", version: v }, // keys sorted, as a loaded model's are
    tensors: {
      X: { shape: [n, 4], data: Float32Array.from({ length: n * 4 }, (_, i) => v + i / 7) },
      y: { shape: [n], data: Float32Array.from({ length: n }, (_, i) => i % 2) },
    },
  };
}

/** The model as loaded, for comparison: a hash of its meta and every tensor's shape and values. */
function seen(s: RouterState): string {
  return sha256Hex(
    JSON.stringify([s.meta, Object.entries(s.tensors).map(([k, t]) => [k, t.shape, Array.from(t.data)])]),
  );
}

test("a model pair save killed at every write point: the loader gives the old model or the new one, never a mix", () => {
  const oldState = state(1, 50);
  const newState = state(2, 80); // a different .bin size and hash: a mixed pair fails its checksum
  const src = path.join(dir, "src");
  mkdirSync(src);
  saveRouterState(newState, path.join(src, "new"));
  const mod = path.join(__dirname, "..", "..", "lib", "routers", "model-file.js");
  const models = path.join(dir, "models");
  const base = path.join(models, "m");
  const script = `const m = require(${JSON.stringify(mod)}); m.saveRouterState(m.loadRouterState(${JSON.stringify(path.join(src, "new"))}), ${JSON.stringify(base)});`;
  const kinds: string[] = [];
  for (let n = 1; n < 50; n++) {
    rmSync(models, { recursive: true, force: true });
    saveRouterState(oldState, base);
    const r = spawnSync(process.execPath, ["-e", script], {
      env: { ...process.env, ROUTERLAB_TEST_KILL_AT_WRITE: String(n) },
      encoding: "utf8",
    });
    if (r.signal !== "SIGKILL") {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(seen(loadRouterState(base)), seen(newState));
      break;
    }
    const journalled = existsSync(path.join(models, FILE_SET_JOURNAL));
    const loaded = seen(loadRouterState(base));
    const which = loaded === seen(oldState) ? "old" : loaded === seen(newState) ? "new" : "mixed";
    assert.notEqual(which, "mixed", `kill at write ${n}`);
    // a committed set is the new model; the loader left the folder clean
    if (journalled) assert.equal(which, "new", `kill at write ${n}: the journal commits the new model`);
    assert.deepEqual(
      readdirSync(models).sort(),
      ["m.router.bin", "m.router.json"],
      `kill at write ${n}: no journal or staged file left`,
    );
    kinds.push(`${n}:${journalled ? "journal" : "no journal"}:${which}`);
  }
  // bin half-way, json half-way, journal half-way (old); journal renamed, bin renamed (the mixed pair), json renamed
  assert.ok(
    kinds.includes("5:journal:new"),
    `a kill between the two renames was completed by the loader: ${kinds.join(", ")}`,
  );
  assert.ok(
    kinds.some((k) => k.endsWith(":old")),
    `a kill before the commit: ${kinds.join(", ")}`,
  );
});

test("a half-replaced pair on a read-only disk: a located error naming the journal, not a checksum mismatch", (ctx) => {
  const models = path.join(dir, "ro");
  const skip = mountTmpfs(models, "size=1m");
  if (skip) {
    ctx.skip(skip);
    return;
  }
  try {
    const base = path.join(models, "m");
    saveRouterState(state(1, 50), base);
    const src = path.join(dir, "src-ro");
    saveRouterState(state(2, 80), path.join(src, "new"));
    const mod = path.join(__dirname, "..", "..", "lib", "routers", "model-file.js");
    const script = `const m = require(${JSON.stringify(mod)}); m.saveRouterState(m.loadRouterState(${JSON.stringify(path.join(src, "new"))}), ${JSON.stringify(base)});`;
    const r = spawnSync(process.execPath, ["-e", script], {
      env: { ...process.env, ROUTERLAB_TEST_KILL_AT_WRITE: "5" },
    });
    assert.equal(r.signal, "SIGKILL");
    assert.equal(spawnSync("mount", ["-o", "remount,ro", models]).status, 0);
    assert.throws(
      () => loadRouterState(base),
      (e: unknown) =>
        e instanceof RouterlabError &&
        e.location?.file === path.join(models, FILE_SET_JOURNAL) &&
        /a killed save left this model pair half-replaced/.test(e.message),
    );
    assert.equal(spawnSync("mount", ["-o", "remount,rw", models]).status, 0);
    assert.equal(seen(loadRouterState(base)), seen(state(2, 80)));
  } finally {
    unmount(models);
  }
});
