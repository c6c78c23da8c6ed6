import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { routingFromRoutingRows } from "../../lib/data/bundled";
import { loadLlmCandidates, loadRoutingJsonl } from "../../lib/data/llmrouter";
import { loadDecisionsJsonl, loadJaeger, loadOtlp, traceRoutingRows } from "../../lib/data/traces";
import { fixture, tempDir } from "./helpers";

const t = tempDir();
const opts = { quarantineDir: t.dir };
test.after(() => t.cleanup());

test("Jaeger export: LLM spans with gateway query text, tokens, duration; the decision event", () => {
  const r = loadJaeger(fixture("traces", "jaeger_export.json"), opts);
  assert.equal(r.llm.length, 2);
  const [a, b] = r.llm;
  // system + user message, single-space join, ends trimmed
  assert.equal(a!.query, "You are a helpful assistant.   What is the capital of Australia?");
  assert.equal(a!.requestModel, "gpt-4o");
  assert.equal(a!.responseModel, "gpt-4o-2024-08-06");
  assert.deepEqual([a!.inputTokens, a!.outputTokens], [21, 9]);
  assert.equal(a!.durationSeconds, 0.834);
  assert.equal(a!.parentSpanId, "00f067aa0ba902b7");
  // indexed prompt form: list content text parts, a missing content adds an empty piece
  assert.equal(b!.query, "Translate 'hello' to French.  Thanks!");
  assert.equal(b!.inputTokens, 14, "int64 tag given as a string");
  assert.equal(r.decisions.length, 1);
  assert.equal(r.decisions[0]!.decision.selected_deployment, "gpt-4o");
  assert.equal(r.decisions[0]!.strategyVersion, "mlp-2026-11-19");
  assert.equal(r.report.rowsRead, 3);
  assert.equal(r.report.rowsQuarantined, 0);
  assert.ok(r.report.warnings.some((w) => /1 span\(s\) without gen_ai/.test(w)));
});

test("OTLP/JSON export: same LLM span and decision as Jaeger; embedding input joined", () => {
  const r = loadOtlp(fixture("traces", "otlp_export.json"), opts);
  const j = loadJaeger(fixture("traces", "jaeger_export.json"), opts);
  assert.equal(r.llm.length, 2);
  assert.equal(r.llm[0]!.query, j.llm[0]!.query);
  assert.ok(Math.abs(r.llm[0]!.durationSeconds - 0.834) < 1e-9);
  assert.equal(r.llm[1]!.query, "embed me and me");
  assert.equal(r.llm[1]!.responseModel, null);
  assert.equal(r.decisions[0]!.decision.event_id, j.decisions[0]!.decision.event_id);
  const rows = traceRoutingRows(r.llm);
  assert.deepEqual(
    rows.map((x) => x.modelName),
    ["gpt-4o-2024-08-06", "text-embedding-3-small"],
  );
  assert.equal(rows[0]!.performance, null);
});

test("OTLP JSON Lines (collector file exporter): a broken line, a bad decision payload and spans repeated across lines are quarantined", () => {
  const doc = JSON.parse(readFileSync(fixture("traces", "otlp_export.json"), "utf8")) as {
    resourceSpans: {
      scopeSpans: { spans: { events: { attributes: { value: { stringValue: string } }[] }[] }[] }[];
    }[];
  };
  const ok = JSON.stringify(doc);
  const payloadAttr = doc.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.events[0]!.attributes[0]!;
  const payload = JSON.parse(payloadAttr.value.stringValue) as Record<string, unknown>;
  payloadAttr.value.stringValue = JSON.stringify({ ...payload, contract_version: "v2", event_id: "other" });
  const bad = JSON.stringify(doc);
  const f = t.file("otlp.jsonl", [ok, bad, ok.slice(0, 100)].join("\n") + "\n");
  const r = loadOtlp(f, opts);
  // line 1: 2 llm + 1 decision; line 2: 2 llm spans repeating line 1's (quarantined) + bad decision; line 3 truncated
  assert.equal(r.llm.length, 2);
  assert.equal(r.decisions.length, 1);
  assert.equal(r.report.rowsRead, 3 + 3 + 1);
  const q = readFileSync(r.report.quarantineFile!, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { line: number; field: string; path?: string });
  assert.deepEqual(
    q.map((x) => [x.line, x.field]),
    [
      [3, "(line)"],
      [2, "contract_version"],
      [2, "spanId"],
      [2, "spanId"],
    ],
  );
  assert.match(q[1]!.path!, /spans\[0\]\.events\[0\]$/);
});

test("decision JSONL: v1 and v1.1 accepted; placeholders and duplicates quarantined", () => {
  const good = readFileSync(fixture("traces", "decisions.jsonl"), "utf8").trim().split("\n");
  const first = JSON.parse(good[0]!) as Record<string, unknown>;
  const pending = JSON.stringify({ ...first, event_id: "p-1", selected_deployment: "pending" });
  const f = t.file("decisions.jsonl", [...good, good[0], pending].join("\n"));
  const r = loadDecisionsJsonl(f, opts);
  assert.equal(r.rows.length, 2);
  assert.equal(r.rows[1]!.decision.contract_version, "v1.1");
  assert.equal(r.report.rowsQuarantined, 2);
});

test("routing JSONL: performance null kept, absent -> 0.5, ms latency converted; pivot with candidate prices", () => {
  const r = loadRoutingJsonl(fixture("routing", "routing_train.jsonl"), opts);
  assert.equal(r.rows.length, 5);
  assert.equal(r.rows[3]!.performance, null);
  assert.equal(r.rows[4]!.performance, 0.5);
  assert.equal(r.rows[2]!.responseTime, 2.1);
  assert.equal(r.rows[0]!.extras.strategy_name, "llmrouter-mlp");
  const c = loadLlmCandidates(fixture("routing", "llm_candidates.json"), opts);
  const d = routingFromRoutingRows("fixture", r.rows, c.rows);
  assert.deepEqual(d.models, ["gpt-4o-mini", "gpt-4o"]);
  assert.equal(d.queries.length, 3);
  assert.ok(Number.isNaN(d.quality[3]!), "null performance is NaN");
  assert.ok(Number.isNaN(d.quality[5]!), "model not run on the query is NaN");
  assert.ok(Math.abs(d.cost[0]! - (0.15 * 12 + 0.6 * 5) / 1e6) < 1e-15);
  assert.equal(d.latency![1], 0.83);
});
