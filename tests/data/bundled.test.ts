import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bundledPaths,
  gsm8kRouting,
  llmrouterRouting,
  mmluRouting,
  mtBenchRouting,
} from "../../lib/data/bundled";
import { routingFrame, fromFrame, perModelSummary } from "../../lib/data/frame";
import { loadSimpleQa } from "../../lib/data/simpleqa";
import { leakageReport } from "../../lib/data/split";
import { ROUTELLM_STRONG, ROUTELLM_WEAK } from "../../lib/data/routellm";
import { tempDir } from "./helpers";

// The real bundled files, exact counts (data/PROVENANCE.md). Quarantine goes to a temp folder.
const t = tempDir();
const opts = { quarantineDir: t.dir };
test.after(() => t.cleanup());

function reconciled(reports: { rowsRead: number; rowsAccepted: number; rowsQuarantined: number }[]): void {
  for (const r of reports) assert.equal(r.rowsRead, r.rowsAccepted + r.rowsQuarantined);
}

test("MMLU: 57 subjects, 14,037 prompts after removing the 5 contaminated ones", () => {
  const { data, reports } = mmluRouting(opts);
  assert.equal(data.queryIds.length, 14037);
  assert.equal(new Set(data.queryIds).size, 14037);
  assert.deepEqual(data.models, [ROUTELLM_WEAK, ROUTELLM_STRONG]);
  assert.equal(new Set(data.groups).size, 57);
  assert.equal(reports.length, 58);
  const read = reports.slice(1).reduce((s, r) => s + r.rowsAccepted, 0);
  assert.equal(read, 14042);
  assert.equal(
    reports.reduce((s, r) => s + r.rowsQuarantined, 0),
    0,
  );
  reconciled(reports);
  // strong model beats weak on MMLU
  const [weak, strong] = perModelSummary(data);
  assert.ok(strong!.meanQuality > weak!.meanQuality + 0.1);
  assert.ok(strong!.meanCost > weak!.meanCost * 10);
});

test("GSM8K: 1,307 after decontamination; costs use the responses' lengths", () => {
  const { data, reports } = gsm8kRouting(opts);
  assert.equal(data.queryIds.length, 1307);
  assert.equal(reports[1]!.rowsRead, 1319);
  reconciled(reports);
  assert.ok(data.cost.every((c) => Number.isFinite(c) && c > 0));
});

test("MT-Bench: 72 questions after decontamination, judge score scale 1-10", () => {
  const { data } = mtBenchRouting(opts);
  assert.equal(data.queryIds.length, 72);
  assert.deepEqual(data.qualityScale, { min: 1, max: 10 });
  assert.ok(data.quality.every((q) => q >= 1 && q <= 10));
  assert.equal(new Set(data.groups).size, 8);
});

test("SimpleQA: 4,326 rows with parsed metadata", () => {
  const { rows, report } = loadSimpleQa(bundledPaths().simpleqa, opts);
  assert.equal(rows.length, 4326);
  assert.equal(report.rowsQuarantined, 0);
  assert.equal(rows[0]!.topic, "Science and technology");
  assert.equal(rows[0]!.answerType, "Person");
  assert.equal(rows[0]!.urls.length, 4);
  assert.equal(rows[0]!.problem, "Who received the IEEE Frank Rosenblatt Award in 2010?");
  assert.equal(new Set(rows.map((r) => r.topic)).size, 10);
});

test("LLMRouter dcrouter: 5,608 train / 500 test, nine models, tasks joined, 119 leaked test questions", () => {
  const train = llmrouterRouting("train", opts);
  const testSet = llmrouterRouting("test", opts);
  assert.equal(train.data.queryIds.length, 5608);
  assert.equal(testSet.data.queryIds.length, 500);
  assert.equal(train.data.models.length, 9);
  assert.deepEqual([...testSet.data.models].sort(), [...train.data.models].sort());
  assert.ok(
    train.data.groups!.every((g) => g !== "unknown"),
    "every dcrouter question joins to query data",
  );
  assert.ok(train.data.cost.every((c) => Number.isFinite(c) && c > 0));
  const leak = leakageReport(train.data, testSet.data);
  assert.equal(leak.overlappingQueries, 119);
  assert.equal(leak.leakedTestRows, 119);
});

test("polars long frame round-trips RoutingData", () => {
  const { data } = mtBenchRouting(opts);
  const df = routingFrame(data);
  assert.equal(df.height, 72 * 2);
  const back = fromFrame(df, { name: data.name, qualityScale: data.qualityScale });
  assert.deepEqual(back.queryIds, data.queryIds);
  assert.deepEqual(back.models, data.models);
  assert.deepEqual(Array.from(back.quality), Array.from(data.quality));
  assert.deepEqual(Array.from(back.cost), Array.from(data.cost));
  assert.deepEqual(back.groups, data.groups);
  assert.equal(back.latency, undefined);
});
