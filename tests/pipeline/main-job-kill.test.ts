import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { FILE_SET_JOURNAL, recoverFileSet } from "../../lib/util/atomic-write";
import { projectRoot } from "../../lib/util/paths";
import { assertOldOrNewAtEveryKill } from "../support/kill";

/**
 * Issue 15: the main job (`npm start` = `routerlab run`) SIGKILLed at each write point of its report step (every
 * dataset's calibration.json, metrics.json and report.html, the multi-model report, summary.json). After each kill,
 * and the recovery the next run does first, the reports are the old run's or the new run's, never a mix or a torn
 * file; a re-run gives identical outputs.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-kill-main-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

/** The smallest main job: one binary dataset, two fast routers, a one-router multi-model comparison. */
function config(targetShare: number): string {
  const file = path.join(tmp, `main-${targetShare}.yaml`);
  writeFileSync(
    file,
    `seed: 3
binary:
  datasets: [mt-bench]
  folds: 3
  bootstrapResamples: 100
  routers:
    - { name: logreg, kind: logreg }
    - { name: centroid, kind: centroid }
  featureLogreg: { enabled: false }
multi:
  lambdas: 4
  routers:
    - { name: knn, kind: knn, hyperparameters: { k: 5 } }
calibration: { resamples: 100, targetShare: ${targetShare} }
tracking: { experiment: routerlab-test-main-kill }
`,
  );
  return file;
}

function run(
  cfg: string,
  outDir: string,
  hooks: { killAt?: number; writeLog?: string } = {},
): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROUTERLAB_QUIET: "1",
    ROUTERLAB_TRACKING_DIR: path.join(tmp, "journal"),
  };
  delete env.MLFLOW_TRACKING_URI;
  if (hooks.killAt !== undefined) env.ROUTERLAB_TEST_KILL_AT_WRITE = String(hooks.killAt);
  if (hooks.writeLog !== undefined) env.ROUTERLAB_TEST_WRITE_LOG = hooks.writeLog;
  const p = spawnSync(
    process.execPath,
    [main, "run", "--config", cfg, "--out-dir", outDir, "--sample", "60"],
    {
      env,
      encoding: "utf8",
      timeout: 300_000,
    },
  );
  return { status: p.status, signal: p.signal, out: p.stdout + p.stderr };
}

/**
 * The report files of `<outDir>/main` with their bytes (the per-router score caches left out). Fields a re-run
 * legitimately changes are masked: wall-clock seconds, creation times, tracking run folders and the output path.
 */
function reports(outDir: string): string {
  const dir = path.join(outDir, "main");
  const files: [string, string][] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.join(rel, d.name);
      if (d.name.startsWith(".") || d.name === "scores") continue;
      if (d.isDirectory()) walk(name);
      else
        files.push([
          name,
          readFileSync(path.join(dir, name), "latin1")
            .replaceAll(outDir, "OUT")
            .replace(/"(seconds|fitSeconds)": [-0-9.e]+/g, '"$1": 0')
            .replace(/"createdAt": "[^"]*"/g, '"createdAt": "T"')
            .replace(/"[^"]*\/journal\/[^"]*"/g, '"RUN"'),
        ]);
    }
  };
  walk("");
  return JSON.stringify(files.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

test("the main job killed at every write of its report step: the old reports or the new ones, never a mix", () => {
  const out = path.join(tmp, "out");
  const oldCfg = config(0.5);
  const newCfg = config(0.4);
  const first = run(oldCfg, out);
  assert.equal(first.status, 0, first.out);
  const oldSet = reports(out);
  assert.deepEqual(
    JSON.parse(oldSet).map((f: [string, string]) => f[0]),
    [
      "llmrouter/multi.json",
      "llmrouter/report.html",
      "routellm-mt-bench/calibration.json",
      "routellm-mt-bench/metrics.json",
      "routellm-mt-bench/report.html",
      "summary.json",
    ],
  );

  // the new run on a copy, logging its write points: those into <out>/main outside the score caches are the
  // report step's (the copy holds the same caches, so the run makes the same writes in the same order)
  const probe = path.join(tmp, "probe");
  cpSync(out, probe, { recursive: true });
  const log = path.join(tmp, "writes.log");
  const probed = run(newCfg, probe, { writeLog: log });
  assert.equal(probed.status, 0, probed.out);
  const newSet = reports(probe);
  assert.notEqual(newSet, oldSet, "the new config changes the reports");
  const reportPoints = readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .filter(
      ([, target]) => target!.startsWith(path.join(probe, "main") + "/") && !target!.includes("/scores/"),
    )
    .map(([n]) => Number(n));
  // 6 staged files and the journal (half-way through each), the journal's rename, 6 renames into place
  assert.equal(reportPoints.length, 14, readFileSync(log, "utf8"));

  const seen: { n: number; set: string }[] = [];
  for (const n of reportPoints) {
    const r = run(newCfg, out, { killAt: n });
    assert.equal(r.signal, "SIGKILL", `the run reached write point ${n}: ${r.out}`);
    recoverFileSet(path.join(out, "main")); // what the next run does first
    seen.push({ n, set: reports(out) });
  }
  assertOldOrNewAtEveryKill(seen, oldSet, newSet);
  assert.equal(existsSync(path.join(out, "main", FILE_SET_JOURNAL)), false);

  const done = run(newCfg, out);
  assert.equal(done.status, 0, done.out);
  assert.equal(reports(out), newSet, "the finished run gives the new reports");
  const again = run(newCfg, out);
  assert.equal(again.status, 0, again.out);
  assert.equal(reports(out), newSet, "a re-run gives identical outputs");
  const hidden = readdirSync(path.join(out, "main"), { recursive: true, encoding: "utf8" }).filter((n) =>
    path.basename(n).startsWith("."),
  );
  assert.deepEqual(hidden, [], "no staged or temporary file is left");
});
