/**
 * `routerlab collect` fed by the real OpenTelemetry Python SDK: gateway-shaped spans with decision
 * events, protobuf (the OTLP/HTTP exporter) and JSON (the SDK's encoder in the OTLP/JSON mapping),
 * gzip or not; a burst of more than 50,000 spans, every one accounted for.
 */
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { collectedRoutingRows, readCollected } from "../../lib/collect/read";
import { emit, readAcks, startReceiver, tempDir } from "./support";

const t = tempDir();
test.after(() => t.cleanup());

test("the Python SDK's OTLP exporter (protobuf + gzip) and its encoder as OTLP/JSON: rows, query text, answers, decisions joined", async () => {
  const dir = path.join(t.dir, "both");
  const r = await startReceiver(dir);
  try {
    const acks = path.join(t.dir, "both.acks");
    const p = await emit(r.endpoint, acks, {
      encoding: "proto",
      gzip: true,
      traces: 40,
      batch: 25,
      seed: 1,
      noPromptEvery: 10,
    });
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(p.result, { spans: 120, batches: 5, ok: 5, failed: 0 });
    const j = await emit(r.endpoint, acks, { encoding: "json", traces: 30, batch: 30, seed: 2 });
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(j.result, { spans: 90, batches: 3, ok: 3, failed: 0 });
    const s = r.server.stats();
    assert.equal(s.requestsAccepted, 8);
    assert.deepEqual(s.refused, {});
  } finally {
    await r.stop();
  }
  const d = readCollected(dir);
  assert.deepEqual(d.counts, {
    spans: 210,
    llm: 66, // 36 of 40 protobuf traces carry prompts, all 30 JSON ones
    llm_no_prompt: 4,
    decision_spans: 70,
    other: 70,
    rejected: 0,
    decisions: 70,
    decisions_rejected: 0,
  });
  assert.equal(d.llm.length, 70);
  assert.equal(d.decisions.length, 70);
  assert.equal(d.duplicates, 0);
  const rows = collectedRoutingRows(d);
  assert.equal(rows.length, 66, "spans without prompt content are not training rows");
  for (const row of rows) {
    const i = Number(/Question (\d+):/.exec(row.query)![1]);
    // system + user joined by one space, the user's padding kept inside, ends trimmed (contract §4)
    assert.equal(row.query, `You are a helpful assistant.   Question ${i}: what is ${i} plus ${i % 13}?`);
    assert.equal(row.response, String(i + (i % 13)), "the answer the gateway returned");
    assert.ok(row.decision, "joined with the decision of the same trace");
    assert.equal(row.decision.trace_id, row.traceId);
    assert.equal(row.requestModel, row.decision.selected_deployment);
    assert.equal(row.servedModel, `${row.requestModel}-2024-08-06`);
    assert.equal(row.strategyVersion, "mlp-2026-11-19");
    assert.equal(row.inputTokens, 20 + (i % 7));
  }
});

test("a burst of 50,100 spans from the SDK exporter: every span acknowledged is on disk and accounted for", async () => {
  const dir = path.join(t.dir, "burst");
  // small segments so the burst also rotates files and the index follows
  const r = await startReceiver(dir, { segmentBytes: 8 * 1024 * 1024 });
  const acks = path.join(t.dir, "burst.acks");
  const started = Date.now();
  let e;
  try {
    e = await emit(r.endpoint, acks, {
      encoding: "proto",
      gzip: true,
      traces: 16_700,
      batch: 512,
      threads: 4,
      seed: 3,
      noPromptEvery: 50,
    });
  } finally {
    await r.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(
    `collect burst: 50,100 spans via the Python SDK in ${seconds.toFixed(1)} s (load ${os.loadavg()[0]!.toFixed(2)}; includes Python span creation)\n`,
  );
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.result!.spans, 50_100);
  assert.equal(e.result!.failed, 0);
  const d = readCollected(dir);
  assert.ok(d.segments > 1, `expected rotated segments, got ${d.segments}`);
  assert.equal(d.counts.spans, 50_100);
  assert.equal(d.counts.llm + d.counts.llm_no_prompt, 16_700);
  assert.equal(d.counts.llm_no_prompt, 334);
  assert.equal(
    d.counts.decision_spans + d.counts.other + d.counts.llm + d.counts.llm_no_prompt + d.counts.rejected,
    50_100,
  );
  assert.equal(d.counts.decisions, 16_700);
  const onDisk = new Set(d.llm.map((l) => l.span_id));
  const events = new Set(d.decisions.map((x) => x.decision.event_id));
  let acked = 0;
  for (const a of readAcks(acks)) {
    acked += a.spans;
    for (const id of a.llm) assert.ok(onDisk.has(id), `acknowledged LLM span ${id} missing`);
    for (const id of a.events) assert.ok(events.has(id), `acknowledged decision ${id} missing`);
  }
  assert.equal(acked, 50_100);
  assert.equal(collectedRoutingRows(d).length, 16_366);
});
