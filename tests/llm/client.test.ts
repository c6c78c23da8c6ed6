import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ResponseCache } from "../../lib/llm/cache";
import { createLlmClient, type LlmClientOptions } from "../../lib/llm/client";
import { parseModelsConfig, type ModelsConfig } from "../../lib/llm/config";
import { LlmError, retryAfterMs } from "../../lib/llm/retry";
import type { ChatRequest } from "../../lib/llm/types";
import { startScriptedServer, usageFor, type ScriptedServer } from "./support";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-llm-client-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => path.join(tmp, `cache-${++dirs}`);

const KEY = "sk-test-9f8e7d6c5b4a39281706";
const FAST: LlmClientOptions["backoff"] = { baseMs: 5, maxMs: 20 };

function config(
  url: string,
  extra: { limits?: string; maxRetries?: number; timeoutMs?: number } = {},
): ModelsConfig {
  const yaml = `
models:
  - name: cheap
    baseUrl: \${TEST_LLM_URL}
    modelId: cheap-1
    apiKeyEnv: TEST_LLM_KEY
    inputPricePerMTok: 0.15
    outputPricePerMTok: 0.6
    limits: ${extra.limits ?? "{ concurrency: 8 }"}
    timeoutMs: ${extra.timeoutMs ?? 5000}
    maxRetries: ${extra.maxRetries ?? 8}
  - name: pricey
    baseUrl: \${TEST_LLM_URL}
    modelId: pricey-1
    apiKeyEnv: TEST_LLM_KEY
    inputPricePerMTok: 2.5
    outputPricePerMTok: 10
roles: { weak: cheap, strong: pricey }
`;
  return parseModelsConfig(yaml, "test-models.yaml", { env: { TEST_LLM_URL: url } });
}

function client(srv: ScriptedServer, opts: LlmClientOptions = {}, extra: Parameters<typeof config>[1] = {}) {
  return createLlmClient(config(srv.url, extra), {
    cacheDir: freshDir(),
    env: { TEST_LLM_KEY: KEY },
    backoff: FAST,
    seed: 1,
    ...opts,
  });
}

const ask = (q: string, model = "cheap"): ChatRequest => ({
  model,
  messages: [{ role: "user", content: q }],
  temperature: 0,
  maxTokens: 64,
});

for (const nativeFetch of [false, true])
  test(`every fault kind is retried with the same Idempotency-Key until a good reply (${nativeFetch ? "built-in fetch" : "node:http fetch"})`, async () => {
    const srv = await startScriptedServer();
    try {
      srv.script = [
        "500",
        "503",
        "truncated",
        "invalid-json",
        "empty",
        { status: 429, retryAfterMs: "10" },
        "ok",
      ];
      const c = client(srv, { nativeFetch });
      const r = await c.chat(ask("What is the capital of Australia?"));
      assert.equal(r.text, "answer to: What is the capital of Australia?");
      assert.equal(r.attempts, 7);
      assert.equal(r.cached, false);
      assert.equal(srv.seen.length, 7);
      const keys = new Set(srv.seen.map((s) => s.headers["idempotency-key"]));
      assert.deepEqual([...keys], [c.keyOf(ask("What is the capital of Australia?"))]);
      assert.equal(srv.seen[0]!.body.model, "cheap-1");
      assert.equal(srv.seen[0]!.body.max_tokens, 64);
      assert.equal(srv.seen[0]!.headers.authorization, `Bearer ${KEY}`);
      const s = c.stats().byModel.cheap!;
      assert.equal(s.retries, 6);
      assert.equal(s.failures, 0);
      assert.equal(s.calls, 1);
      await c.close();
    } finally {
      await srv.close();
    }
  });

test("Retry-After is honoured: seconds, HTTP date and retry-after-ms", async () => {
  const srv = await startScriptedServer();
  try {
    const c = client(srv, { backoff: { baseMs: 1, maxMs: 1 } });
    srv.script = [{ status: 429, retryAfter: "1" }];
    let t0 = performance.now();
    await c.chat(ask("q1"));
    const secs = performance.now() - t0;
    assert.ok(secs >= 950 && secs < 4000, `Retry-After: 1 waited ${secs} ms`);

    srv.script = [{ status: 429, retryAfterMs: "300" }];
    t0 = performance.now();
    await c.chat(ask("q2"));
    const ms = performance.now() - t0;
    assert.ok(ms >= 290 && ms < 2500, `retry-after-ms: 300 waited ${ms} ms`);

    // HTTP dates have 1 s resolution: 2 s ahead means a wait in (1, 2] s.
    srv.script = [{ status: 429, retryAfter: new Date(Date.now() + 2000).toUTCString() }];
    t0 = performance.now();
    await c.chat(ask("q3"));
    const dated = performance.now() - t0;
    assert.ok(dated >= 900 && dated < 4500, `Retry-After date waited ${dated} ms`);
    assert.equal(c.stats().byModel.cheap!.retries, 3);
    await c.close();
  } finally {
    await srv.close();
  }
  const h = (v: Record<string, string>) => ({ get: (n: string) => v[n] ?? null });
  assert.equal(retryAfterMs(h({ "retry-after": "2" })), 2000);
  assert.equal(retryAfterMs(h({ "retry-after": "soon" })), undefined);
  assert.equal(retryAfterMs(h({ "retry-after-ms": "15", "retry-after": "9" })), 15);
});

test("a hung request times out and is retried; all attempts timing out is an LlmError naming model and attempts", async () => {
  const srv = await startScriptedServer();
  try {
    const c = client(srv, {}, { timeoutMs: 200, maxRetries: 1 });
    srv.script = ["hang", "ok"];
    const t0 = performance.now();
    const r = await c.chat(ask("slow"));
    assert.equal(r.attempts, 2);
    assert.ok(performance.now() - t0 >= 190);

    srv.script = ["hang", "hang"];
    await assert.rejects(c.chat(ask("slower")), (e: unknown) => {
      assert.ok(e instanceof LlmError);
      assert.equal(e.kind, "timeout");
      assert.equal(e.attempts, 2);
      assert.match(e.message, /model 'cheap'/);
      assert.match(e.message, /2 attempts/);
      return true;
    });
    // A per-call override of the timeout.
    srv.script = ["hang", "ok"];
    const quick = await c.chat(ask("override"), { timeoutMs: 50 });
    assert.equal(quick.attempts, 2);
    assert.equal(c.stats().byModel.cheap!.failures, 1);
    await c.close();
  } finally {
    await srv.close();
  }
});

test("a 400 is not retried, and the error never repeats the API key the server echoed", async () => {
  const srv = await startScriptedServer();
  try {
    const c = client(srv);
    srv.script = ["400"];
    await assert.rejects(c.chat(ask("bad")), (e: unknown) => {
      assert.ok(e instanceof LlmError);
      assert.equal(e.status, 400);
      assert.equal(e.attempts, 1);
      assert.ok(!e.message.includes(KEY), e.message);
      assert.ok(!(e.stack ?? "").includes(KEY));
      assert.match(e.message, /REDACTED/);
      return true;
    });
    assert.equal(srv.seen.length, 1);
    await c.close();
  } finally {
    await srv.close();
  }
});

test("a missing API key variable is one clear error naming the variable and the models file", async () => {
  const srv = await startScriptedServer();
  try {
    const c = client(srv, { env: {} });
    await assert.rejects(c.chat(ask("q")), (e: unknown) => {
      assert.ok(e instanceof LlmError);
      assert.match(e.message, /^test-models\.yaml: environment variable TEST_LLM_KEY is not set/);
      assert.match(e.message, /model 'cheap'/);
      return true;
    });
    assert.equal(srv.seen.length, 0);
    await c.close();
  } finally {
    await srv.close();
  }
});

test("cancellation: a caller's AbortSignal and client.abort() stop queued and in-flight calls at once", async () => {
  const srv = await startScriptedServer({ faultFor: () => "hang" });
  try {
    const c = client(srv, {}, { limits: "{ concurrency: 2 }" });
    const ac = new AbortController();
    const one = c.chat(ask("one"), { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    await assert.rejects(one, (e: unknown) => e instanceof LlmError && e.kind === "cancelled");
    assert.ok(performance.now() - t0 < 1000);

    // Two in flight, three queued behind the concurrency bound: abort() rejects all five.
    const calls = ["a", "b", "c", "d", "e"].map((q) => c.chat(ask(q)));
    while (srv.seen.length < 3) await new Promise((r) => setTimeout(r, 10));
    c.abort();
    const results = await Promise.allSettled(calls);
    assert.ok(results.every((r) => r.status === "rejected" && (r.reason as LlmError).kind === "cancelled"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.seen.length, 3, "queued calls were never sent");
    assert.equal(srv.clientAborts, 3, "in-flight requests were aborted on the wire");
    await assert.rejects(c.chat(ask("after")), LlmError);
    await c.close();
  } finally {
    await srv.close();
  }
});

test("the concurrency bound holds: the server never sees more than `concurrency` requests at once", async () => {
  const srv = await startScriptedServer({ latencyMs: 30 });
  try {
    const c = client(srv, {}, { limits: "{ concurrency: 4 }" });
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.chat(ask(`q${i}`))));
    assert.equal(srv.maxInFlight, 4);
    assert.equal(srv.seen.length, 40);
    await c.close();
  } finally {
    await srv.close();
  }
});

test("RPM limiting: 120 rpm lets a 20-request burst through, then 2 requests a second", async () => {
  const srv = await startScriptedServer();
  try {
    const c = client(srv, {}, { limits: "{ concurrency: 64, rpm: 120 }" });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 26 }, (_, i) => c.chat(ask(`r${i}`))));
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 2700 && elapsed < 8000, `26 requests at 120 rpm took ${elapsed} ms`);
    const times = srv.seen.map((s) => s.time - srv.seen[0]!.time);
    assert.ok(times[19]! < 500, "the burst went out at once");
    for (let i = 21; i < times.length; i++)
      assert.ok(
        times[i]! - times[i - 1]! > 400,
        `request ${i} came ${times[i]! - times[i - 1]!} ms after the one before`,
      );
    await c.close();
  } finally {
    await srv.close();
  }
});

test("TPM limiting: estimates reserve tokens before a call and reported usage reconciles them after", async () => {
  const srv = await startScriptedServer();
  try {
    // 60 000 tpm: a 10 000-token bucket refilled at 1 000 tokens/s.
    const c = client(srv, {}, { limits: "{ concurrency: 64, tpm: 60000 }" });
    // Four ~3 000-token prompts: three fit the bucket, the fourth waits ~2 s for refill.
    const big = (i: number): ChatRequest => ({ ...ask(`${i} ${"w".repeat(12_000)}`), maxTokens: 10 });
    let t0 = performance.now();
    await Promise.all(Array.from({ length: 4 }, (_, i) => c.chat(big(i))));
    const limited = performance.now() - t0;
    assert.ok(limited >= 1500 && limited < 7000, `4 x 3k tokens at 60k tpm took ${limited} ms`);
    // 30 calls each reserving 2 000 completion tokens but using 7: without reconciliation they would need
    // 60 000 tokens (~50 s of refill); with it, the reserve is handed back after every reply.
    const fresh = client(srv, {}, { limits: "{ concurrency: 64, tpm: 60000 }" });
    t0 = performance.now();
    for (let i = 0; i < 30; i++) await fresh.chat({ ...ask(`small ${i}`), maxTokens: 2000 });
    const reconciled = performance.now() - t0;
    assert.ok(reconciled < 4000, `30 reconciled calls took ${reconciled} ms`);
    await c.close();
    await fresh.close();
  } finally {
    await srv.close();
  }
});

test("cache: a re-run sends zero requests, costs nothing, and reports the original cost", async () => {
  const srv = await startScriptedServer();
  try {
    const dir = freshDir();
    const first = client(srv, { cacheDir: dir });
    const reqs = Array.from({ length: 10 }, (_, i) => ask(`question ${i}`, i % 2 ? "pricey" : "cheap"));
    const paid = await Promise.all(reqs.map((r) => first.chat(r)));
    await first.close();
    assert.equal(srv.seen.length, 10);

    const second = client(srv, { cacheDir: dir });
    const again = await Promise.all(reqs.map((r) => second.chat(r)));
    assert.equal(srv.seen.length, 10, "no request on the re-run");
    again.forEach((r, i) => {
      assert.equal(r.cached, true);
      assert.equal(r.costUsd, 0);
      assert.equal(r.originalCostUsd, paid[i]!.costUsd);
      assert.equal(r.text, paid[i]!.text);
      assert.deepEqual(r.usage, paid[i]!.usage);
    });
    assert.equal(second.stats().total.cacheHits, 10);
    assert.equal(second.stats().total.costUsd, 0);
    // A different temperature is a different request.
    await second.chat({ ...reqs[0]!, temperature: 0.7 });
    assert.equal(srv.seen.length, 11);
    // Two identical calls in flight at once are sent once.
    const [x, y] = await Promise.all([second.chat(ask("twin")), second.chat(ask("twin"))]);
    assert.equal(srv.seen.length, 12);
    assert.equal(x.text, y.text);
    assert.equal(x.cached !== y.cached, true);
    await second.close();
  } finally {
    await srv.close();
  }
});

test("cache survives a torn write and a corrupted line; the API key is nowhere in the cache", async () => {
  const srv = await startScriptedServer();
  try {
    const dir = freshDir();
    const c = client(srv, { cacheDir: dir });
    for (let i = 0; i < 5; i++) await c.chat(ask(`keep ${i}`));
    await c.close();
    const [seg] = readdirSync(dir);
    assert.ok(seg);
    const file = path.join(dir, seg);
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    assert.equal(lines.length, 5);
    // Corrupt the third entry in place (checksum no longer matches) and leave half a line at the end (SIGKILL mid-write).
    const bad = lines.map((l, i) => (i === 2 ? l.replace("keep 2", "kept 2") : l));
    writeFileSync(file, `${bad.join("\n")}\n`);
    appendFileSync(file, lines[0]!.slice(0, 40));

    const cache = new ResponseCache(dir);
    assert.equal(cache.size, 4);
    assert.equal(cache.stats().skippedLines, 2);
    cache.close();

    const again = client(srv, { cacheDir: dir });
    const before = srv.seen.length;
    for (let i = 0; i < 5; i++) await again.chat(ask(`keep ${i}`));
    assert.equal(srv.seen.length, before + 1, "only the corrupted entry is asked again");
    await again.close();
    assert.equal(new ResponseCache(dir).size, 5);

    for (const name of readdirSync(dir)) assert.ok(!readFileSync(path.join(dir, name), "utf8").includes(KEY));
  } finally {
    await srv.close();
  }
});

test("cost equals the server's usage times the configured prices, exactly", async () => {
  const srv = await startScriptedServer({ faultFor: (i) => (i % 3 === 0 ? "500" : "ok") });
  try {
    const c = client(srv);
    const reqs = Array.from({ length: 30 }, (_, i) =>
      ask(`cost question number ${i} ${"x".repeat(i * 7)}`, i % 3 ? "cheap" : "pricey"),
    );
    const results = await Promise.all(reqs.map((r) => c.chat(r)));
    const prices = { "cheap-1": [0.15, 0.6], "pricey-1": [2.5, 10] } as const;
    const billed: Record<string, { p: number; c: number }> = {};
    for (const s of srv.seen.filter((x) => x.fault === "ok")) {
      const u = usageFor(s.body);
      const b = (billed[s.body.model] ??= { p: 0, c: 0 });
      b.p += u.prompt_tokens;
      b.c += u.completion_tokens;
    }
    const stats = c.stats();
    for (const [name, id] of [
      ["cheap", "cheap-1"],
      ["pricey", "pricey-1"],
    ] as const) {
      const [pin, pout] = prices[id];
      const b = billed[id]!;
      assert.equal(stats.byModel[name]!.promptTokens, b.p);
      assert.equal(stats.byModel[name]!.completionTokens, b.c);
      assert.equal(stats.byModel[name]!.costUsd, (b.p * pin + b.c * pout) / 1e6);
    }
    for (const r of results) {
      const [pin, pout] = r.model === "cheap" ? prices["cheap-1"] : prices["pricey-1"];
      assert.equal(r.costUsd, (r.usage.promptTokens * pin + r.usage.completionTokens * pout) / 1e6);
    }
    assert.ok(stats.total.retries > 0);
    assert.match(c.spendReport(), /^model\s+calls\s+cache hits/);
    assert.match(c.spendReport(), /\ntotal\s+30\s+0\s+\d+\s+0\s/);
    await c.close();
  } finally {
    await srv.close();
  }
});
