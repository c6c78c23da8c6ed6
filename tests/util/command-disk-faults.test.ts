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
 * Issue 15: the commands that write (run, train, embed, calibrate, evaluate, baseline-scores, oracle, collect,
 * label-traffic; export and promote in tests/export/kill.test.ts, data split in tests/data/kill.test.ts) on a full disk (8 KiB tmpfs) and a read-only folder give a
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

let mmluScores: string | undefined;
/** A feature-score scores file on RouteLLM's MMLU (written once, outside any mount), for calibrate and evaluate. */
function scoresFile(): string {
  if (mmluScores) return mmluScores;
  const file = path.join(tmp, "scores", "feature-score-mmlu.json");
  const r = cli(["baseline-scores", "--data", "routellm-mmlu", "--out", file]);
  assert.equal(r.status, 0, r.out);
  return (mmluScores = file);
}

/** The smallest main job: one binary dataset, two fast routers, a one-router multi-model comparison. */
function mainJobConfig(): string {
  const file = path.join(tmp, "main.yaml");
  writeFileSync(
    file,
    [
      "seed: 3",
      "binary:",
      "  datasets: [mt-bench]",
      "  folds: 3",
      "  bootstrapResamples: 100",
      "  routers: [{ name: logreg, kind: logreg }, { name: centroid, kind: centroid }]",
      "  featureLogreg: { enabled: false }",
      "multi: { lambdas: 4, routers: [{ name: knn, kind: knn, hyperparameters: { k: 5 } }] }",
      "calibration: { resamples: 100, targetShare: 0.5 }",
      "tracking: { experiment: routerlab-test-disk-faults }",
      "",
    ].join("\n"),
  );
  return file;
}

function runMainJob(outDir: string): { status: number | null; out: string } {
  const p = spawnSync(
    process.execPath,
    [
      path.join(projectRoot(), "bin", "routerlab.js"),
      ...["run", "--config", mainJobConfig(), "--out-dir", outDir, "--sample", "60"],
    ],
    {
      env: { ...process.env, ROUTERLAB_QUIET: "1", ROUTERLAB_TRACKING_DIR: path.join(tmp, "journal") },
      encoding: "utf8",
      timeout: 300_000,
    },
  );
  return { status: p.status, out: p.stdout + p.stderr };
}

test("routerlab run on a disk that fills after the data summary: the main job's reports are refused as one set", (ctx) => {
  // the data summary (~5 MB, most of it the inlined plotly) fits in 7 MiB; the reports (~10 MB) do not
  const mnt = path.join(tmp, "run-7m");
  const skip = mountTmpfs(mnt, "size=7m");
  if (skip) return ctx.skip(skip);
  try {
    const out = path.join(mnt, "out");
    const r = runMainJob(out);
    assertLocated(r, path.join(out, "main"), /the disk is full \[ENOSPC\]/, /no file was written/);
    const left = filesUnder(out);
    assert.ok(left.includes("summary/index.html"), left.join(", "));
    assert.deepEqual(
      left.filter((f) => f.startsWith("main/") && !/\/scores\/[\w-]+\.json$/.test(f)),
      [],
      "no report, summary.json or staged file under main/ (only the complete per-router score caches)",
    );
  } finally {
    unmount(mnt);
  }
});

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
  test(`routerlab run on ${fault.name}: a located error naming the first output folder, no partial file`, (ctx) => {
    const mnt = mounted("run", ctx);
    if (!mnt) return;
    try {
      const out = path.join(mnt, "out");
      assertLocated(runMainJob(out), path.join(out, "summary"), fault.error, /no folder was written/);
      assert.deepEqual(filesUnder(mnt), [], "nothing half-written is left");
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab calibrate on ${fault.name}: the record and its report refused together, located`, (ctx) => {
    const scores = scoresFile();
    const mnt = mounted("calibrate", ctx);
    if (!mnt) return;
    try {
      const dir = path.join(mnt, "cal");
      const r = cli([
        "calibrate",
        "--scores",
        scores,
        "--target-share",
        "0.5",
        "--out",
        path.join(dir, "fs.json"),
      ]);
      assertLocated(r, dir, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), [], "neither the record nor the report, nothing staged");
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab evaluate on ${fault.name}: metrics and report refused together, located`, (ctx) => {
    const scores = scoresFile();
    const mnt = mounted("evaluate", ctx);
    if (!mnt) return;
    try {
      const dir = path.join(mnt, "eval");
      const r = cli([
        "evaluate",
        "--scores",
        scores,
        "--data",
        "routellm-mmlu",
        "--resamples",
        "50",
        "--out",
        dir,
      ]);
      assertLocated(r, dir, fault.error, /no file was written/);
      assert.deepEqual(filesUnder(mnt), [], "neither metrics.json nor report.html, nothing staged");
    } finally {
      unmount(mnt);
    }
  });

  test(`routerlab baseline-scores on ${fault.name}: a located error naming the scores file, no partial file`, (ctx) => {
    const mnt = mounted("baseline", ctx);
    if (!mnt) return;
    try {
      const file = path.join(mnt, "scores", "fs.json");
      assertLocated(
        cli(["baseline-scores", "--data", "routellm-mmlu", "--out", file]),
        file,
        fault.error,
        /no file was written/,
      );
      assert.deepEqual(filesUnder(mnt), []);
    } finally {
      unmount(mnt);
    }
  });
}
