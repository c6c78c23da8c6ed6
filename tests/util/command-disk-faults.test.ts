import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { DISK_FAULTS, filesUnder, mountTmpfs, pathRe, unmount } from "../support/tmpfs";
import { sendOtlpJson } from "../../lib/collect/client";
import { DEFAULT_LIMITS, startCollectServer } from "../../lib/collect/server";
import { CollectStore } from "../../lib/collect/store";
import { simulateTraffic } from "../../lib/traffic/simulate";
import { runCli, simpleqaRows, startSim, writeModelsFile } from "../oracle/support";

/**
 * Issue 15: the commands that write (train, embed, ...) on a full disk (8 KiB tmpfs) and a read-only folder give a
 * located error naming the path and what was kept, print no stack, and leave no partial or temporary file.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-disk-faults-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; out: string } {
  const p = spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    env: { ...process.env, ROUTERLAB_QUIET: "1" },
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: p.status, out: p.stdout + p.stderr };
}

function assertLocated(
  r: { status: number | null; out: string },
  target: string,
  error: RegExp,
  kept: RegExp,
) {
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, new RegExp(`${pathRe(target)}: cannot write: `));
  assert.match(r.out, error);
  assert.match(r.out, kept);
  assert.match(r.out, /no partial file was left/);
  assert.doesNotMatch(r.out, /\n\s+at /, "no stack trace");
}

for (const fault of DISK_FAULTS) {
  const mounted = (name: string, ctx: { skip: (why: string) => void }): string | null => {
    const mnt = path.join(tmp, `${name}-${fault.opts.replace(/\W/g, "")}`);
    const skip = mountTmpfs(mnt, fault.opts);
    if (skip) {
      ctx.skip(skip);
      return null;
    }
    return mnt;
  };

  test(`routerlab train on ${fault.name}: a located error naming the model folder, no model file`, (ctx) => {
    const mnt = mounted("train", ctx);
    if (!mnt) return;
    try {
      const models = path.join(mnt, "models");
      const cfg = path.join(tmp, `knn-${fault.opts.replace(/\W/g, "")}.yaml`);
      writeFileSync(
        cfg,
        [
          "data: { dataset: mt-bench, split: { testFraction: 0.2, stratifyBy: none } }",
          "routing: { setting: binary, weak: mistralai/Mixtral-8x7B-Instruct-v0.1, strong: gpt-4-1106-preview }",
          "router: { kind: knn, hyperparameters: { k: 5 } }",
          "seed: 1",
          `output: { dir: ${JSON.stringify(models)}, name: knn-mt }`,
          "tracking: { enabled: false }",
          "",
        ].join("\n"),
      );
      const r = cli(["train", "--config", cfg]);
      assertLocated(r, models, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), [], "nothing half-written is left");
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab embed on ${fault.name}: a located error naming the .f32, the previous pair kept, no partial file`, (ctx) => {
    const mnt = mounted("embed", ctx);
    if (!mnt) return;
    try {
      const out = path.join(mnt, "emb", "mt.f32");
      const embed = (limit: number) =>
        cli([
          "embed",
          "mt-bench",
          "--config",
          path.join(projectRoot(), "configs", "embed.yaml"),
          "--limit",
          String(limit),
          "--out",
          out,
        ]);
      if (fault.opts.startsWith("ro")) {
        assertLocated(embed(20), out, fault.error, /no file was written/);
        assert.deepEqual(filesUnder(mnt), []);
        return;
      }
      // one row (1.5 KiB and its sidecar) fits in 8 KiB; twenty rows (30 KiB) do not
      const small = embed(1);
      assert.equal(small.status, 0, small.out);
      const before = filesUnder(mnt).map((f) => [f, readFileSync(path.join(mnt, f), "latin1")]);
      assert.deepEqual(
        before.map(([f]) => f),
        ["emb/mt.f32", "emb/mt.json"],
      );
      assertLocated(embed(20), out, fault.error, /the previous file is kept unchanged/);
      assert.deepEqual(
        filesUnder(mnt).map((f) => [f, readFileSync(path.join(mnt, f), "latin1")]),
        before,
        "the previous .f32 and sidecar are kept byte for byte, and no temp file is left",
      );
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab oracle on ${fault.name}: a located error naming the output folder, none of the five files`, async (ctx) => {
    const mnt = mounted("oracle", ctx);
    if (!mnt) return;
    const sim = await startSim();
    try {
      const dir = mkdtempSync(path.join(tmp, "oracle-"));
      const models = writeModelsFile(dir, sim.url);
      const cfg = path.join(dir, "oracle.yaml");
      writeFileSync(
        cfg,
        [
          "data: { source: simpleqa, split: { seed: 42, testFraction: 0.2 }, limit: 6, sampleSeed: 3 }",
          "models: { weak: weak, strong: strong, grader: grader, judge: judge }",
          "concurrency: 4",
          "",
        ].join("\n"),
      );
      const out = path.join(mnt, "oracle-out");
      const args = ["oracle", "--config", cfg, "--models", models, "--out", out];
      const r = await runCli([...args, "--cache-dir", path.join(dir, "cache"), "--tracking-uri", "journal"], {
        env: { ROUTERLAB_TRACKING_DIR: path.join(dir, "journal"), ROUTERLAB_QUIET: "1" },
      });
      assertLocated({ status: r.code, out: r.stdout + r.stderr }, out, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), [], "nothing half-written is left");
    } finally {
      await sim.close();
      unmount(mnt);
    }
  });

  test(`routerlab collect on ${fault.name}: a located error naming the dataset folder at start, no lock or segment left`, (ctx) => {
    const mnt = mounted("collect", ctx);
    if (!mnt) return;
    try {
      // a receiver's first files (lock, index) fit in 8 KiB: fill the disk first
      const full = !fault.opts.startsWith("ro");
      if (full) assert.throws(() => writeFileSync(path.join(mnt, "fill"), Buffer.alloc(16 * 1024)), /ENOSPC/);
      const leftBefore = filesUnder(mnt);
      const ds = path.join(mnt, "ds");
      const r = spawnSync(
        process.execPath,
        [path.join(projectRoot(), "bin", "routerlab.js"), "collect", "--out", ds, "--port", "0"],
        { env: { ...process.env, ROUTERLAB_QUIET: "1" }, encoding: "utf8", timeout: 60_000 },
      );
      assertLocated({ status: r.status, out: r.stdout + r.stderr }, ds, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), leftBefore, "no lock, segment or index is left");
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab label-traffic on ${fault.name}: a located error naming the output folder, neither file`, async (ctx) => {
    const mnt = mounted("label", ctx);
    if (!mnt) return;
    const sim = await startSim();
    try {
      const dir = mkdtempSync(path.join(tmp, "label-"));
      const qa = simpleqaRows().slice(0, 12);
      const traffic = simulateTraffic(
        {
          requests: 12,
          queries: qa.map((r) => r.problem),
          driftAt: null,
          errorRate: 0,
          answer: (i, q) =>
            i % 2 === 0 ? `It is ${qa.find((r) => r.problem === q)!.answer}.` : "It is Zanzibar.",
        },
        25,
      );
      const dataset = path.join(dir, "traffic");
      const store = await CollectStore.open(dataset, { segmentBytes: 1 << 26 });
      const receiver = await startCollectServer({
        host: "127.0.0.1",
        port: 0,
        store,
        limits: DEFAULT_LIMITS,
      });
      try {
        await sendOtlpJson(`${receiver.url}/v1/traces`, traffic.bodies);
      } finally {
        await receiver.close();
        await store.close();
      }
      const out = path.join(mnt, "labels-out");
      const config = path.join(dir, "label-traffic.yaml");
      writeFileSync(
        config,
        [
          `dataset: ${dataset}`,
          `models: ${writeModelsFile(dir, sim.url)}`,
          "judge: judge",
          "tiers:",
          "  weak: { gateway: openai/gpt-4o-mini, served: [openai/gpt-4o-mini], model: weak }",
          "  strong: { gateway: openai/gpt-4o, served: [openai/gpt-4o], model: strong }",
          "seed: 4",
          `output: { dir: ${out} }`,
          "",
        ].join("\n"),
      );
      const r = await runCli(["label-traffic", "--config", config, "--cache-dir", path.join(dir, "cache")], {
        env: { ROUTERLAB_QUIET: "1" },
      });
      assertLocated({ status: r.code, out: r.stdout + r.stderr }, out, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), [], "nothing half-written is left");
    } finally {
      await sim.close();
      unmount(mnt);
    }
  });
}
