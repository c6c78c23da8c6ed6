/**
 * The grader (strict parse, retry at temperature 0, unparsed count, reference parse) and the blind pairwise judge
 * (both orders, measured position bias, cancellation) against the real sim server through the real client.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { splitSimpleQa } from "../../lib/data/simpleqa-split";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig } from "../../lib/llm/config";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import type { SimModel } from "../../lib/llm/sim/types";
import { OracleConfigSchema } from "../../lib/oracle/config";
import { gradeAnswer, GRADER_TEMPLATE, renderGraderPrompt } from "../../lib/oracle/grader";
import { firstShownFor, parsePairwiseVerdict, parseQualityScore } from "../../lib/oracle/judge";
import type { GradedRow, JudgedRow } from "../../lib/oracle/outputs";
import { runOracle } from "../../lib/oracle/run";
import { projectRoot } from "../../lib/util/paths";
import type { OracleModels, OracleResult } from "../../lib/oracle/run";
import { SIM_MODELS, simpleqaRows, removeTmpDirs, startSim, tmpDir, writeModelsFile } from "./support";

const MODELS: OracleModels = {
  weak: "sim-weak",
  strong: "sim-strong",
  grader: "sim-grader",
  judge: "sim-judge",
};
const servers: RunningSimServer[] = [];

function withModel(id: string, patch: Partial<SimModel>): SimModel[] {
  return SIM_MODELS.map((m) => (m.id === id ? ({ ...m, ...patch } as SimModel) : m));
}

async function oracleAgainst(
  sim: SimModel[],
  data: unknown,
  models: OracleModels = MODELS,
  name = "run",
): Promise<OracleResult> {
  const server = await startSim({ models: sim });
  servers.push(server);
  const dir = tmpDir(name);
  const client = createLlmClient(loadModelsConfig(writeModelsFile(dir, server.url)), {
    cacheDir: path.join(dir, "cache"),
  });
  try {
    const config = OracleConfigSchema.parse({ data, concurrency: 16 });
    return await runOracle(config, { client, models, outDir: path.join(dir, "out"), log: () => undefined });
  } finally {
    await client.close();
  }
}

describe("oracle grader", () => {
  after(async () => {
    for (const s of servers.splice(0)) await s.close();
    removeTmpDirs();
  });

  it("fills the simple-evals template once per placeholder, keeping braces in the values literal", () => {
    assert.ok(
      GRADER_TEMPLATE.startsWith("Your job is to look at a question, a gold target, and a predicted answer"),
    );
    assert.ok(GRADER_TEMPLATE.endsWith('Just return the letters "A", "B", or "C", with no text around it.'));
    const p = renderGraderPrompt({ question: "Q {target}?", target: "T", predicted: "P {question}" });
    assert.ok(p.includes("Question: Q {target}?\nGold target: T\nPredicted answer: P {question}\n```"));
    assert.equal(p.includes("{predicted_answer}"), false);
  });

  it("retries noisy grader replies at temperature 0 and ends with the clean grades; the reference parse is kept", async () => {
    const data = { source: "simpleqa", limit: 60, sampleSeed: 5 };
    const clean = await oracleAgainst(withModel("sim-grader", { noisyRate: 0 }), data, MODELS, "clean");
    const noisy = await oracleAgainst(withModel("sim-grader", { noisyRate: 0.5 }), data, MODELS, "noisy");
    const grades = (r: OracleResult) =>
      (r.rows as GradedRow[]).flatMap((x) => [x.weak.grade, x.strong.grade]);
    assert.deepEqual(grades(noisy), grades(clean));
    assert.equal(clean.summary.graderRetries, 0);
    assert.ok(noisy.summary.graderRetries > 20, `retries ${noisy.summary.graderRetries}`);
    assert.equal(noisy.summary.unparsed, 0);
    const retried = (noisy.rows as GradedRow[]).flatMap((x) => [x.weak, x.strong]).filter((a) => a.retried);
    for (const a of retried) assert.equal(a.graderReplies.length, 2);
    // A noisy first reply such as "CORRECT" or "NOT_ATTEMPTED" reference-parses to the wrong letter: flagged.
    assert.ok(noisy.summary.parserDisagreements > 0);
    assert.equal(
      noisy.summary.parserDisagreements,
      retried.filter((a) => a.referenceGrade !== a.grade).length,
    );
  });

  it("counts a reply that never parses as NOT_ATTEMPTED and reports it as unparsed", async () => {
    // The "grader" here is an answer model: its replies are answers, never a bare letter.
    const r = await oracleAgainst(
      [...SIM_MODELS],
      { source: "simpleqa", limit: 10 },
      { ...MODELS, grader: "sim-weak" },
      "unparsed",
    );
    assert.equal(r.summary.unparsed, 20);
    for (const row of r.rows as GradedRow[]) {
      for (const a of [row.weak, row.strong]) {
        assert.equal(a.grade, "C");
        assert.equal(a.unparsed, true);
        assert.equal(a.retried, true);
      }
    }
    assert.equal(r.summary.matrix!["C/C"], 10);
  });

  it("gradeAnswer grades a known question against the sim grader", async () => {
    const server = await startSim();
    servers.push(server);
    const dir = tmpDir("grade");
    const client = createLlmClient(loadModelsConfig(writeModelsFile(dir, server.url)), { cacheDir: null });
    try {
      const row = splitSimpleQa(simpleqaRows(), { seed: 42, testFraction: 0.2 }).train[0]!;
      const q = { question: row.problem, target: row.answer };
      assert.equal((await gradeAnswer(client, "sim-grader", { ...q, predicted: row.answer })).grade, "A");
      assert.equal(
        (await gradeAnswer(client, "sim-grader", { ...q, predicted: "I don't know." })).grade,
        "C",
      );
    } finally {
      await client.close();
    }
  });
});

describe("oracle pairwise judge", () => {
  after(async () => {
    for (const s of servers.splice(0)) await s.close();
    removeTmpDirs();
  });

  it("parses verdicts and quality scores strictly", () => {
    assert.equal(parsePairwiseVerdict(" First. "), "first");
    assert.equal(parsePairwiseVerdict('"second"'), "second");
    assert.equal(parsePairwiseVerdict("tie"), "tie");
    assert.equal(parsePairwiseVerdict("Assistant 1 is better"), null);
    assert.equal(parseQualityScore("8"), 0.8);
    assert.equal(parseQualityScore("10/10"), 1);
    assert.equal(parseQualityScore("11"), null);
    assert.equal(parseQualityScore("about 7"), null);
  });

  it("randomises the presentation order by seed, about half each way", () => {
    const ids = Array.from({ length: 400 }, (_, i) => `row-${i}`);
    const weakFirst = ids.filter((id) => firstShownFor(3, id) === "weak").length;
    assert.ok(weakFirst > 160 && weakFirst < 240, `${weakFirst}/400`);
    assert.deepEqual(
      ids.map((id) => firstShownFor(3, id)),
      ids.map((id) => firstShownFor(3, id)),
    );
    assert.notDeepEqual(
      ids.map((id) => firstShownFor(3, id)),
      ids.map((id) => firstShownFor(4, id)),
    );
  });

  it("judges trace-derived rows (Jaeger and OTLP exports) with quality scores in [0, 1]", async () => {
    for (const f of ["jaeger_export.json", "otlp_export.json"]) {
      const file = path.join(projectRoot(), "tests", "fixtures", "traces", f);
      const r = await oracleAgainst([...SIM_MODELS], { source: "traces", file }, MODELS, "traces");
      const rows = r.rows as JudgedRow[];
      assert.equal(rows.length, 2);
      assert.equal(r.summary.source, "traces");
      for (const row of rows) {
        assert.equal(row.kind, "judged");
        assert.match(row.id, /^[0-9a-f]+\/[0-9a-f]+$/);
        assert.match(row.query, /capital of Australia|\w+/);
        for (const a of [row.weak, row.strong])
          assert.ok(a.quality !== null && a.quality >= 0 && a.quality <= 1);
      }
      assert.equal(r.summary.positionBias!.judgements, 4);
    }
  });

  it("judges every pair in both orders, measures position bias and cancels it", async () => {
    const train = splitSimpleQa(simpleqaRows(), { seed: 42, testFraction: 0.2 }).train.slice(0, 80);
    const dir = tmpDir("judge-rows");
    const file = path.join(dir, "rows.jsonl");
    writeFileSync(
      file,
      train.map((r, i) => JSON.stringify({ id: `trace-${i}`, query: r.problem })).join("\n") + "\n",
    );
    const data = { source: "jsonl", file };
    const fair = await oracleAgainst(withModel("sim-judge", { positionBias: 0 }), data, MODELS, "fair");
    const biased = await oracleAgainst(withModel("sim-judge", { positionBias: 0.4 }), data, MODELS, "biased");
    const fairRows = fair.rows as JudgedRow[];
    const biasedRows = biased.rows as JudgedRow[];

    // An unbiased judge is consistent across orders, so its raw "first" and "second" counts balance exactly.
    assert.equal(fair.summary.positionBias!.inconsistentRate, 0);
    assert.equal(fair.summary.positionBias!.bias, 0);
    assert.ok(
      fairRows.some((r) => r.pairwise.winner === "strong") &&
        fairRows.some((r) => r.pairwise.winner === "weak"),
    );
    const firsts = new Set(fairRows.map((r) => r.pairwise.firstShown));
    assert.deepEqual([...firsts].sort(), ["strong", "weak"]);

    // The biased judge prefers the first position; measured, and never allowed to flip a verdict.
    const b = biased.summary.positionBias!;
    assert.ok(b.bias > 0.15, `measured bias ${b.bias}`);
    assert.ok(b.inconsistentRate > 0.1, `inconsistent ${b.inconsistentRate}`);
    assert.equal(b.judgements, 160);
    let flipped = 0;
    biasedRows.forEach((r, i) => {
      const truth = fairRows[i]!.pairwise.winner;
      if (r.pairwise.winner !== "tie" && r.pairwise.winner !== truth) flipped++;
      if (!r.pairwise.consistent) assert.equal(r.pairwise.winner, "tie");
    });
    assert.equal(flipped, 0);
    // A single-order judge would have been wrong on some rows.
    const singleOrderWrong = biasedRows.filter(
      (r, i) => r.pairwise.winners[0] !== fairRows[i]!.pairwise.winner,
    ).length;
    assert.ok(singleOrderWrong > 0);

    // Labels from the winner table; quality scores in [0, 1] for both answers.
    for (const r of biasedRows) {
      assert.equal(
        r.label,
        { weak: "Standard_Query", strong: "Complex_Query", tie: "Ambiguous_Query" }[r.pairwise.winner],
      );
      for (const a of [r.weak, r.strong]) assert.ok(a.quality !== null && a.quality >= 0 && a.quality <= 1);
    }
    assert.ok(fairRows.some((r) => r.weak.quality! > r.strong.quality!));
  });
});
