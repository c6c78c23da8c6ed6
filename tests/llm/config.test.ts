import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { modelForRole, parseModelsConfig, loadModelsConfig } from "../../lib/llm/config";
import { canonicalJson, cacheKey } from "../../lib/llm/cache";
import { costUsd, spendReport, SpendTracker } from "../../lib/llm/cost";
import { TokenBucket } from "../../lib/llm/rate-limit";
import { backoffMs, DEFAULT_BACKOFF } from "../../lib/llm/retry";
import { RouterlabError } from "../../lib/util/errors";
import { sha256Hex } from "../../lib/util/hash";
import { projectRoot } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

const MODELS_FILE = path.join(projectRoot(), "configs", "models.yaml");

const yaml = (model: string, roles = "roles: { weak: m }") => `models:
  - name: m
    baseUrl: \${LLM_URL:-http://127.0.0.1:9/v1}
    modelId: m-1
    inputPricePerMTok: 1
    outputPricePerMTok: 2
${model}
${roles}
`;

function rejects(text: string, re: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseModelsConfig(text, "models.yaml", { env }),
    (e: unknown) => e instanceof RouterlabError && re.test(e.message),
  );
}

test("configs/models.yaml: the shipped models, the sim profile and the roles", () => {
  const cfg = loadModelsConfig(MODELS_FILE, { env: {} });
  assert.equal(cfg.models["gpt-4o-mini"]!.inputPricePerMTok, 0.15);
  assert.equal(cfg.models["gpt-4o"]!.outputPricePerMTok, 10);
  assert.equal(cfg.models["gpt-4o"]!.apiKeyEnv, "OPENAI_API_KEY");
  assert.equal(cfg.models["sim-weak"]!.baseUrl, "http://127.0.0.1:8765/v1");
  assert.equal(modelForRole(cfg, "grader"), "sim-grader");
  const pointed = loadModelsConfig(MODELS_FILE, { env: { ROUTERLAB_SIM_URL: "http://127.0.0.1:4000/v1" } });
  assert.equal(pointed.models["sim-strong"]!.baseUrl, "http://127.0.0.1:4000/v1");
  const over = loadModelsConfig(MODELS_FILE, {
    env: {},
    baseUrl: "http://127.0.0.1:5000/v1",
    models: { "gpt-4o": { limits: { rpm: 10 } } },
    roles: { strong: "gpt-4o" },
  });
  assert.equal(over.models["gpt-4o"]!.baseUrl, "http://127.0.0.1:5000/v1");
  assert.deepEqual(over.models["gpt-4o"]!.limits, { concurrency: 16, rpm: 10, tpm: 30000 });
  assert.equal(modelForRole(over, "strong"), "gpt-4o");
});

test("models file errors name the file, the line and the field", () => {
  rejects(yaml("    limits: { concurrency: 0 }"), /^models\.yaml:7 field 'models\.0\.limits\.concurrency'/);
  rejects(
    yaml("    inputPricePerMTok: -1").replace("    inputPricePerMTok: 1\n", ""),
    /field 'models\.0\.inputPricePerMTok'/,
  );
  rejects(yaml("    apiKeyEnv: sk-live-123"), /apiKeyEnv is the NAME of an environment variable/);
  rejects(yaml("    colour: red"), /colour/);
  rejects(
    yaml("", "roles: { strong: nope }"),
    /^models\.yaml:\d+ field 'roles\.strong'.*'nope', which is not declared/,
  );
  rejects(
    yaml("").replace("${LLM_URL:-http://127.0.0.1:9/v1}", "${LLM_URL}"),
    /field 'models\.0\.baseUrl'.*environment variable LLM_URL is not set/,
  );
  const dup = yaml("").replace(
    "roles:",
    "  - name: m\n    baseUrl: http://a/v1\n    modelId: x\n    inputPricePerMTok: 1\n    outputPricePerMTok: 1\nroles:",
  );
  rejects(dup, /field 'models\.1\.name'.*duplicate model 'm'/);
  const cfg = parseModelsConfig(yaml(""), "models.yaml", { env: { LLM_URL: "http://10.0.0.1:1/v1" } });
  assert.equal(cfg.models.m!.baseUrl, "http://10.0.0.1:1/v1");
  assert.throws(
    () => modelForRole(cfg, "judge"),
    /models\.yaml field 'roles\.judge': no model for role 'judge'/,
  );
});

test("cache keys: canonical, request-complete, endpoint- and model-specific", () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
  const base = {
    baseUrl: "http://x/v1",
    modelId: "m",
    messages: [{ role: "user" as const, content: "hi" }],
    temperature: 0,
    maxTokens: 5,
    seed: 1,
  };
  const k = cacheKey(base);
  assert.equal(
    k,
    sha256Hex(
      canonicalJson({ ...base, messages: base.messages.map((m) => ({ role: m.role, content: m.content })) }),
    ),
  );
  assert.equal(
    cacheKey({ ...base, seed: undefined }),
    sha256Hex(canonicalJson({ ...base, seed: undefined })),
  );
  assert.equal(cacheKey({ ...base, baseUrl: "http://x/v1/" }), k);
  for (const change of [
    { baseUrl: "http://y/v1" },
    { modelId: "n" },
    { messages: [{ role: "system" as const, content: "hi" }] },
    { temperature: 0.5 },
    { maxTokens: 6 },
    { seed: 2 },
  ])
    assert.notEqual(cacheKey({ ...base, ...change }), k);
});

test("cost and spend: usage x price per million tokens, table per model", () => {
  assert.equal(costUsd({ inputPricePerMTok: 2.5, outputPricePerMTok: 10 }, 1_000_000, 500_000), 7.5);
  const t = new SpendTracker({
    a: { inputPricePerMTok: 1, outputPricePerMTok: 2 },
    b: { inputPricePerMTok: 3, outputPricePerMTok: 4 },
  });
  t.call("a");
  t.paid("a", 100, 50);
  t.call("a");
  t.cacheHit("a");
  t.retry("a");
  const s = t.stats();
  assert.equal(s.byModel.a!.costUsd, (100 * 1 + 50 * 2) / 1e6);
  assert.equal(s.total.calls, 2);
  assert.equal(s.total.cacheHits, 1);
  const table = spendReport(s);
  assert.match(table, /^model/);
  assert.match(table, /\na\s+2\s+1\s+1\s+0\s+100\s+50\s+0\.000200\n/);
  assert.ok(!/\nb\s/.test(table), "models never called are left out");
});

test("backoff is seeded and bounded; token buckets refill at the configured rate", () => {
  const a = Array.from({ length: 8 }, (_, i) => backoffMs(i + 1, DEFAULT_BACKOFF, createRng(7)));
  const b = Array.from({ length: 8 }, (_, i) => backoffMs(i + 1, DEFAULT_BACKOFF, createRng(7)));
  assert.deepEqual(a, b);
  a.forEach((ms, i) => {
    const exp = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** i);
    assert.ok(ms >= exp / 2 && ms <= exp);
  });
  let now = 0;
  const bucket = new TokenBucket(600, 10, () => now);
  assert.equal(bucket.available, 10);
  void bucket.take(10);
  assert.equal(bucket.available, 0);
  now += 500; // 600 per minute = 10 per second
  assert.equal(bucket.available, 5);
  bucket.adjust(-8);
  assert.equal(bucket.available, -3);
  now += 60_000;
  assert.equal(bucket.available, 10);
});
