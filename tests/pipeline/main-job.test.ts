import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadRecord } from "../../lib/calibrate/record";
import { loadScoresFile } from "../../lib/eval/scores-file";
import { MainJobConfigSchema } from "../../lib/pipeline/config";
import { runMainJob, summaryTable } from "../../lib/pipeline/main-job";
import { timingTable } from "../../lib/pipeline/timing";

// The main job end to end on a seeded sample of the bundled data: real embeddings, every router,
// evaluation, calibration, journaled tracking and the report. Run twice: the warm run must compute
// no embedding, fit no model, and reproduce the same scores.
test("main job: sample run, then a warm run that reuses every cache and reproduces the scores", async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-main-"));
  process.env.ROUTERLAB_TRACKING_DIR = path.join(tmp, "journal");
  const config = MainJobConfigSchema.parse({
    sample: 120,
    seed: 3,
    binary: { folds: 2, bootstrapResamples: 100 },
    multi: { lambdas: 8 },
    calibration: { resamples: 100 },
    outDir: path.join(tmp, "out"),
    tracking: { experiment: "routerlab-test-main" },
  });
  const log: string[] = [];
  try {
    const cold = await runMainJob(config, (m) => log.push(m));
    assert.equal(cold.binary.length, 2);
    for (const b of cold.binary) {
      assert.equal(b.n, 120);
      // four registry routers, the embedding + features logistic regression, then the two baselines,
      // each with a full curve and finite APGR
      assert.deepEqual(
        b.evaluations.map((e) => e.router),
        ["knn", "svm", "mlp", "mf", "logreg-emb-features", "feature-score (baseline)", "random (baseline)"],
      );
      // the calibrated router is a registry router (export can ship it), never a baseline
      assert.ok(
        ["knn", "svm", "mlp", "mf"].includes(
          loadRecord(path.join(cold.outDir, b.dataset, "calibration.json")).router,
        ),
      );
      for (const e of b.evaluations)
        assert.ok(Number.isFinite(e.summary.apgr), `${b.dataset} ${e.router} APGR`);
      const html = readFileSync(b.reportFile, "utf8");
      assert.match(html, /Plotly\.newPlot/);
      assert.match(html, /Calibration of the best router/);
      const rec = loadRecord(path.join(cold.outDir, b.dataset, "calibration.json"));
      assert.equal(rec.target.kind, "share");
      assert.ok(rec.holdout, "calibration verified on a held-out part");
      assert.ok(rec.intervals.share.lo !== null && rec.intervals.share.lo <= rec.intervals.share.hi!);
    }
    assert.ok(cold.multi, "multi-model evaluation ran");
    assert.equal(cold.multi.routers.length, 4);
    for (const r of cold.multi.routers) assert.ok(r.aiq > 0 && r.aiq <= 1, `${r.router} AIQ ${r.aiq}`);
    assert.ok(Number.isFinite(cold.multi.zeroAiq));
    for (const dir of cold.trackingRunDirs) {
      assert.ok(existsSync(path.join(dir, "run.json")), `journal ${dir}`);
    }
    assert.match(summaryTable(cold), /APGR/);
    // where the time went: load, embedding, one step per binary dataset (with each router's fit), multi
    const steps = cold.steps;
    assert.equal(steps[0]!.step, "load data");
    assert.match(steps[1]!.step, /^embedding \(\d+ texts, \d+ not cached\)$/);
    assert.deepEqual(
      steps.slice(2, 4).map((s) => s.step),
      cold.binary.map((b) => `${b.dataset}: routers, evaluation, calibration`),
    );
    assert.ok(steps[2]!.parts!.some((p) => p.name === "mlp fit (sum over folds)"));
    assert.match(steps[4]!.step, /multi-model routing$/);
    const stepSum = steps.reduce((a, s) => a + s.seconds, 0);
    assert.ok(steps.every((s) => s.seconds >= 0) && stepSum <= cold.seconds + 1e-6);
    assert.match(timingTable(steps, cold.seconds), /where the time went[\s\S]*embedding/);
    const summary = JSON.parse(readFileSync(path.join(cold.outDir, "summary.json"), "utf8")) as {
      schema: string;
    };
    assert.equal(summary.schema, "routerlab.main-job.v1");
    const coldScores = loadScoresFile(path.join(cold.outDir, "routellm-mmlu", "scores", "mlp.json"));

    const warm = await runMainJob(config, (m) => log.push(m));
    assert.equal(warm.embedding.misses, 0, "warm run computes no embedding");
    for (const b of warm.binary)
      for (const s of Object.values(b.fitSeconds)) assert.equal(s, 0, "warm run fits nothing");
    const warmScores = loadScoresFile(path.join(warm.outDir, "routellm-mmlu", "scores", "mlp.json"));
    assert.deepEqual(warmScores.strongProbability, coldScores.strongProbability);
  } finally {
    delete process.env.ROUTERLAB_TRACKING_DIR;
  }
});
