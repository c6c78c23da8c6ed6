/** The receiver's edges: 401, 413 (including a gzip bomb), 400 with reasons, 415, back-pressure 503/429, partial success. */
import assert from "node:assert/strict";
import { request } from "node:http";
import path from "node:path";
import { test } from "node:test";
import { createGzip, gzipSync } from "node:zlib";
import fc from "fast-check";
import { decodeTraceRequest, ProtoError } from "../../lib/collect/protobuf";
import { readCollected } from "../../lib/collect/read";
import { post, startReceiver, tempDir } from "./support";

const t = tempDir();
test.after(() => t.cleanup());

const JSON_TYPE = { "content-type": "application/json" };
const PROTO_TYPE = { "content-type": "application/x-protobuf" };

function span(traceId: string, spanId: string, attrs: Record<string, string>): unknown {
  return {
    traceId,
    spanId,
    name: "litellm_request",
    startTimeUnixNano: "1763633702000000000",
    endTimeUnixNano: "1763633702500000000",
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
  };
}

function doc(spans: unknown[]): Buffer {
  return Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));
}

const GOOD = doc([
  span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", {
    "gen_ai.request.model": "m",
    "gen_ai.prompt": "hi",
  }),
]);

test("bearer token: missing or wrong -> 401 with WWW-Authenticate, right -> 200", async () => {
  const r = await startReceiver(path.join(t.dir, "auth"), { token: "s3cret-token" });
  try {
    const none = await post(r.endpoint, JSON_TYPE, GOOD);
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
    assert.equal(
      (await post(r.endpoint, { ...JSON_TYPE, authorization: "Bearer s3cret-tokem" }, GOOD)).status,
      401,
    );
    assert.equal(
      (await post(r.endpoint, { ...JSON_TYPE, authorization: "Basic s3cret-token" }, GOOD)).status,
      401,
    );
    const ok = await post(r.endpoint, { ...JSON_TYPE, authorization: "Bearer s3cret-token" }, GOOD);
    assert.equal(ok.status, 200, ok.body.toString());
    assert.deepEqual(r.server.stats().refused, { 401: 3 });
  } finally {
    await r.stop();
  }
  assert.equal(
    readCollected(path.join(t.dir, "auth")).counts.llm,
    1,
    "only the authorised request was stored",
  );
});

test("size caps: declared and streamed bodies over the cap and a gzip bomb get 413; the receiver keeps serving", async () => {
  const r = await startReceiver(path.join(t.dir, "caps"), {
    limits: { maxBodyBytes: 512 * 1024, maxDecodedBytes: 1024 * 1024 },
  });
  try {
    const big = Buffer.alloc(600 * 1024, 0x20);
    const declared = await post(r.endpoint, { ...JSON_TYPE, "content-length": String(big.length) }, big);
    assert.equal(declared.status, 413);
    assert.match(declared.body.toString(), /exceeds the 524288-byte cap/);
    const streamed = await post(r.endpoint, JSON_TYPE, [big.subarray(0, 300_000), big.subarray(300_000)]);
    assert.equal(streamed.status, 413);

    // 256 MiB of zeros gzip to ~255 KiB (under the body cap); the cap on the decoded size is 1 MiB
    const bomb = await new Promise<Buffer>((resolve) => {
      const gz = createGzip({ level: 9 });
      const parts: Buffer[] = [];
      gz.on("data", (c: Buffer) => parts.push(c));
      gz.on("end", () => resolve(Buffer.concat(parts)));
      const mb = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 256; i++) gz.write(mb);
      gz.end();
    });
    assert.ok(bomb.length < 512 * 1024, `bomb is ${bomb.length} bytes`);
    const rssBefore = process.memoryUsage().rss;
    const b = await post(r.endpoint, { ...JSON_TYPE, "content-encoding": "gzip" }, bomb);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.equal(b.status, 413);
    assert.match(b.body.toString(), /decompressed body exceeds the 1048576-byte cap/);
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes: the bomb was inflated past the cap`);

    const ok = await post(r.endpoint, { ...JSON_TYPE, "content-encoding": "gzip" }, gzipSync(GOOD));
    assert.equal(ok.status, 200);
  } finally {
    await r.stop();
  }
});

test("malformed payloads get 400 with the reason, never stop the receiver; bad spans are a partial success", async () => {
  const r = await startReceiver(path.join(t.dir, "bad"));
  try {
    const cases: [Record<string, string>, Buffer, RegExp][] = [
      [JSON_TYPE, Buffer.from('{"resourceSpans": ['), /invalid JSON/],
      [JSON_TYPE, Buffer.from('{"resourceSpans": 5}'), /resourceSpans: .*expected array/i],
      [PROTO_TYPE, Buffer.from([0x0a, 0x10, 0x12]), /invalid protobuf .*runs past the end/],
      [PROTO_TYPE, Buffer.from([0x0b, 0x00]), /invalid protobuf .*wire type 3/],
      [{ ...JSON_TYPE, "content-encoding": "gzip" }, Buffer.from("not gzip at all"), /invalid gzip body/],
    ];
    for (const [headers, body, reason] of cases) {
      const res = await post(r.endpoint, headers, body);
      assert.equal(res.status, 400, `${body.toString("hex")}: ${res.body.toString()}`);
      const message =
        headers["content-type"] === "application/json"
          ? (JSON.parse(res.body.toString()) as { message: string }).message
          : res.body.toString("latin1");
      assert.match(message, reason);
    }
    const wrongType = await post(r.endpoint, { "content-type": "text/plain" }, GOOD);
    assert.equal(wrongType.status, 415);

    const partial = await post(
      r.endpoint,
      JSON_TYPE,
      doc([
        span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b8", {
          "gen_ai.request.model": "m",
          "gen_ai.prompt": "ok",
        }),
        span("not-an-id", "00f067aa0ba902b9", { "gen_ai.request.model": "m" }),
      ]),
    );
    assert.equal(partial.status, 200);
    const ps = JSON.parse(partial.body.toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    assert.equal(ps.partialSuccess.rejectedSpans, "1");
    assert.match(ps.partialSuccess.errorMessage, /spans\[1\]: traceId: not a 16-byte id/);
    assert.equal((await post(r.endpoint, JSON_TYPE, GOOD)).status, 200, "still serving");
  } finally {
    await r.stop();
  }
  const d = readCollected(path.join(t.dir, "bad"));
  assert.equal(d.counts.rejected, 1);
  assert.equal(d.counts.spans, 3);
});

test("back-pressure: over the in-flight memory budget -> 503, over the concurrency limit -> 429, both with Retry-After", async () => {
  const r = await startReceiver(path.join(t.dir, "bp"), {
    limits: { maxInflightBytes: GOOD.length + 10, maxConcurrent: 1 },
  });
  try {
    const over = await post(
      r.endpoint,
      { ...JSON_TYPE, "content-length": String(GOOD.length * 2) },
      Buffer.concat([GOOD, Buffer.alloc(GOOD.length, 0x20)]),
    );
    assert.equal(over.status, 503);
    assert.equal(over.headers["retry-after"], "1");
    // hold one request open (half its body sent), then a second one is refused
    const held = request(r.endpoint, {
      method: "POST",
      headers: { ...JSON_TYPE, "content-length": String(GOOD.length) },
    });
    const heldReply = new Promise<number>((resolve) =>
      held.on("response", (res) => (res.resume(), resolve(res.statusCode ?? 0))),
    );
    held.write(GOOD.subarray(0, 10));
    await new Promise((res) => setTimeout(res, 200));
    const busy = await post(r.endpoint, { ...JSON_TYPE, "content-length": String(GOOD.length) }, GOOD);
    assert.equal(busy.status, 429);
    assert.equal(busy.headers["retry-after"], "1");
    held.end(GOOD.subarray(10));
    assert.equal(await heldReply, 200);
  } finally {
    await r.stop();
  }
});

test("protobuf decoder: arbitrary bytes either decode or fail with a ProtoError, never anything else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decodeTraceRequest(bytes, { maxSpans: 1000, maxValueDepth: 4, maxAttributes: 10_000 });
      } catch (e) {
        assert.ok(e instanceof ProtoError, `threw ${String(e)}`);
      }
    }),
    { seed: 18, numRuns: 2000 },
  );
  // nesting beyond the depth bound: resource_spans{scope_spans{span{attribute{value{array{value{array...}}}}}}}
  let v = Buffer.from([0x0a, 0x01, 0x78]); // AnyValue{string_value: "x"}
  for (let i = 0; i < 10; i++) {
    const arr = Buffer.concat([Buffer.from([0x0a, v.length]), v]); // ArrayValue{values: v}
    v = Buffer.concat([Buffer.from([0x2a, arr.length]), arr]); // AnyValue{array_value}
  }
  const kv = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12, v.length]), v]);
  const sp = Buffer.concat([Buffer.from([0x4a, kv.length]), kv]);
  const ss = Buffer.concat([Buffer.from([0x12, sp.length]), sp]);
  const rs = Buffer.concat([Buffer.from([0x12, ss.length]), ss]);
  const req = Buffer.concat([Buffer.from([0x0a, rs.length]), rs]);
  assert.throws(
    () => decodeTraceRequest(req, { maxSpans: 10, maxValueDepth: 4, maxAttributes: 100 }),
    /nested deeper than 4/,
  );
  assert.equal(decodeTraceRequest(req, { maxSpans: 10, maxValueDepth: 16, maxAttributes: 100 }).length, 1);
});
