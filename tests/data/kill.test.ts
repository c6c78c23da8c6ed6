import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { recoverFolder } from "../../lib/util/atomic-write";
import { projectRoot } from "../../lib/util/paths";
import { mountTmpfs, unmount } from "../support/tmpfs";
import { tempDir } from "./helpers";
import { assertOldOrNewAtEveryKill } from "../support/kill";

const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

function cli(
  args: string[],
  env: Record<string, string>,
): { code: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], {
    encoding: "utf8",
    env: { ...process.env, ROUTERLAB_QUIET: "1", ...env },
    timeout: 180_000,
  });
  return { code: r.status, signal: r.signal, stderr: r.stderr };
}

/**
 * Every file of a folder with its bytes, or null when the folder is absent. The summary's `generatedAt`
 * timestamp is the one field that legitimately differs between two runs of the same command.
 */
function snapshot(dir: string): Map<string, string> | null {
  if (!existsSync(dir)) return null;
  return new Map(
    readdirSync(dir)
      .sort()
      .map((n) => [
        n,
        readFileSync(path.join(dir, n), "latin1").replace(/"generatedAt": "[^"]*"/, '"generatedAt": "T"'),
      ]),
  );
}

function same(a: Map<string, string> | null, b: Map<string, string> | null): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/**
 * Runs `args` (which writes the folder `dir`) once to get the old set, computes the new set in a scratch copy,
 * then SIGKILLs the command at its 1st, 2nd, ... write point until it finishes. After each kill the folder (once a
 * folder swap's set-aside copy is recovered) must be exactly the old set or exactly the new set.
 */
function killAtEveryWrite(
  oldArgs: string[],
  newArgs: string[],
  dir: string,
  env: Record<string, string>,
): { kills: number } {
  const first = cli(oldArgs, env);
  assert.equal(first.code, 0, first.stderr);
  const oldSet = snapshot(dir);
  assert.ok(oldSet && oldSet.size > 0);
  const afterKill: { n: number; set: Map<string, string> | null }[] = [];
  for (let n = 1; n < 200; n++) {
    const r = cli(newArgs, { ...env, ROUTERLAB_TEST_KILL_AT_WRITE: String(n) });
    recoverFolder(dir);
    if (r.signal === "SIGKILL") {
      afterKill.push({ n, set: snapshot(dir) });
      continue;
    }
    assert.equal(r.code, 0, r.stderr);
    const newSet = snapshot(dir);
    assert.ok(!same(newSet, oldSet), "the new run changed the outputs");
    assertOldOrNewAtEveryKill(afterKill, oldSet, newSet, same);
    const leftovers = readdirSync(path.dirname(dir)).filter((x) => x.startsWith(`.${path.basename(dir)}.`));
    assert.deepEqual(leftovers, [], "no temporary folder is left");
    return { kills: afterKill.length };
  }
  throw new Error("the command never finished");
}

test("data split killed at every write: the split folder is the old set or the new set, never a mix", () => {
  const t = tempDir();
  try {
    const out = path.join(t.dir, "s");
    const cfg = (seed: number, k: number) =>
      t.file(
        `split-${seed}.yaml`,
        `dataset: mt-bench\ntest_fraction: 0.25\nk: ${k}\nseed: ${seed}\nstratify: true\nout_dir: ${out}\n`,
      );
    // the old set has 4 folds, the new one 3: a stale fold-3.json next to new files would be a mix
    const { kills } = killAtEveryWrite(
      ["data", "split", "--config", cfg(1, 4)],
      ["data", "split", "--config", cfg(2, 3)],
      out,
      {
        ROUTERLAB_OUT_DIR: t.dir,
      },
    );
    assert.ok(kills >= 6, `stopped at ${kills} write points`);
    assert.deepEqual(
      [...snapshot(out)!.keys()],
      ["fold-0.json", "fold-1.json", "fold-2.json", "leakage.json", "test.json", "train.json"],
    );
  } finally {
    t.cleanup();
  }
});

test("the data summary step killed at every write: summary.json and index.html are both old or both new", () => {
  const t = tempDir();
  try {
    const dir = path.join(t.dir, "summary");
    const { kills } = killAtEveryWrite(
      ["run", "--summary-only", "--sample", "20", "--out-dir", t.dir],
      ["run", "--summary-only", "--sample", "30", "--out-dir", t.dir],
      dir,
      { ROUTERLAB_OUT_DIR: t.dir },
    );
    assert.ok(kills >= 3, `stopped at ${kills} write points`);
    assert.deepEqual([...snapshot(dir)!.keys()], ["index.html", "summary.json"]);
  } finally {
    t.cleanup();
  }
});

for (const fault of [
  { name: "a full disk (64 KiB tmpfs)", opts: "size=64k", error: /the disk is full \[ENOSPC\]/ },
  {
    name: "a read-only folder",
    opts: "ro,size=64k",
    error: /the folder is read-only or not writable \[EROFS\]/,
  },
]) {
  test(`data split and the summary step on ${fault.name}: a located error, no stack, no partial file`, (ctx) => {
    const t = tempDir();
    const mnt = path.join(t.dir, "mnt");
    const skip = mountTmpfs(mnt, fault.opts);
    if (skip) {
      ctx.skip(skip);
      t.cleanup();
      return;
    }
    try {
      const out = path.join(mnt, "splits");
      // llmrouter: id lists bigger than 64 KiB
      const cfg = t.file(
        "split.yaml",
        `dataset: llmrouter\ntest_fraction: 0.2\nk: 2\nseed: 1\nout_dir: ${out}\n`,
      );
      const r = cli(["data", "split", "--config", cfg], { ROUTERLAB_OUT_DIR: t.dir });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${out.replace(/[/.]/g, "\\$&")}: cannot write: `));
      assert.match(r.stderr, fault.error);
      assert.match(r.stderr, /no folder was written; no partial file was left/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      const s = cli(["run", "--summary-only", "--sample", "20", "--out-dir", mnt], {
        ROUTERLAB_OUT_DIR: mnt,
      });
      assert.equal(s.code, 1, s.stderr);
      assert.match(s.stderr, fault.error);
      assert.doesNotMatch(s.stderr, /\n\s+at /, "no stack trace");
      assert.deepEqual(readdirSync(mnt), [], "nothing half-written is left");
    } finally {
      unmount(mnt);
      t.cleanup();
    }
  });
}
