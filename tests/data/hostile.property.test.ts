import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { DataFormat } from "../../lib/data/detect";
import { inspectFile } from "../../lib/data/detect";
import { MAX_NESTING_DEPTH } from "../../lib/data/load";
import { RouterlabError } from "../../lib/util/errors";
import { fixture, tempDir } from "./helpers";

/**
 * Hostile inputs for every single-file loader, through `inspectFile` (what `routerlab data inspect` runs, preview
 * included): rows that are fine, repeated, nested far deeper than the limit, longer than the row limit, full of
 * extreme numbers, or broken. Whatever the mix, the loader must not crash or hang, and every generated row must be
 * accounted for: read = accepted + quarantined = rows written. Invalid UTF-8 is a file-level RouterlabError.
 */

const MAX_ROW = 4096;
const t = tempDir();
after(() => t.cleanup());

type Kind = "ok" | "dup" | "deep" | "huge" | "extreme" | "broken";
interface Row {
  kind: Kind;
  depth: number;
  extreme: number;
}

const EXTREMES = [
  "1e308",
  "-1e308",
  "1e999",
  "-0",
  "5e-324",
  "123456789012345678901234567890",
  "NaN",
  "-Infinity",
];
const extremeJson = (i: number) => EXTREMES[i % EXTREMES.length]!;
const nestJson = (d: number, leaf = "1") => "[".repeat(d) + leaf + "]".repeat(d);
const big = () => "x".repeat(MAX_ROW + 100);

const rowArb: fc.Arbitrary<Row> = fc.record({
  kind: fc.constantFrom<Kind>("ok", "dup", "deep", "huge", "extreme", "broken"),
  // from just over the limit to far beyond what a recursive parser survives
  depth: fc.oneof(
    fc.integer({ min: MAX_NESTING_DEPTH + 1, max: 400 }),
    fc.integer({ min: 20_000, max: 60_000 }),
  ),
  extreme: fc.nat(),
});
const rowsArb = fc.array(rowArb, { minLength: 1, maxLength: 12 });

/** Per format: how a row of each kind is written, and how rows are put together into a file. */
interface FormatCase {
  format: DataFormat;
  file: string;
  row: (r: Row, i: number) => string;
  join: (rows: string[]) => string;
}

const decisionLine = readFileSync(fixture("traces", "decisions.jsonl"), "utf8").split("\n")[0]!;
const decision = (i: number) => decisionLine.replace(/"event_id": "[^"]*"/, `"event_id": "e-${i}"`);
const hex16 = (i: number) => i.toString(16).padStart(16, "0");

function otlpSpan(i: number, r: Row, spanId = hex16(i + 1)): string {
  const attrs = [
    `{"key":"gen_ai.request.model","value":{"stringValue":"gpt"}}`,
    `{"key":"gen_ai.prompt","value":{"stringValue":"${r.kind === "huge" ? big() : `q${i}`}"}}`,
  ];
  if (r.kind === "deep")
    attrs.push(
      `{"key":"deep","value":${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(r.depth)}{"stringValue":"x"}${"}]}}".repeat(r.depth)}}`,
    );
  const start = r.kind === "extreme" ? extremeJson(r.extreme) : `"1000"`;
  return `{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"${spanId}","name":"llm","startTimeUnixNano":${start},"endTimeUnixNano":"2000","attributes":[${attrs.join(",")}]}`;
}
const otlpDoc = (spans: string) => `{"resourceSpans":[{"scopeSpans":[{"spans":[${spans}]}]}]}`;

function jaegerSpan(i: number, r: Row): string {
  const id = r.kind === "dup" ? hex16(1) : hex16(i + 1);
  const tags = [
    `{"key":"gen_ai.request.model","type":"string","value":"gpt"}`,
    `{"key":"gen_ai.prompt","type":"string","value":"${r.kind === "huge" ? big() : `q${i}`}"}`,
  ];
  if (r.kind === "deep") tags.push(`{"key":"deep","value":${nestJson(r.depth)}}`);
  const duration = r.kind === "extreme" ? extremeJson(r.extreme) : "12000";
  if (r.kind === "broken") return `{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"${id}"}`;
  return `{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"${id}","operationName":"llm","startTime":1763633702000000,"duration":${duration},"tags":[${tags.join(",")}]}`;
}

const lines = (rows: string[]) => rows.join("\n") + "\n";

const CASES: FormatCase[] = [
  {
    format: "llmrouter-routing-jsonl",
    file: "routing.jsonl",
    row: (r, i) =>
      ({
        ok: `{"query":"q${i}","model_name":"m","performance":0.5,"cost":0.001,"input_tokens":10}`,
        dup: `{"query":"q-dup","model_name":"m","performance":0.5}`,
        deep: `{"query":"q${i}","model_name":"m","x":${nestJson(r.depth)}}`,
        huge: `{"query":"${big()}","model_name":"m"}`,
        extreme: `{"query":"q${i}","model_name":"m","performance":${extremeJson(r.extreme)},"cost":${extremeJson(r.extreme + 1)}}`,
        broken: `{"query":"q${i}","model_`,
      })[r.kind],
    join: lines,
  },
  {
    format: "llmrouter-query-jsonl",
    file: "query.jsonl",
    row: (r, i) =>
      ({
        ok: `{"task_name":"t","query":"q${i}","ground_truth":"a","metric":"em"}`,
        dup: `{"task_name":"t","query":"q-dup","ground_truth":"a","metric":"em"}`,
        deep: `{"task_name":"t","query":"q${i}","ground_truth":"a","metric":"em","choices":${nestJson(r.depth)}}`,
        huge: `{"task_name":"t","query":"${big()}","ground_truth":"a","metric":"em"}`,
        extreme: `{"task_name":"t","query":"q${i}","ground_truth":${extremeJson(r.extreme)},"metric":"em","task_id":${extremeJson(r.extreme + 1)}}`,
        broken: `{"task_name":`,
      })[r.kind],
    join: lines,
  },
  {
    format: "routeiq-decisions-jsonl",
    file: "decisions.jsonl",
    row: (r, i) =>
      ({
        ok: decision(i),
        dup: decision(-1),
        deep: decision(i).replace(
          `"request_metadata": {}`,
          `"request_metadata": {"x": ${nestJson(r.depth)}}`,
        ),
        huge: decision(i).replace(`"request_metadata": {}`, `"request_metadata": {"x": "${big()}"}`),
        extreme: decision(i).replace(/"query_length": \d+/, `"query_length": ${extremeJson(r.extreme)}`),
        broken: decision(i).slice(0, 50),
      })[r.kind],
    join: lines,
  },
  {
    format: "llmrouter-dcrouter-json",
    file: "dcrouter.json",
    row: (r, i) =>
      ({
        ok: `{"question":"q${i}","scores":"{'m': 0.5}","cluster_id":1}`,
        dup: `{"question":"q-dup","scores":"{'m': 0.5}","cluster_id":1}`,
        // alternately a deep JSON object and a deep Python literal in the scores string
        deep:
          r.depth % 2 === 0
            ? `{"question":"q${i}","scores":${'{"a":'.repeat(r.depth)}1${"}".repeat(r.depth)}}`
            : `{"question":"q${i}","scores":"{'m': ${nestJson(r.depth, "0.5")}}"}`,
        huge: `{"question":"${big()}","scores":"{'m': 0.5}"}`,
        extreme: `{"question":"q${i}","scores":"{'m': ${extremeJson(r.extreme).replace("NaN", "nan")}}","cluster_id":${extremeJson(r.extreme + 1)}}`,
        broken: `{"question":1}`,
      })[r.kind],
    join: (rows) => "[\n" + rows.join(",\n") + "\n]\n",
  },
  {
    format: "simpleqa-csv",
    file: "simpleqa.csv",
    row: (r, i) =>
      ({
        ok: `"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}",When ${i}?,1990`,
        dup: `"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}",When?,1990`,
        deep: `"{'topic': 'Art', 'answer_type': 'Date', 'urls': ${nestJson(r.depth, "'u'")}}",When ${i}?,1990`,
        huge: `"{'topic': 'Art', 'answer_type': 'Date', 'urls': []}",${big()},1990`,
        extreme: `"{'topic': ${extremeJson(r.extreme)}, 'answer_type': 'Date', 'urls': [1e999]}",When ${i}?,1990`,
        broken: `only,two`,
      })[r.kind],
    join: (rows) => "metadata,problem,answer\n" + lines(rows),
  },
  {
    format: "otlp-json",
    file: "otlp.jsonl",
    row: (r, i) => {
      if (r.kind === "broken") return otlpDoc(otlpSpan(i, r)).slice(0, 60);
      return otlpDoc(otlpSpan(i, r, r.kind === "dup" ? hex16(999) : hex16(i + 1)));
    },
    // JSON Lines needs two documents or more to be told from one document: a valid first line is added
    join: (rows) => lines([otlpDoc(otlpSpan(10_000, { kind: "ok", depth: 0, extreme: 0 })), ...rows]),
  },
  {
    format: "otlp-json",
    file: "otlp-one.json",
    row: (r, i) =>
      r.kind === "broken"
        ? `{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"${hex16(i + 1)}"}`
        : otlpSpan(i, r, r.kind === "dup" ? hex16(999) : hex16(i + 1)),
    join: (rows) => otlpDoc(rows.join(",\n")) + "\n",
  },
  {
    format: "jaeger-json",
    file: "jaeger.json",
    row: (r, i) => jaegerSpan(i, r),
    join: (rows) =>
      `{"data":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[${rows.join(",\n")}]}]}\n`,
  },
];

/** Rows the loader must count: the OTLP JSON Lines case adds its own first document. */
const expectedRows = (c: FormatCase, rows: Row[]) => rows.length + (c.file === "otlp.jsonl" ? 1 : 0);

describe("hostile inputs: no crash, no hang, every row accounted for", () => {
  for (const c of CASES) {
    it(`${c.format} (${c.file})`, () => {
      fc.assert(
        fc.property(rowsArb, (rows) => {
          const file = path.join(t.dir, c.file);
          writeFileSync(file, c.join(rows.map((r, i) => c.row(r, i))));
          const started = Date.now();
          const r = inspectFile(file, c.format, {
            quarantineDir: path.join(t.dir, "q"),
            maxRowChars: MAX_ROW,
          });
          assert.ok(Date.now() - started < 20_000, "no hang");
          const rep = r.reports[0]!;
          assert.equal(rep.rowsRead, rep.rowsAccepted + rep.rowsQuarantined);
          assert.equal(rep.rowsRead, expectedRows(c, rows), JSON.stringify(rep));
          assert.equal(r.rows, rep.rowsAccepted);
          const bad = rows.filter(
            (x) => x.kind === "deep" || x.kind === "huge" || x.kind === "broken",
          ).length;
          assert.ok(
            rep.rowsQuarantined >= bad,
            `${bad} deep/huge/broken rows quarantined (${rep.rowsQuarantined})`,
          );
          JSON.stringify(r.preview);
        }),
        { numRuns: 25, seed: 15 },
      );
    });
  }

  it("invalid UTF-8 anywhere is a file-level RouterlabError naming the line", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.constantFrom(0xff, 0xc3, 0xed, 0x80), (at, byte) => {
        const rows = Array.from({ length: 6 }, (_, i) => `{"query":"q${i}","model_name":"m"}`);
        const buf = Buffer.concat(
          rows.map((l, i) =>
            Buffer.concat([
              Buffer.from(l.slice(0, 5)),
              Buffer.from(i === at ? [byte] : []),
              Buffer.from(l.slice(5) + "\n"),
            ]),
          ),
        );
        const file = path.join(t.dir, "bad-utf8.jsonl");
        writeFileSync(file, buf);
        assert.throws(
          () => inspectFile(file, "llmrouter-routing-jsonl", { quarantineDir: path.join(t.dir, "q") }),
          (e: unknown) => e instanceof RouterlabError && e.location?.line === at + 1,
        );
      }),
      { numRuns: 20, seed: 15 },
    );
  });

  it("the default 8 MiB row limit holds for JSON array elements and trace spans", () => {
    const huge = "y".repeat(8 * 1024 * 1024 + 10);
    const dc = path.join(t.dir, "dc-huge.json");
    writeFileSync(
      dc,
      `[{"question":"a","scores":"{'m': 0.5}"},\n{"question":"${huge}","scores":"{'m': 0.5}"}]`,
    );
    const r = inspectFile(dc, "llmrouter-dcrouter-json", { quarantineDir: path.join(t.dir, "q") });
    assert.deepEqual([r.reports[0]!.rowsAccepted, r.reports[0]!.rowsQuarantined], [1, 1]);
    const q = readFileSync(r.reports[0]!.quarantineFile!, "utf8");
    const row = JSON.parse(q.trim()) as { line: number; path: string; field: string; reason: string };
    assert.deepEqual([row.line, row.path, row.field], [2, "$[1]", "(row)"]);
    assert.match(row.reason, /^element has \d+ characters, over the limit 8388608$/);
    const ot = path.join(t.dir, "otlp-huge.json");
    writeFileSync(
      ot,
      otlpDoc(
        otlpSpan(1, { kind: "ok", depth: 0, extreme: 0 }) +
          "," +
          otlpSpan(2, { kind: "ok", depth: 0, extreme: 0 }).replace('"q2"', `"${huge}"`),
      ),
    );
    const o = inspectFile(ot, "otlp-json", { quarantineDir: path.join(t.dir, "q") });
    assert.deepEqual([o.reports[0]!.rowsAccepted, o.reports[0]!.rowsQuarantined], [1, 1]);
  });

  it("OTLP semantics: fractional nanoseconds, a span ending before it starts, a span repeated on another line", () => {
    const ok = { kind: "ok" as const, depth: 0, extreme: 0 };
    const file = path.join(t.dir, "otlp-sem.jsonl");
    writeFileSync(
      file,
      lines([
        otlpDoc(otlpSpan(1, ok)),
        otlpDoc(otlpSpan(2, ok).replace(`"startTimeUnixNano":"1000"`, `"startTimeUnixNano":1000.5`)),
        otlpDoc(otlpSpan(3, ok).replace(`"startTimeUnixNano":"1000"`, `"startTimeUnixNano":"3000"`)),
        otlpDoc(otlpSpan(1, ok)),
      ]),
    );
    const r = inspectFile(file, "otlp-json", { quarantineDir: path.join(t.dir, "q") });
    const rep = r.reports[0]!;
    assert.deepEqual([rep.rowsRead, rep.rowsAccepted, rep.rowsQuarantined], [4, 1, 3]);
    const q = readFileSync(rep.quarantineFile!, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; field: string; reason: string });
    assert.deepEqual(
      q.map((x) => [x.line, x.field]),
      [
        [2, "startTimeUnixNano"],
        [3, "endTimeUnixNano"],
        [4, "spanId"],
      ],
    );
    assert.match(q[1]!.reason, /ends 1000 ns before it starts/);
    assert.match(q[2]!.reason, /duplicate span .*first at line 1/);
  });

  it("negative costs, tokens and times in routing JSONL are quarantined naming the field", () => {
    const file = path.join(t.dir, "neg.jsonl");
    writeFileSync(
      file,
      lines([
        `{"query":"a","model_name":"m","cost":-0.5}`,
        `{"query":"b","model_name":"m","input_tokens":-3}`,
        `{"query":"c","model_name":"m","response_time":-1}`,
        `{"query":"d","model_name":"m","cost":0}`,
      ]),
    );
    const r = inspectFile(file, "llmrouter-routing-jsonl", { quarantineDir: path.join(t.dir, "q") });
    assert.equal(r.reports[0]!.rowsAccepted, 1);
    const fields = readFileSync(r.reports[0]!.quarantineFile!, "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { field: string }).field);
    assert.deepEqual(fields, ["cost", "input_tokens", "response_time"]);
  });
});
