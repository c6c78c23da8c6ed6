import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { createRouter } from "../../lib/routers/registry";
import { saveRouterState } from "../../lib/routers/model-file";
import { FILE_SET_JOURNAL, recoverFileSet, recoverFolder } from "../../lib/util/atomic-write";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { DISK_FAULTS, mountTmpfs, unmount } from "../support/tmpfs";
import { binaryExportData } from "./synthetic";
import { assertOldOrNewAtEveryKill } from "../support/kill";

/**
 * Issue 15: `routerlab export` (a bundle folder swap) and `routerlab promote --to-dir` (a journalled file set in the
 * gateway's shared folder) SIGKILLed at every write point. After each kill, and the recovery the next run does
 * first, the output is the old bundle or the new one, never a mix or a torn file; a re-run gives the same bytes.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-kill-export-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1";
const STRONG = "gpt-4-1106-preview";
const models = path.join(projectRoot(), "configs", "export-routellm-models.yaml");
const evalFile = path.join(tmp, "eval.f32");
const routers: Record<string, string> = {};

const data = (seed: number, rows: number) => binaryExportData(seed, rows, WEAK, STRONG);

before(async () => {
  const train = data(1, 300);
  writeFileSync(evalFile, data(2, 100).X.data);
  const spec = { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) };
  for (const [name, kind, hp] of [
    ["centroid", "centroid", {}],
    ["mlp", "mlp", { hiddenLayerSizes: [8], epochs: 3, validationFraction: 0 }],
  ] as const) {
    const r = createRouter(kind, hp);
    await r.fit({ X: train.X }, train.task);
    const st = r.state();
    routers[name] = saveRouterState(
      { ...st, meta: { ...st.meta, embedding: spec } },
      path.join(tmp, name),
    ).json;
  }
});

function cli(
  args: string[],
  killAt?: number,
): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROUTERLAB_QUIET: "1",
    ROUTERLAB_EXPORT_PYTHON: venvPython(),
  };
  delete env.ROUTERLAB_SIGNING_KEY_ED25519;
  delete env.ROUTERLAB_SIGNING_KEY_HMAC;
  if (killAt !== undefined) env.ROUTERLAB_TEST_KILL_AT_WRITE = String(killAt);
  const p = spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    env,
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: p.status, signal: p.signal, out: p.stdout + p.stderr };
}

/** The visible files of a folder and their bytes (the manifest's creation time is the one field a re-run changes). */
function snapshot(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
  return JSON.stringify(
    names.map((n) => [
      n,
      readFileSync(path.join(dir, n), "latin1").replace(/"created_at": "[^"]*"/, '"created_at": "T"'),
    ]),
  );
}

/**
 * Runs `args` with a kill at the 1st, 2nd, ... write point until it finishes; `recover` is what the next run does
 * first. Every state seen after a kill must be `oldSet` or the finished run's set; kills on both sides of the
 * commit must be seen; a further run must give the same set again.
 */
function killAtEveryWrite(args: string[], dir: string, oldSet: string | null, recover: () => void): number {
  const seen: { n: number; set: string | null }[] = [];
  for (let n = 1; n < 60; n++) {
    const r = cli(args, n);
    recover();
    if (r.signal === "SIGKILL") {
      seen.push({ n, set: snapshot(dir) });
      continue;
    }
    assert.equal(r.status, 0, r.out);
    const newSet = snapshot(dir);
    assert.notEqual(newSet, oldSet, "the run changed the output");
    assertOldOrNewAtEveryKill(seen, oldSet, newSet);
    const again = cli(args);
    assert.equal(again.status, 0, again.out);
    assert.equal(snapshot(dir), newSet, "a re-run gives identical outputs");
    return seen.length;
  }
  throw new Error("the command never finished");
}

const exportArgs = (router: string, out: string): string[] => [
  "export",
  router,
  "--out",
  out,
  "--eval",
  evalFile,
  "--gateway-models",
  models,
  "--group",
  "auto",
];

test("routerlab export killed at every write: the bundle folder is the old bundle or the new one", () => {
  const out = path.join(tmp, "bundle");
  const first = cli(exportArgs(routers.centroid!, out));
  assert.equal(first.status, 0, first.out);
  const oldSet = snapshot(out);
  const kills = killAtEveryWrite(exportArgs(routers.mlp!, out), out, oldSet, () => recoverFolder(out));
  assert.ok(kills >= 4, `stopped at ${kills} write points`);
  assert.deepEqual(readdirSync(out).sort(), ["manifest.json", "router.json", "router.pt"]);
  assert.deepEqual(
    readdirSync(tmp).filter((n) => n.startsWith(".bundle.")),
    [],
    "no temporary or set-aside folder is left",
  );
});

test("routerlab promote --to-dir killed at every write: the gateway folder holds one whole bundle, other files untouched", () => {
  const centroid = path.join(tmp, "b-centroid");
  const mlp = path.join(tmp, "b-mlp");
  for (const [r, out] of [
    [routers.centroid!, centroid],
    [routers.mlp!, mlp],
  ] as const) {
    const e = cli(exportArgs(r, out));
    assert.equal(e.status, 0, e.out);
  }
  const gw = path.join(tmp, "gateway");
  mkdirSync(gw);
  writeFileSync(path.join(gw, "README.operator"), "not routerlab's");
  const promoteArgs = (b: string) => ["promote", b, "--router", "kill", "--why", "kill test", "--to-dir", gw];
  const first = cli(promoteArgs(centroid));
  assert.equal(first.status, 0, first.out);
  const oldSet = snapshot(gw);
  const kills = killAtEveryWrite(promoteArgs(mlp), gw, oldSet, () => recoverFileSet(gw));
  assert.ok(kills >= 6, `stopped at ${kills} write points`);
  assert.deepEqual(readdirSync(gw).sort(), ["README.operator", "manifest.json", "router.json", "router.pt"]);
  assert.equal(existsSync(path.join(gw, FILE_SET_JOURNAL)), false);
});

for (const fault of DISK_FAULTS) {
  test(`export and promote --to-dir on ${fault.name}: a located error naming the path, no stack, no partial file`, (ctx) => {
    const mnt = path.join(tmp, `mnt-${fault.opts.replace(/\W/g, "")}`);
    const skip = mountTmpfs(mnt, fault.opts);
    if (skip) {
      ctx.skip(skip);
      return;
    }
    try {
      const out = path.join(mnt, "bundle");
      const e = cli(exportArgs(routers.mlp!, out));
      assert.equal(e.status, 1, e.out);
      assert.match(e.out, new RegExp(`${out.replace(/[/.]/g, "\\$&")}: cannot write: `));
      assert.match(e.out, fault.error);
      assert.match(e.out, /no folder was written; no partial file was left/);
      assert.doesNotMatch(e.out, /\n\s+at /, "no stack trace");
      assert.deepEqual(readdirSync(mnt), [], "nothing half-written is left");
      const bundle = path.join(tmp, "b-mlp-fault");
      const b = cli(exportArgs(routers.mlp!, bundle));
      assert.equal(b.status, 0, b.out);
      const p = cli(["promote", bundle, "--router", "kill", "--why", "disk fault", "--to-dir", mnt]);
      assert.equal(p.status, 1, p.out);
      assert.match(p.out, new RegExp(`${mnt.replace(/[/.]/g, "\\$&")}: cannot write: `));
      assert.match(p.out, fault.error);
      assert.match(p.out, /no file was written; no partial file was left/);
      assert.doesNotMatch(p.out, /\n\s+at /, "no stack trace");
      assert.deepEqual(readdirSync(mnt), [], "nothing half-written is left");
    } finally {
      unmount(mnt);
    }
  });
}
