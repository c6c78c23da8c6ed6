import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadDcrouter, loadQueryData, loadRoutingJsonl } from "../../lib/data/llmrouter";
import type { LoadReport, QuarantineRow } from "../../lib/data/load";
import { loadMtBench } from "../../lib/data/routellm";
import { loadSimpleQa } from "../../lib/data/simpleqa";
import { RouterlabError } from "../../lib/util/errors";
import { tempDir } from "./helpers";

const SQ_HEADER = "metadata,problem,answer\n";
const SQ_ROW = `"{'topic': 'Art', 'answer_type': 'Date', 'urls': ['https://x.org']}",When?,1990\n`;

function quarantined(report: LoadReport): QuarantineRow[] {
  assert.ok(report.quarantineFile, "a quarantine file is written");
  return readFileSync(report.quarantineFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as QuarantineRow);
}

function reconciles(r: LoadReport): void {
  assert.equal(r.rowsRead, r.rowsAccepted + r.rowsQuarantined);
}

test("empty file: error names the file", () => {
  const t = tempDir();
  try {
    const f = t.file("empty.csv", "");
    assert.throws(
      () => loadSimpleQa(f, { quarantineDir: t.dir }),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.match(e.message, /empty\.csv: file is empty/);
        return true;
      },
    );
    const w = t.file("blank.jsonl", "\n  \n");
    assert.throws(() => loadRoutingJsonl(w), /blank\.jsonl: file has only whitespace/);
  } finally {
    t.cleanup();
  }
});

test("wrong encoding: invalid UTF-8 is an error naming file and line; UTF-16 with BOM is decoded", () => {
  const t = tempDir();
  try {
    const latin1 = Buffer.concat([
      Buffer.from(SQ_HEADER + SQ_ROW),
      Buffer.from(`"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}",Caf\xe9?,x\n`, "latin1"),
    ]);
    const f = t.file("latin1.csv", latin1);
    assert.throws(
      () => loadSimpleQa(f),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.equal(e.location?.line, 3);
        assert.match(e.message, /latin1\.csv:3: not valid UTF-8/);
        return true;
      },
    );
    const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SQ_HEADER + SQ_ROW, "utf16le")]);
    const { rows, report } = loadSimpleQa(t.file("u16.csv", u16), { quarantineDir: t.dir });
    assert.equal(rows.length, 1);
    assert.ok(report.warnings.some((w) => /UTF-16LE/.test(w)));
  } finally {
    t.cleanup();
  }
});

test("missing column: error names file, line 1 and the column", () => {
  const t = tempDir();
  try {
    const f = t.file("nocol.csv", "metadata,question\nx,y\n");
    assert.throws(
      () => loadSimpleQa(f),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.deepEqual(e.location, { file: f, line: 1, field: "problem" });
        return true;
      },
    );
  } finally {
    t.cleanup();
  }
});

test("bad CSV rows are quarantined with file, line, field and reason; counts reconcile", () => {
  const t = tempDir();
  try {
    const text =
      SQ_HEADER +
      SQ_ROW + // line 2 ok
      `"{'topic': 'Art', 'answer_type': 'Date', 'urls': [}",Broken?,x\n` + // line 3 bad literal
      `"{'topic': 'Art'}",NoType?,x\n` + // line 4 missing answer_type
      `"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}","multi\nline",x\n` + // lines 5-6 ok
      `only,two\n` + // line 7 wrong cell count
      SQ_ROW + // line 8 ok
      `"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}","never closed,x\n`; // line 9 unterminated
    const f = t.file("bad.csv", text);
    const { rows, report } = loadSimpleQa(f, { quarantineDir: t.dir });
    assert.equal(rows.length, 3);
    assert.deepEqual([report.rowsRead, report.rowsAccepted, report.rowsQuarantined], [7, 3, 4]);
    reconciles(report);
    const q = quarantined(report);
    assert.deepEqual(
      q.map((r) => [r.line, r.field]),
      [
        [7, "(record)"],
        [9, "(record)"],
        [3, "metadata"],
        [4, "answer_type"],
      ],
    );
    assert.ok(q.every((r) => r.file === f && r.reason.length > 0 && r.raw.length > 0));
    assert.equal(path.dirname(report.quarantineFile!), t.dir);
  } finally {
    t.cleanup();
  }
});

test("huge lines are quarantined, not loaded", () => {
  const t = tempDir();
  try {
    const big = JSON.stringify({ query: "x".repeat(5000), model_name: "m", performance: 1 });
    const f = t.file("huge.jsonl", `{"query":"a","model_name":"m","performance":1}\n${big}\n`);
    const { rows, report } = loadRoutingJsonl(f, { quarantineDir: t.dir, maxRowChars: 1000 });
    assert.equal(rows.length, 1);
    const q = quarantined(report);
    assert.equal(q[0]!.line, 2);
    assert.match(q[0]!.reason, /over the limit 1000/);
    assert.ok(q[0]!.raw.length <= 2001, "raw is cut");
    reconciles(report);
  } finally {
    t.cleanup();
  }
});

test("NaN / Infinity values are quarantined naming the field", () => {
  const t = tempDir();
  try {
    const f = t.file(
      "nan.jsonl",
      [
        `{"query":"a","model_name":"m","performance":NaN}`,
        `{"query":"b","model_name":"m","performance":0.5,"response_time":Infinity}`,
        `{"query":"c","model_name":"m","performance":0.5}`,
        `{"query":"NaN","model_name":"m","performance":0.25}`,
      ].join("\n"),
    );
    const { rows, report } = loadRoutingJsonl(f, { quarantineDir: t.dir });
    assert.deepEqual(
      rows.map((r) => r.query),
      ["c", "NaN"],
    );
    const q = quarantined(report);
    assert.deepEqual(
      q.map((r) => [r.line, r.field]),
      [
        [1, "performance"],
        [2, "response_time"],
      ],
    );
    reconciles(report);
    // a Python-literal score of nan in dcrouter scores
    const d = t.file(
      "dc.json",
      JSON.stringify([
        { question: "q1", scores: "{'m': nan}" },
        { question: "q2", scores: "{'m': 0.5}" },
      ]),
    );
    const dc = loadDcrouter(d, "x", { quarantineDir: t.dir });
    assert.equal(dc.rows.length, 1);
    assert.equal(quarantined(dc.report)[0]!.field, "scores");
    assert.equal(quarantined(dc.report)[0]!.path, "$[0]");
  } finally {
    t.cleanup();
  }
});

test("duplicate ids are quarantined (MT-Bench question_id, dcrouter question, routing query+model)", () => {
  const t = tempDir();
  try {
    const dir = path.join(t.dir, "mt");
    mkdirSync(dir);
    const q = (id: number, text: string) =>
      JSON.stringify({ question_id: id, category: "writing", turns: [text, "more"] });
    writeFileSync(path.join(dir, "question.jsonl"), [q(1, "a"), q(2, "b"), q(1, "c")].join("\n") + "\n");
    writeFileSync(
      path.join(dir, "judgements.jsonl"),
      JSON.stringify({ question_id: 1, model: "m", judge: ["gpt-4", "single-v1"], score: 8, turn: 1 }) + "\n",
    );
    writeFileSync(path.join(dir, "contaminated_prompts.jsonl"), JSON.stringify({ eval_prompt: "b" }) + "\n");
    const mt = loadMtBench(dir, { quarantineDir: t.dir });
    assert.deepEqual(
      mt.questions.map((x) => x.questionId),
      [1],
    );
    assert.equal(mt.contaminatedRemoved, 1);
    const qq = quarantined(mt.reports[1]!);
    assert.deepEqual([qq[0]!.line, qq[0]!.field], [3, "question_id"]);
    const d = t.file(
      "dup.json",
      JSON.stringify(
        [
          { question: "q", scores: { m: 1 } },
          { question: "q", scores: { m: 0 } },
        ],
        null,
        1,
      ),
    );
    const dc = loadDcrouter(d, "x", { quarantineDir: t.dir });
    assert.equal(dc.rows.length, 1);
    const dq = quarantined(dc.report)[0]!;
    assert.equal(dq.line, 8, "the JSON-array element's line is found");
    assert.match(dq.reason, /duplicate of \$\[0\]/);
    const r = t.file(
      "dup.jsonl",
      `{"query":"a","model_name":"m","performance":1}\n{"query":"a","model_name":"m","performance":0}\n`,
    );
    assert.match(
      quarantined(loadRoutingJsonl(r, { quarantineDir: t.dir }).report)[0]!.reason,
      /first on line 1/,
    );
  } finally {
    t.cleanup();
  }
});

test("truncated JSON: a .json document is an error with its line; a truncated JSONL line is quarantined", () => {
  const t = tempDir();
  try {
    const full = JSON.stringify(
      [
        { question: "q1", scores: { m: 1 } },
        { question: "q2", scores: { m: 0 } },
      ],
      null,
      2,
    );
    const f = t.file("trunc.json", full.slice(0, full.length - 20));
    assert.throws(
      () => loadDcrouter(f, "x"),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.match(e.message, /trunc\.json:\d+: invalid JSON/);
        assert.ok((e.location?.line ?? 0) > 1);
        return true;
      },
    );
    const j = t.file(
      "trunc.jsonl",
      `{"task_name":"t","query":"q","ground_truth":"a","metric":"em"}\n{"task_name":"t","query":"q2","grou`,
    );
    const { rows, report } = loadQueryData(j, { quarantineDir: t.dir });
    assert.equal(rows.length, 1);
    assert.equal(quarantined(report)[0]!.line, 2);
    assert.match(quarantined(report)[0]!.reason, /invalid JSON/);
    reconciles(report);
  } finally {
    t.cleanup();
  }
});
