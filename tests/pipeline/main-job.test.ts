import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadRecord } from "../../lib/calibrate/record";
import { bundledRouting } from "../../lib/data/bundled";
import { arenaScore } from "../../lib/eval/arena";
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
    // the main job's default folds (5); KNN caps k = 40 at the training rows of a fold if it has fewer
    binary: { bootstrapResamples: 100 },
    multi: { lambdas: 8 },
    calibration: { resamples: 100 },
    outDir: path.join(tmp, "out"),
    tracking: { experiment: "routerlab-test-main" },
  });
  const log: string[] = [];
  try {
    const cold = await runMainJob(config, (m) => log.push(m));
    // MMLU, GSM8K and MT-Bench (72 questions with both models judged: all of them, under the 120 sample)
    assert.deepEqual(
      cold.binary.map((b) => [b.dataset, b.n]),
      [
        ["routellm-mmlu", 120],
        ["routellm-gsm8k", 120],
        ["routellm-mt-bench", bundledRouting("mt-bench").data.queryIds.length],
      ],
    );
    for (const b of cold.binary) {
      // the registry routers, the embedding + features logistic regression, then the two baselines, each with a
      // full curve and finite APGR
      assert.deepEqual(
        b.evaluations.map((e) => e.router),
        [
          "knn",
          "svm",
          "mlp",
          "mf",
          "logreg",
          "centroid",
          "elo",
          "logreg-emb-features",
          "feature-score (baseline)",
          "random (baseline)",
        ],
      );
      // servable by the gateway or not, from each kind's registry entry and its format's operating-point support
      const serving = new Map(b.servable.scorers.map((s) => [s.router, s]));
      for (const name of ["logreg-emb-features", "feature-score (baseline)", "random (baseline)"])
        assert.equal(serving.get(name)!.gatewayFormat, null, `${name} is not servable`);
      assert.deepEqual(
        b.servable.scorers.filter((s) => s.carriesOperatingPoint).map((s) => s.router),
        ["mlp", "logreg", "centroid"],
      );
      assert.equal(serving.get("knn")!.gatewayFormat, "sklearn-knn");
      assert.equal(serving.get("knn")!.carriesOperatingPoint, false);
      // the recommendation: the best APGR among the scorers whose threshold the served file carries; it is the one
      // calibrated, and the gap is measured to the best unservable scorer
      const carrying = b.evaluations.filter((e) => ["mlp", "logreg", "centroid"].includes(e.router));
      const bestApgr = Math.max(...carrying.map((e) => e.summary.apgr!));
      assert.equal(b.servable.recommended!.apgr, bestApgr);
      assert.equal(
        loadRecord(path.join(cold.outDir, b.dataset, "calibration.json")).router,
        b.servable.recommended!.router,
      );
      const unservable = b.evaluations.filter((e) => serving.get(e.router)!.gatewayFormat === null);
      assert.equal(b.servable.bestUnservable!.apgr, Math.max(...unservable.map((e) => e.summary.apgr!)));
      assert.ok(Math.abs(b.servable.gap!.apgr! - (bestApgr - b.servable.bestUnservable!.apgr!)) < 1e-12);
      // the query-blind ELO router: one score per outer fold (the folds' ratings), so at most as many score levels
      // as folds
      const elo = loadScoresFile(path.join(cold.outDir, b.dataset, "scores", "elo.json"));
      assert.ok(new Set(elo.strongProbability).size <= config.binary.folds);
      for (const e of b.evaluations)
        assert.ok(Number.isFinite(e.summary.apgr), `${b.dataset} ${e.router} APGR`);
      const html = readFileSync(b.reportFile, "utf8");
      assert.match(html, /Plotly\.newPlot/);
      assert.match(html, /Calibration of the best router/);
      assert.match(html, /Quality of the routers' own P\(strong needed\)[\s\S]*AUROC[\s\S]*Brier[\s\S]*ECE/);
      // RouterArena's score at each scorer's CPT(50%) operating point on the correctness datasets; n/a on MT-Bench
      // (1-10 judge scores)
      assert.match(html, /RouterArena accuracy-cost score/);
      if (b.dataset === "routellm-mt-bench") assert.equal(b.arena, null);
      else {
        const arena = b.arena!;
        assert.deepEqual(
          arena.map((r) => r.router),
          [...b.evaluations.map((e) => e.router), "all weak", "all strong"],
        );
        const weak = arena.at(-2)!;
        const strong = arena.at(-1)!;
        assert.ok(weak.costPer1k < strong.costPer1k, "the weak model is the cheaper one");
        for (const [i, e] of b.evaluations.entries()) {
          const r = arena[i]!;
          // the operating point's strong share puts its cost between the two models', and its accuracy reaches
          // half the gap (CPT(50%)); the score is RouterArena's formula of the two
          const share = e.operatingPoint.share[1];
          assert.ok(r.costPer1k >= weak.costPer1k - 1e-12 && r.costPer1k <= strong.costPer1k + 1e-12);
          if (share === 0) assert.ok(Math.abs(r.costPer1k - weak.costPer1k) < 1e-12);
          assert.ok(r.accuracy >= e.summary.cpt50.target - 1e-12 || share === 1, `${e.router} accuracy`);
          assert.equal(r.score, arenaScore(r.accuracy, r.costPer1k));
        }
      }
      // RouterArena's optimality and LLMRouterBench's gap to the oracle for the same policies
      assert.match(html, /Distance to the per-query optimum[\s\S]*opt\. selection[\s\S]*gap to oracle/);
      assert.deepEqual(
        b.optimality.map((r) => r.router),
        [...b.evaluations.map((e) => e.router), "all weak", "all strong"],
      );
      const oracle = b.optimality[0]!.oracleGap.oracle;
      for (const r of b.optimality) {
        assert.equal(r.oracleGap.oracle, oracle, "one oracle per dataset");
        assert.ok(r.oracleGap.gap >= 0, `${r.router} cannot beat the oracle`);
      }
      if (b.dataset === "routellm-mt-bench") assert.ok(b.optimality.every((r) => r.routerArena === null));
      else {
        b.optimality.forEach((r, i) =>
          assert.ok(Math.abs(r.oracleGap.quality - b.arena![i]!.accuracy) < 1e-12, `${r.router} quality`),
        );
        const [allWeak, allStrong] = b.optimality.slice(-2).map((r) => r.routerArena!);
        // the best single model is one of the two: its optimal accuracy is exactly 1
        assert.equal(Math.max(allWeak!.optimalAccuracy!, allStrong!.optimalAccuracy!), 1);
        // the strong model is dearer on every query: always choosing it never undercuts the optimum, always choosing
        // the weak one never overpays
        assert.ok(allStrong!.optimalCost! <= 1 && allWeak!.optimalCost! >= 1);
        const sel = b.optimality.map((r) => r.routerArena!.optimalSelection!);
        assert.ok(sel.every((v) => v >= 0 && v <= 1));
      }
      const rec = loadRecord(path.join(cold.outDir, b.dataset, "calibration.json"));
      assert.equal(rec.target.kind, "share");
      assert.ok(rec.holdout, "calibration verified on a held-out part");
      assert.ok(rec.intervals.share.lo !== null && rec.intervals.share.lo <= rec.intervals.share.hi!);
    }
    assert.ok(cold.multi, "multi-model evaluation ran");
    assert.equal(cold.multi.routers.length, config.multi.routers.length);
    for (const r of cold.multi.routers) assert.ok(r.aiq > 0 && r.aiq <= 1, `${r.router} AIQ ${r.aiq}`);
    const multiHtml = readFileSync(path.join(cold.outDir, "llmrouter", "report.html"), "utf8");
    assert.match(multiHtml, /gap to oracle \(relative\)[\s\S]*arena score \(argmax\)/);
    // each router's row: gap to the oracle and RouterArena's score of its argmax point
    for (const r of cold.multi.routers) {
      const gap = (cold.multi.oracle.quality - r.point.quality).toFixed(4);
      const arena = arenaScore(r.point.quality, 1000 * r.point.cost).toFixed(4);
      assert.ok(multiHtml.includes(`${gap} (`), `${r.router} gap ${gap}`);
      assert.ok(multiHtml.includes(arena), `${r.router} arena ${arena}`);
    }
    assert.ok(Number.isFinite(cold.multi.zeroAiq));
    for (const dir of cold.trackingRunDirs) {
      assert.ok(existsSync(path.join(dir, "run.json")), `journal ${dir}`);
    }
    assert.match(summaryTable(cold), /APGR/);
    assert.match(summaryTable(cold), /recommended for the gateway: (mlp|logreg|centroid) \(/);
    assert.match(summaryTable(cold), /gap to the best unservable scorer/);
    assert.match(readFileSync(cold.binary[0]!.reportFile, "utf8"), /What the gateway can serve/);
    // where the time went: load, embedding, one step per binary dataset (with each router's fit), multi
    const steps = cold.steps;
    assert.equal(steps[0]!.step, "load data");
    assert.match(steps[1]!.step, /^embedding routellm-mmlu \(120 texts; the rest alongside the fits\)$/);
    assert.deepEqual(
      steps.slice(2, 2 + cold.binary.length).map((s) => s.step),
      cold.binary.map((b) => `${b.dataset}: routers, evaluation, calibration`),
    );
    assert.ok(steps[2]!.parts!.some((p) => p.name === "mlp fit (sum over folds)"));
    assert.match(steps[2 + cold.binary.length]!.step, /multi-model routing$/);
    const stepSum = steps.reduce((a, s) => a + s.seconds, 0);
    assert.ok(steps.every((s) => s.seconds >= 0) && stepSum <= cold.seconds + 1e-6);
    assert.match(timingTable(steps, cold.seconds), /where the time went[\s\S]*embedding/);
    const summary = JSON.parse(readFileSync(path.join(cold.outDir, "summary.json"), "utf8")) as {
      schema: string;
      binary: {
        servable: { recommended: string; scorers: { router: string; cpt50Deterministic: number }[] };
        routers: {
          router: string;
          cpt50Interval: { lo: number | null };
          cpt80Interval: { lo: number | null };
        }[];
      }[];
      multi: {
        zeroAiqInterval: { lo: number };
        routers: { router: string; aiqInterval: { diffLo: number } }[];
      };
    };
    assert.equal(summary.schema, "routerlab.main-job.v1");
    assert.equal(summary.binary[0]!.servable.recommended, cold.binary[0]!.servable.recommended!.router);
    assert.equal(summary.binary[0]!.servable.scorers.length, 10);
    // the intervals the bench (bench/eval.ts) reads back
    const mmlu = cold.binary[0]!.evaluations;
    summary.binary[0]!.routers.forEach((r, i) => {
      assert.equal(r.router, mmlu[i]!.router);
      // JSON writes a NaN bound (no resample reached the target) as null
      const json = (v: number): number | null => (Number.isNaN(v) ? null : v);
      assert.equal(r.cpt50Interval.lo, json(mmlu[i]!.bootstrap.cpt50.lo));
      assert.equal(r.cpt80Interval.lo, json(mmlu[i]!.bootstrap.cpt80.lo));
    });
    assert.equal(summary.multi.zeroAiqInterval.lo, cold.multi.zeroAiqInterval.lo);
    assert.deepEqual(
      summary.multi.routers.map((r) => [r.router, r.aiqInterval.diffLo]),
      cold.multi.routers.map((r) => [r.router, r.aiqInterval.diffLo]),
    );
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
