import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { parseGraderLetter } from "../../lib/eval/simpleqa";
import { wrongAnswer } from "../../lib/llm/sim/answer";
import { FactIndex } from "../../lib/llm/sim/facts";
import { loadSimFacts } from "../../lib/llm/sim/facts-file";
import { startSimServer, type RunningSimServer, type SimLogRecord } from "../../lib/llm/sim/server";
import type { SimFact, SimModel, SimServerOptions } from "../../lib/llm/sim/types";
import { renderGraderPrompt } from "../../lib/oracle/grader";
import { renderPairwisePrompt, renderQualityPrompt } from "../../lib/oracle/judge";
import { projectRoot } from "../../lib/util/paths";

const WEAK: SimModel = { id: "sim-weak", kind: "answer", accuracy: 0.3, notAttemptedRate: 0.3 };
const STRONG: SimModel = { id: "sim-strong", kind: "answer", accuracy: 0.6, notAttemptedRate: 0.5 };
const GRADER: SimModel = { id: "sim-grader", kind: "grader" };
const JUDGE: SimModel = { id: "sim-judge", kind: "judge" };

let facts: SimFact[] = [];
let tmp = "";
before(() => {
  facts = loadSimFacts("simpleqa").facts;
  tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-sim-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function withServer<T>(
  opts: Partial<SimServerOptions>,
  fn: (s: RunningSimServer) => Promise<T>,
): Promise<T> {
  const s = await startSimServer({ models: [WEAK, STRONG, GRADER, JUDGE], facts, seed: 7, ...opts });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

interface Raw {
  status: number;
  headers: Headers;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
after(() => agent.destroy());

/** A plain node:http POST (much cheaper than fetch, so the 2,000-fact checks stay quick on a loaded machine). */
function post(s: RunningSimServer, body: unknown, headers: Record<string, string> = {}): Promise<Raw> {
  const url = new URL(`${s.url}/chat/completions`);
  const data = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** The same request with the platform's fetch, as an OpenAI SDK would send it. */
async function fetchPost(s: RunningSimServer, body: unknown): Promise<Raw> {
  const r = await fetch(`${s.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

interface Completion {
  system_fingerprint: string;
  choices: { message: { content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function ask(s: RunningSimServer, model: string, content: string, extra: object = {}): Promise<string> {
  const r = await post(s, { model, messages: [{ role: "user", content }], ...extra });
  assert.equal(r.status, 200, r.text);
  return (JSON.parse(r.text) as Completion).choices[0]!.message.content;
}

/** Runs `fn` over items with `concurrency` in flight, results in input order. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
type Outcome = "correct" | "not_attempted" | "incorrect";
/** Independent of the simulator's code: the gold answer as whole words, or an "I don't know" form. */
function classify(reply: string, gold: string): Outcome {
  if (` ${norm(reply)} `.includes(` ${norm(gold)} `)) return "correct";
  if (/don't know|not sure|cannot answer/i.test(reply)) return "not_attempted";
  return "incorrect";
}

test("answers are deterministic per (model, question, seed): across restarts, temperatures and wording", async () => {
  const qs = facts.slice(0, 40);
  const run = (seed: number, temperature: number, wrap = (q: string) => q) =>
    withServer({ seed }, (s) => pool(qs, 8, (f) => ask(s, "sim-weak", wrap(f.question), { temperature })));
  const a = await run(11, 0);
  const b = await run(11, 1.3);
  const c = await run(11, 0, (q) => `Answer briefly.\n\nQuestion: ${q}\nAnswer:`);
  const d = await run(12, 0);
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.ok(a.filter((x, i) => x !== d[i]).length >= 10, "another seed changes the answers");
  const unknown = await withServer({}, async (s) => [
    await ask(s, "sim-weak", "What is the airspeed of an unladen swallow?"),
    await ask(s, "sim-weak", "What is the airspeed of an unladen swallow?"),
  ]);
  assert.equal(unknown[0], unknown[1]);
  assert.match(unknown[0]!, /simulated reply from sim-weak/);
});

test("accuracy and not-attempted rates hold on 2,000 facts; wrong answers never contain the gold answer", async () => {
  const sample = facts.slice(0, 2000);
  const replies = await withServer({ seed: 3 }, (s) =>
    Promise.all(
      [WEAK, STRONG].map((m) =>
        pool(sample, 32, async (f) => classify(await ask(s, m.id, f.question), f.answer)),
      ),
    ),
  );
  for (const [k, m] of [WEAK, STRONG].entries()) {
    if (m.kind !== "answer") throw new Error("unreachable");
    const got = replies[k]!;
    const share = (o: Outcome) => got.filter((x) => x === o).length / got.length;
    // 4 standard deviations of a binomial share on 2,000 draws is under 0.045.
    assert.ok(Math.abs(share("correct") - m.accuracy) < 0.045, `${m.id} correct ${share("correct")}`);
    const na = (1 - m.accuracy) * m.notAttemptedRate;
    assert.ok(
      Math.abs(share("not_attempted") - na) < 0.045,
      `${m.id} not attempted ${share("not_attempted")}`,
    );
  }
  // Shared difficulty (default correlation 0.7): P(strong right | weak right) = 0.49 + 0.51 * 0.6 ~ 0.8 > 0.6.
  const [weak, strong] = replies as [Outcome[], Outcome[]];
  const strongGivenWeak =
    weak.filter((w, i) => w === "correct" && strong[i] === "correct").length /
    weak.filter((w) => w === "correct").length;
  assert.ok(strongGivenWeak > 0.72, `P(strong correct | weak correct) = ${strongGivenWeak}`);
  assert.ok(strongGivenWeak < 1, "the weak model is sometimes right where the strong one is not");
  // Every fact's wrong answer (all 4,326, for two models) is a different answer of the same kind, never the gold one.
  const index = new FactIndex(facts);
  for (const f of index.facts) {
    for (const id of ["sim-weak", "sim-strong"]) {
      const w = wrongAnswer(id, f, index, 3);
      assert.equal(
        classify(w, f.fact.answer),
        "incorrect",
        `${f.fact.question} -> ${w} (gold ${f.fact.answer})`,
      );
    }
  }
});

test("the grader answers the official simple-evals template with A / B / C; noisy replies are clean on a temperature-0 retry", async () => {
  await withServer({ seed: 5 }, async (s) => {
    const sample = facts.slice(2000, 2300);
    const cases = await pool(sample, 16, async (f) => {
      const predicted = await ask(s, "sim-weak", f.question);
      const letter = await ask(
        s,
        "sim-grader",
        renderGraderPrompt({ question: f.question, target: f.answer, predicted }),
        {
          temperature: 0,
        },
      );
      return {
        expected: { correct: "A", incorrect: "B", not_attempted: "C" }[classify(predicted, f.answer)],
        letter,
      };
    });
    for (const c of cases) assert.equal(c.letter, c.expected);
    assert.ok(new Set(cases.map((c) => c.letter)).size === 3, "all three letters occur");
    const grade = (predicted: string) =>
      ask(s, "sim-grader", renderGraderPrompt({ question: "Who?", target: "Malia and Sasha", predicted }));
    assert.equal(await grade("sasha and malia obama? No: Malia and Sasha"), "A");
    assert.equal(await grade("Malia, Sasha, and Susan"), "B");
    assert.equal(await grade("I don't know."), "C");
    const graderRecord = s
      .requests()
      .find((r) => r.model === "sim-grader" && r.question === sample[0]!.question);
    assert.ok(graderRecord, "grader requests are logged with the known question they grade");
  });

  const noisy: SimModel = { id: "sim-grader", kind: "grader", noisyRate: 0.5 };
  await withServer({ models: [WEAK, noisy], seed: 5 }, async (s) => {
    const prompts = facts
      .slice(0, 100)
      .map((f) => renderGraderPrompt({ question: f.question, target: f.answer, predicted: f.answer }));
    const first = await pool(prompts, 16, (p) => ask(s, "sim-grader", p, { temperature: 0, seed: 0 }));
    const bad = first.map((r, i) => ({ r, i })).filter((x) => parseGraderLetter(x.r) === null);
    assert.ok(bad.length > 25 && bad.length < 75, `${bad.length} noisy replies of 100`);
    for (const { i } of bad)
      assert.equal(await ask(s, "sim-grader", prompts[i]!, { temperature: 0, seed: 1 }), "A");
    for (const [i, r] of first.entries())
      if (parseGraderLetter(r) !== null) assert.equal(r, "A", `prompt ${i}`);
  });
});

test("the judge prefers the answer with the gold fact in every documented prompt format; position bias answers first", async () => {
  const f = facts[0]!;
  const idk = "I don't know.";
  const right = `It was ${f.answer}.`;
  const wrong = facts[1]!.answer;
  const answerBlocks = (a: string, b: string) =>
    `Which answer to the question is better? Reply "A" or "B" or "tie".\n[Question]\n${f.question}\n\n[Answer 1]\n${a}\n[End of Answer 1]\n\n[Answer 2]\n${b}\n[End of Answer 2]`;
  const numbered = (a: string, b: string) =>
    `Question: ${f.question}\n\n[Answer 1]\n${a}\n\n[Answer 2]\n${b}\n[End]\nReply 1, 2 or tie.`;
  const responses = (a: string, b: string) =>
    `Compare two responses to: ${f.question}\n\nResponse A: ${a}\n\nResponse B: ${b}\n[End of Response B]\nWhich is better?`;
  await withServer({}, async (s) => {
    const judge = (p: string) => ask(s, "sim-judge", p, { temperature: 0 });
    assert.equal(await judge(renderPairwisePrompt(f.question, idk, right)), "second");
    assert.equal(await judge(renderPairwisePrompt(f.question, right, idk)), "first");
    assert.equal(
      await judge(renderPairwisePrompt(f.question, wrong, idk)),
      "second",
      "not attempted beats wrong",
    );
    assert.equal(await judge(renderPairwisePrompt(f.question, wrong, wrong)), "tie");
    assert.equal(await judge(answerBlocks(right, wrong)), "A");
    assert.equal(await judge(answerBlocks(wrong, right)), "B");
    assert.equal(await judge(numbered(idk, right)), "2");
    assert.equal(await judge(responses(wrong, right)), "B");
    assert.equal(
      await judge(renderPairwisePrompt("What is the best pizza?", "Margherita, because ...", idk)),
      "first",
    );
    assert.equal(Number(await judge(renderQualityPrompt(f.question, right))) >= 8, true);
    assert.equal(await judge(renderQualityPrompt(f.question, idk)), "2");
    assert.equal(s.requests()[0]!.question, f.question);
  });
  const biased: SimModel = { id: "sim-judge", kind: "judge", positionBias: 0.3 };
  await withServer({ models: [biased] }, async (s) => {
    const replies = await pool(facts.slice(0, 300), 16, (g) =>
      ask(s, "sim-judge", renderPairwisePrompt(g.question, idk, g.answer)),
    );
    const firsts = replies.filter((r) => r === "first").length / replies.length;
    assert.ok(Math.abs(firsts - 0.3) < 0.1, `position bias ${firsts}`);
    assert.ok(replies.every((r) => r === "first" || r === "second"));
  });
  const always: SimModel = { id: "sim-judge", kind: "judge", positionBias: 1 };
  await withServer({ models: [always] }, async (s) => {
    assert.equal(await ask(s, "sim-judge", responses(idk, right)), "A");
  });
});

test("each fault kind is observable with a raw fetch, logged with its fault and not billed", async () => {
  const body = { model: "sim-weak", messages: [{ role: "user", content: facts[0]!.question }] };
  const only = (kind: "429" | "500" | "timeout" | "truncated" | "empty") => ({
    faults: { rate: 1, kinds: [kind], retryAfterSeconds: 3, timeoutHangMs: 300 },
  });
  await withServer(only("429"), async (s) => {
    const r = await fetchPost(s, body);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get("retry-after"), "3");
    assert.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, "rate_limit_exceeded");
  });
  await withServer(only("500"), async (s) => {
    const r = await fetchPost(s, body);
    assert.equal(r.status, 500);
    assert.equal((JSON.parse(r.text) as { error: { type: string } }).error.type, "server_error");
  });
  await withServer(only("timeout"), async (s) => {
    const t0 = Date.now();
    await assert.rejects(fetchPost(s, body));
    assert.ok(Date.now() - t0 >= 250, "the server hangs before closing the socket");
    assert.equal(s.requests()[0]!.fault, "timeout");
  });
  await withServer(only("truncated"), async (s) => {
    const r = await fetch(`${s.url}/chat/completions`, { method: "POST", body: JSON.stringify(body) });
    assert.equal(r.status, 200);
    assert.ok(Number(r.headers.get("content-length")) > 0);
    await assert.rejects(r.text(), "the body ends before Content-Length bytes");
  });
  await withServer(only("empty"), async (s) => {
    const r = await fetchPost(s, body);
    assert.equal(r.status, 200);
    assert.deepEqual((JSON.parse(r.text) as Completion).choices, []);
    assert.deepEqual(s.usage(), {});
    assert.deepEqual(
      s.requests().map((x) => [x.fault, x.usage, (x as SimLogRecord).billed]),
      [["empty", null, false]],
    );
  });
  // 30% faults over all kinds: the rate holds, and the same request sequence meets the same faults on every run.
  const seq = facts
    .slice(0, 400)
    .map((f) => ({ model: "sim-weak", messages: [{ role: "user", content: f.question }] }));
  const faultsOf = () =>
    withServer({ faults: { rate: 0.3, kinds: ["429", "500", "empty"] }, seed: 9 }, async (s) => {
      for (const b of seq) await post(s, b);
      return s.requests().map((r) => r.fault);
    });
  const a = await faultsOf();
  assert.deepEqual(await faultsOf(), a);
  const share = a.filter((x) => x !== null).length / a.length;
  assert.ok(Math.abs(share - 0.3) < 0.08, `fault share ${share}`);
  assert.deepEqual(new Set(a.filter((x) => x !== null)), new Set(["429", "500", "empty"]));
});

test("an Idempotency-Key replays the same body, logged as a replay and not billed; reuse with another body is refused", async () => {
  await withServer({ faults: { rate: 0 } }, async (s) => {
    const body = {
      model: "sim-strong",
      messages: [{ role: "user", content: facts[3]!.question }],
      temperature: 0.7,
    };
    const a = await post(s, body, { "Idempotency-Key": "k-1" });
    const usageAfterFirst = s.usage();
    const b = await post(s, body, { "Idempotency-Key": "k-1" });
    assert.equal(b.status, 200);
    assert.equal(b.text, a.text);
    assert.deepEqual(s.usage(), usageAfterFirst);
    const [r1, r2] = s.requests();
    assert.deepEqual([r1!.replay, r2!.replay], [false, true]);
    assert.equal(r2!.idempotencyKey, "k-1");
    assert.equal(r2!.requestHash, r1!.requestHash);
    const u = (JSON.parse(a.text) as Completion).usage;
    assert.deepEqual(usageAfterFirst, {
      "sim-strong": { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens },
    });
    const other = await post(s, { ...body, temperature: 0 }, { "Idempotency-Key": "k-1" });
    assert.equal(other.status, 400);
    assert.match(other.text, /idempotency_key_reused/);
    // Concurrent requests with one key: served once, billed once.
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => post(s, { ...body, seed: 1 }, { "Idempotency-Key": "k-2" })),
    );
    assert.equal(new Set(concurrent.map((r) => r.text)).size, 1);
    assert.equal(s.requests().filter((r) => r.idempotencyKey === "k-2" && !r.replay).length, 1);
  });
  // A request hanging on a timeout fault does not hold its key: a retry sent while it still hangs (as a client
  // whose own timeout fired does) is answered at once.
  await withServer({ faults: { rate: 0.5, kinds: ["timeout"], timeoutHangMs: 20_000 } }, async (s) => {
    const send = (content: string, key: string, signal?: AbortSignal) =>
      fetch(`${s.url}/chat/completions`, {
        method: "POST",
        headers: { "Idempotency-Key": key },
        body: JSON.stringify({ model: "sim-weak", messages: [{ role: "user", content }] }),
        ...(signal ? { signal } : {}),
      }).then((r) => r.status);
    const hanging: Promise<unknown>[] = [];
    let retried = 0;
    for (const [i, f] of facts.slice(0, 12).entries()) {
      const first = send(f.question, `t-${i}`).catch(() => "closed");
      const quick = await Promise.race([first, new Promise((r) => setTimeout(() => r("hangs"), 300))]);
      if (quick !== "hangs") continue;
      hanging.push(first);
      const t0 = Date.now();
      const again = await send(f.question, `t-${i}`, AbortSignal.timeout(2_000)).catch(() => "timed out");
      if (again === "timed out" && s.requests().filter((r) => r.idempotencyKey === `t-${i}`).length === 2)
        continue; // the retry drew a timeout fault too
      assert.equal(again, 200, `retry of t-${i}`);
      assert.ok(Date.now() - t0 < 2_000);
      retried++;
    }
    assert.ok(retried >= 1, "some hanging request was retried");
    await s.close();
    await Promise.all(hanging);
  });
});

test("usage is realistic and max_tokens cuts the reply with finish_reason length; responses are labelled simulated", async () => {
  await withServer({}, async (s) => {
    const prompt = renderGraderPrompt({
      question: facts[0]!.question,
      target: facts[0]!.answer,
      predicted: "x",
    });
    const r = await post(s, { model: "sim-grader", messages: [{ role: "user", content: prompt }] });
    const c = JSON.parse(r.text) as Completion;
    assert.equal(r.headers.get("x-routerlab-simulated"), "1");
    assert.equal(c.system_fingerprint, "routerlab-sim");
    const charsOver4 = prompt.length / 4;
    assert.ok(
      Math.abs(c.usage.prompt_tokens - charsOver4) / charsOver4 < 0.3,
      `${c.usage.prompt_tokens} tokens`,
    );
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
    const unknown = "Tell me a long story about a simulated server that answers every question.";
    const full = JSON.parse(
      (await post(s, { model: "sim-weak", messages: [{ role: "user", content: unknown }] })).text,
    );
    const cut = JSON.parse(
      (await post(s, { model: "sim-weak", messages: [{ role: "user", content: unknown }], max_tokens: 4 }))
        .text,
    ) as Completion;
    assert.equal(cut.choices[0]!.finish_reason, "length");
    assert.equal(cut.usage.completion_tokens <= 4, true);
    assert.ok((full as Completion).choices[0]!.message.content.startsWith(cut.choices[0]!.message.content));
    const client = new OpenAI({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
    const viaSdk = await client.chat.completions.create({
      model: "sim-strong",
      messages: [{ role: "user", content: facts[0]!.question }],
    });
    assert.equal(viaSdk.system_fingerprint, "routerlab-sim");
    assert.equal(typeof viaSdk.choices[0]!.message.content, "string");
  });
});

test("bad requests get OpenAI-style errors; /v1/models and /healthz answer; 401 without the key, which is never logged", async () => {
  const key = "sk-sim-secret-123";
  const logFile = path.join(tmp, "auth.jsonl");
  await withServer({ apiKey: key, logFile }, async (s) => {
    const auth = { authorization: `Bearer ${key}` };
    const msg = [{ role: "user", content: "hi" }];
    const noKey = await post(s, { model: "sim-weak", messages: msg });
    assert.equal(noKey.status, 401);
    assert.equal((JSON.parse(noKey.text) as { error: { code: string } }).error.code, "invalid_api_key");
    assert.equal(
      (await post(s, { model: "sim-weak", messages: msg }, { authorization: "Bearer nope" })).status,
      401,
    );
    assert.equal((await post(s, { model: "sim-weak", messages: msg }, auth)).status, 200);
    const notJson = await post(s, "{oops", auth);
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /"type":"invalid_request_error"/);
    const noMessages = await post(s, { model: "sim-weak" }, auth);
    assert.equal(noMessages.status, 400);
    assert.equal((JSON.parse(noMessages.text) as { error: { param: string } }).error.param, "messages");
    assert.equal((await post(s, { model: "sim-weak", messages: msg, stream: true }, auth)).status, 400);
    assert.equal((await post(s, { model: "sim-weak", messages: msg, temperature: 3 }, auth)).status, 400);
    const unknownModel = await post(s, { model: "gpt-9", messages: msg }, auth);
    assert.equal(unknownModel.status, 404);
    assert.match(unknownModel.text, /model_not_found/);
    const models = await fetch(`${s.url}/models`, { headers: auth });
    assert.deepEqual(
      ((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id),
      ["sim-weak", "sim-strong", "sim-grader", "sim-judge"],
    );
    assert.equal((await fetch(`${s.url}/models`)).status, 401);
    const health = await fetch(s.url.replace(/\/v1$/, "/healthz"));
    assert.equal(health.headers.get("x-routerlab-simulated"), "1");
    assert.equal(((await health.json()) as { simulated: boolean }).simulated, true);
    await s.flush();
  });
  const log = readFileSync(logFile, "utf8");
  assert.ok(!log.includes(key), "the API key is not in the log");
  assert.deepEqual(
    log
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as SimLogRecord).status),
    [401, 401, 200, 400, 400, 400, 400, 404],
  );
});

test("the JSONL log has one line per request, equal to the in-memory records, appended across restarts", async () => {
  const logFile = path.join(tmp, "nested", "requests.jsonl");
  const first = await withServer({ logFile, faults: { rate: 0.3, kinds: ["500"] } }, async (s) => {
    await pool(facts.slice(0, 50), 8, (f) =>
      post(s, { model: "sim-weak", messages: [{ role: "user", content: f.question }] }),
    );
    await s.flush();
    const lines = readFileSync(logFile, "utf8").trim().split("\n");
    assert.equal(lines.length, 50);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as SimLogRecord),
      JSON.parse(JSON.stringify(s.requests())),
    );
    return s.requests().filter((r) => r.fault === "500").length;
  });
  assert.ok(first > 0);
  await withServer({ logFile }, async (s) => {
    await post(s, { model: "sim-weak", messages: [{ role: "user", content: facts[0]!.question }] });
  });
  const all = readFileSync(logFile, "utf8").trim().split("\n");
  assert.equal(all.length, 51, "closing the server flushes; a restart appends");
  assert.equal((JSON.parse(all[50]!) as SimLogRecord).question, facts[0]!.question);
});

const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

test("routerlab sim-server --help, a bad config names file/line/field, and a start / request / SIGTERM smoke", async () => {
  const help = spawnSync(process.execPath, [main, "sim-server", "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0, help.stderr);
  for (const flag of ["--config", "--port", "--facts", "--seed", "--fault-rate", "--log"])
    assert.ok(help.stdout.includes(flag), flag);
  assert.match(help.stdout, /SIMULATED/);

  const badCfg = path.join(tmp, "bad-sim.yaml");
  writeFileSync(
    badCfg,
    "seed: 1\nmodels:\n  - id: m\n    kind: answer\n    accuracy: 1.5\n    notAttemptedRate: 0\n",
  );
  const bad = spawnSync(process.execPath, [main, "sim-server", "--config", badCfg], { encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad-sim\.yaml:5 field 'models\.0\.accuracy'/);

  const factsFile = path.join(tmp, "facts.jsonl");
  writeFileSync(
    factsFile,
    facts
      .slice(0, 20)
      .map((f) => JSON.stringify({ question: f.question, answer: f.answer }))
      .join("\n"),
  );
  const logFile = path.join(tmp, "cli.jsonl");
  const child = spawn(
    process.execPath,
    [main, "sim-server", "--port", "0", "--facts", factsFile, "--seed", "3", "--log", logFile],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in 60 s: ${stdout} ${stderr}`)), 60_000);
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /url: (http:\/\/\S+\/v1)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on("exit", () => reject(new Error(`exited early: ${stderr}`)));
    });
    assert.match(stdout, /SIMULATED/);
    assert.match(stdout, /OPENAI_BASE_URL=http/);
    assert.match(stdout, /facts: 20 known questions/);
    const r = await fetch(`${url}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "sim-strong",
        messages: [{ role: "user", content: facts[0]!.question }],
      }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-routerlab-simulated"), "1");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /stopped after 1 requests/);
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  assert.equal(lines.length, 1);
  assert.equal((JSON.parse(lines[0]!) as SimLogRecord).question, facts[0]!.question);
});
