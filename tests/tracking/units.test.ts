import assert from "node:assert/strict";
import { test } from "node:test";
import { MLFLOW_LIMITS, splitBatch } from "../../lib/tracking/client";
import type { JournalEvent } from "../../lib/tracking/journal";
import { flattenConfig, isSecretKey, REDACTED, redactString, redactValue } from "../../lib/tracking/redact";
import { planUnits } from "../../lib/tracking/sync";

test("secret-looking keys are recognised, ordinary ones are not", () => {
  for (const k of [
    "api_key",
    "OPENAI_API_KEY",
    "secretKey",
    "aws_secret_access_key",
    "token",
    "password",
    "db.passwd",
  ]) {
    assert.equal(isSecretKey(k), true, k);
  }
  for (const k of ["model", "learning_rate", "monkey", "tokenizer_name", "seed", "keyboard"]) {
    assert.equal(isSecretKey(k), false, k);
  }
});

test("credentials inside URLs, query tokens and bearer headers are redacted", () => {
  assert.equal(
    redactString("https://user:hunter22@mlflow.example/x"),
    `https://${REDACTED}@mlflow.example/x`,
  );
  assert.equal(redactString("s3://AKIA@bucket"), `s3://${REDACTED}@bucket`);
  assert.equal(redactString("http://h/p?a=1&token=abc123&b=2"), `http://h/p?a=1&token=${REDACTED}&b=2`);
  assert.equal(redactString("Authorization: Bearer abcdefghijk"), `Authorization: Bearer ${REDACTED}`);
  assert.equal(
    redactString("the value sk-live-999999 leaked", ["sk-live-999999"]),
    `the value ${REDACTED} leaked`,
  );
  assert.equal(redactString("http://127.0.0.1:5000/api"), "http://127.0.0.1:5000/api");
});

test("redactValue removes secret values deeply and flattenConfig gives dotted params", () => {
  const cfg = {
    llm: { apiKey: "sk-abc", model: "gpt" },
    s3: { url: "http://k:s@h:9000" },
    list: [1, 2],
    empty: {},
  };
  const red = redactValue(cfg) as typeof cfg;
  assert.equal(red.llm.apiKey, REDACTED);
  assert.equal(red.llm.model, "gpt");
  assert.equal(red.s3.url, `http://${REDACTED}@h:9000`);
  assert.deepEqual(flattenConfig(red), {
    "llm.apiKey": REDACTED,
    "llm.model": "gpt",
    "s3.url": `http://${REDACTED}@h:9000`,
    list: "[1,2]",
    empty: "{}",
  });
});

test("splitBatch respects MLflow's per-call limits", () => {
  const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: "m", value: i, timestamp: 1, step: i }));
  const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, "v"]));
  const calls = splitBatch({ metrics, params, tags: { a: "b" } });
  for (const c of calls) {
    assert.ok((c.metrics?.length ?? 0) <= MLFLOW_LIMITS.metricsPerBatch);
    assert.ok(Object.keys(c.params ?? {}).length <= MLFLOW_LIMITS.paramsPerBatch);
    const total =
      (c.metrics?.length ?? 0) + Object.keys(c.params ?? {}).length + Object.keys(c.tags ?? {}).length;
    assert.ok(total <= MLFLOW_LIMITS.entitiesPerBatch);
  }
  assert.equal(
    calls.reduce((n, c) => n + (c.metrics?.length ?? 0), 0),
    2500,
  );
  assert.equal(
    calls.reduce((n, c) => n + Object.keys(c.params ?? {}).length, 0),
    250,
  );
  assert.equal(calls.length, 3 + 3);
});

test("planUnits keeps order, limits and never repeats a key inside one batch", () => {
  let s = 0;
  const evs: JournalEvent[] = [];
  for (let i = 0; i < 1500; i++) evs.push({ s: ++s, t: "m", k: "loss", v: i, ts: 1, st: i });
  evs.push({ s: ++s, t: "tag", k: "a", v: "1" });
  evs.push({ s: ++s, t: "tag", k: "a", v: "2" });
  evs.push({ s: ++s, t: "input", dataset: { name: "d", digest: "x", sourceType: "local", source: "{}" } });
  for (let i = 0; i < 150; i++) evs.push({ s: ++s, t: "p", k: `p${i}`, v: "v" });
  evs.push({ s: ++s, t: "end", status: "FINISHED", ts: 2 });
  const units = planUnits(evs);
  // Contiguous, complete coverage of the sequence numbers.
  let next = 1;
  for (const u of units) {
    assert.equal(u.from, next);
    next = u.to + 1;
    if (u.kind === "batch") {
      assert.ok(u.metrics.length + Object.keys(u.params).length + Object.keys(u.tags).length <= 1000);
      assert.ok(Object.keys(u.params).length <= 100);
    }
  }
  assert.equal(next, s + 1);
  const tagUnits = units.filter((u) => u.kind === "batch" && Object.keys(u.tags).length > 0);
  assert.equal(tagUnits.length, 2, "the second value of tag 'a' goes in its own call, after the first");
  assert.equal(units.at(-1)!.kind, "single");
});
