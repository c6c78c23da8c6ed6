import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { z } from "zod";
import { realisedAt } from "../../lib/calibrate/calibrate";
import { loadRecord } from "../../lib/calibrate/record";
import { registerEvaluateCommands } from "../../lib/cli/evaluate";
import { apgr, binaryCurve, cpt } from "../../lib/eval/binary";
import { aiq } from "../../lib/eval/multi";
import { loadPublishedMetrics, publishedFor } from "../../lib/eval/published";
import { alignScores, loadBinaryDataset, loadScoresFile } from "../../lib/eval/scores-file";
import { RouterlabError } from "../../lib/util/errors";

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) <= 1e-12, `${a} != ${b}`);

async function run(...args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  registerEvaluateCommands(program);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "routerlab", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return chunks.join("");
}

describe("routerlab evaluate / calibrate end to end on real GSM8K outcomes", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-eval-"));
  const scoresFile = path.join(dir, "gsm8k.json");

  it("baseline-scores writes a valid scores file for all 1,307 decontaminated questions", async () => {
    await run("baseline-scores", "--data", "routellm-gsm8k", "--out", scoresFile, "--folds", "3");
    const s = loadScoresFile(scoresFile);
    assert.equal(s.queryIds.length, 1307);
    assert.ok(s.strongProbability!.every((p) => p > 0 && p < 1));
  });

  it("evaluate writes metrics.json equal to the metric functions, and a report with the four charts and the paper table", async () => {
    const out = path.join(dir, "eval");
    const stdout = await run(
      "evaluate",
      "--scores",
      scoresFile,
      "--data",
      "routellm-gsm8k",
      "--out",
      out,
      "--resamples",
      "200",
    );
    assert.match(stdout, /APGR=/);
    const metrics = z
      .object({
        routers: z.array(
          z.object({
            router: z.string(),
            n: z.number(),
            apgr: z.number(),
            apgrInterval: z.object({ lo: z.number(), hi: z.number() }),
            cpt50: z.number().nullable(),
            cpt50Interp: z.number(),
          }),
        ),
      })
      .parse(JSON.parse(readFileSync(path.join(out, "metrics.json"), "utf8")));
    const r = metrics.routers[0]!;
    const data = loadBinaryDataset("routellm-gsm8k");
    const a = alignScores(loadScoresFile(scoresFile), data);
    const curve = binaryCurve(a.scores, a.yWeak, a.yStrong);
    const qw = a.yWeak.reduce((x, y) => x + y, 0) / a.yWeak.length;
    const qs = a.yStrong.reduce((x, y) => x + y, 0) / a.yStrong.length;
    // The paper's GSM8K accuracies (metrics.md §11): 63.73% weak, 85.77% strong.
    assert.equal((qw * 100).toFixed(2), "63.73");
    assert.equal((qs * 100).toFixed(2), "85.77");
    assert.equal(r.n, 1307);
    assert.equal(r.apgr, apgr(curve, qw, qs));
    assert.equal(r.cpt50, cpt(curve, 0.5, qw, qs).value);
    assert.ok(r.apgrInterval.lo <= r.apgr && r.apgr <= r.apgrInterval.hi);
    const html = readFileSync(path.join(out, "report.html"), "utf8");
    for (const needle of [
      "quality vs strong-call share",
      "Calibration: threshold t",
      "Per-model routing share",
      "chosen vs best model",
      "Comparison with the RouteLLM paper",
      "Training regime",
      "Plotly",
    ])
      assert.ok(html.includes(needle), `report lacks '${needle}'`);
  });

  it("calibrate writes a record export can read, with the threshold, intervals and held-out check", async () => {
    const rec = path.join(dir, "cal.json");
    await run("calibrate", "--scores", scoresFile, "--target-share", "0.4", "--seed", "7", "--out", rec);
    const r = loadRecord(rec);
    assert.equal(r.target.kind, "share");
    assert.equal(r.n.calibration + r.n.holdout, 1307);
    assert.ok(Math.abs(r.calibration.share - 0.4) < 0.01);
    assert.ok(r.intervals.share.lo! < 0.4 && 0.4 < r.intervals.share.hi!);
    assert.ok(r.holdout !== undefined);
    const a = alignScores(loadScoresFile(scoresFile), loadBinaryDataset("routellm-gsm8k"));
    // The record's threshold reproduces its calibration share on the full data within sampling error.
    assert.ok(Math.abs(realisedAt({ scores: a.scores }, r.threshold).share - 0.4) < 0.05);
    assert.ok(readFileSync(rec.replace(/\.json$/, ".html"), "utf8").includes("data fingerprint"));
    assert.equal(r.calibration.cost, null); // the RouteLLM files carry no costs
  });

  it("calibrate --target-cost uses the config's per-query costs and stays within budget", async () => {
    const cfg = path.join(dir, "calibrate.yaml");
    writeFileSync(cfg, "resamples: 200\nholdoutFraction: 0.3\ncosts:\n  weak: 0.001\n  strong: 0.01\n");
    const rec = path.join(dir, "cal-cost.json");
    await run("calibrate", "--scores", scoresFile, "--target-cost", "0.004", "--config", cfg, "--out", rec);
    const r = loadRecord(rec);
    assert.equal(r.target.kind, "cost");
    assert.ok(r.calibration.cost! <= 0.004);
    // 0.001 + share * 0.009 <= 0.004  =>  share <= 1/3, and the next query would exceed it.
    assert.ok(r.calibration.share <= 1 / 3 && r.calibration.share > 1 / 3 - 2 / r.n.calibration);
    writeFileSync(cfg, "resamples: 200\nholdoutFraction: 2\n");
    await assert.rejects(
      run("calibrate", "--scores", scoresFile, "--target-share", "0.3", "--config", cfg),
      (e: unknown) =>
        e instanceof RouterlabError &&
        e.message.includes(`${cfg}:2`) &&
        e.message.includes("holdoutFraction"),
    );
  });

  it("errors name the file and the JSON path", async () => {
    const bad = path.join(dir, "bad.json");
    const s = loadScoresFile(scoresFile);
    writeFileSync(bad, JSON.stringify({ ...s, queryIds: ["nope", ...s.queryIds.slice(1)] }));
    await assert.rejects(
      run("evaluate", "--scores", bad, "--data", "routellm-gsm8k", "--out", path.join(dir, "x")),
      (e: unknown) =>
        e instanceof RouterlabError && e.message.includes(bad) && e.message.includes("$.queryIds[0]"),
    );
    writeFileSync(bad, JSON.stringify({ ...s, strongProbability: s.strongProbability!.slice(1) }));
    assert.throws(
      () => loadScoresFile(bad),
      (e: unknown) => e instanceof RouterlabError && e.message.includes("$.strongProbability"),
    );
    await assert.rejects(
      run("calibrate", "--scores", scoresFile, "--target-share", "0.4", "--target-pgr", "0.9"),
      /exactly one of/,
    );
  });

  it("the published RouteLLM table parses, and the paper's MMLU/GSM8K CPT(50%) derive to ~35.5% / ~33.6%", () => {
    const rows = loadPublishedMetrics();
    const mmlu = publishedFor("routellm-mmlu", rows).find((p) => p.metric === "best CPT(50%)")!;
    const gsm = publishedFor("routellm-gsm8k", rows).find((p) => p.metric === "best CPT(50%)")!;
    assert.equal((mmlu.value * 100).toFixed(1), "35.5");
    assert.equal((gsm.value * 100).toFixed(1), "33.6");
  });
});

describe("routerlab evaluate on the multi-model LLMRouter data (λ sweep, AIQ vs Zero router)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-eval-multi-"));
  it("task-mean scores beat the Zero router, and metrics.json matches the metric functions", async () => {
    const scoresFile = path.join(dir, "llm.json");
    await run("baseline-scores", "--data", "llmrouter-test", "--out", scoresFile);
    const s = loadScoresFile(scoresFile);
    // 500 test rows minus those whose question is also in train.
    assert.ok(s.queryIds.length > 300 && s.queryIds.length < 500, String(s.queryIds.length));
    const out = path.join(dir, "eval");
    await run("evaluate", "--scores", scoresFile, "--data", "llmrouter-test", "--out", out);
    const m = z
      .object({
        routers: z.array(
          z.object({
            aiq: z.number(),
            zeroAiq: z.number(),
            interval: z.object({ cMin: z.number(), cMax: z.number() }),
            frontier: z.array(z.object({ cost: z.number(), quality: z.number() })),
          }),
        ),
      })
      .parse(JSON.parse(readFileSync(path.join(out, "metrics.json"), "utf8"))).routers[0]!;
    assert.ok(m.aiq > m.zeroAiq, `AIQ ${m.aiq} vs Zero ${m.zeroAiq}`);
    // The frontier's hull gives the same AIQ as the full sweep (dominated points never raise the hull).
    close(aiq(m.frontier, m.interval), m.aiq);
    for (let i = 1; i < m.frontier.length; i++)
      assert.ok(m.frontier[i]!.quality > m.frontier[i - 1]!.quality);
    assert.ok(readFileSync(path.join(out, "report.html"), "utf8").includes("willingness-to-pay sweep"));
  });
});
