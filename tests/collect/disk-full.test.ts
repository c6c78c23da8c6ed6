/** Issue 15: the disk fills while `routerlab collect` is receiving (not at start-up). */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readCollected } from "../../lib/collect/read";
import { listSegments, scanSegment } from "../../lib/collect/store";
import { mountTmpfs, unmount } from "../support/tmpfs";
import { post, startReceiver, tempDir } from "./support";

const t = tempDir();
test.after(() => t.cleanup());

const JSON_TYPE = { "content-type": "application/json" };

/** One request of `n` LLM spans of trace `trace` (about 1.5 KiB of records per span). */
function request(trace: number, n: number): Buffer {
  const traceId = trace.toString(16).padStart(32, "0");
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId,
    spanId: (i + 1).toString(16).padStart(16, "0"),
    name: "litellm_request",
    startTimeUnixNano: "1763633702000000000",
    endTimeUnixNano: "1763633702500000000",
    attributes: [
      { key: "gen_ai.request.model", value: { stringValue: "m" } },
      { key: "gen_ai.prompt.0.role", value: { stringValue: "user" } },
      { key: "gen_ai.prompt.0.content", value: { stringValue: `question ${trace}.${i} `.repeat(60) } },
    ],
  }));
  return Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));
}

test("the disk fills during collect: 503 with Retry-After, nothing unacknowledged saved, segments whole, writes resume when space returns", async (ctx) => {
  const mnt = path.join(t.dir, "mnt");
  const skip = mountTmpfs(mnt, "size=256k");
  if (skip) {
    ctx.skip(skip);
    return;
  }
  try {
    // space to give back later, so the receiver can be seen to recover without a restart
    const reserve = path.join(mnt, "reserve");
    writeFileSync(reserve, Buffer.alloc(48 * 1024));
    const ds = path.join(mnt, "ds");
    const r = await startReceiver(ds);
    const acked: number[] = [];
    const refused: number[] = [];
    let trace = 1;
    try {
      // requests of growing size until one is refused: the refused one is often written in part before ENOSPC
      for (; refused.length === 0 && trace < 200; trace++) {
        const reply = await post(r.endpoint, JSON_TYPE, request(trace, 4 + (trace % 5)));
        if (reply.status === 200) acked.push(trace);
        else {
          assert.equal(reply.status, 503, reply.body.toString());
          assert.ok(Number(reply.headers["retry-after"]) > 0, "Retry-After is set");
          assert.match(reply.body.toString(), /the disk is full \[ENOSPC\]/);
          assert.match(reply.body.toString(), /segment-000001\.jsonl: cannot write/);
          refused.push(trace);
        }
      }
      assert.ok(
        acked.length >= 5 && refused.length === 1,
        `acked ${acked.length}, refused ${refused.length}`,
      );
      // still full: refused again, the receiver keeps serving
      const again = await post(r.endpoint, JSON_TYPE, request(trace, 8));
      assert.equal(again.status, 503);
      refused.push(trace++);

      // every segment ends with its last commit marker: no record of a refused request is on disk
      for (const seg of listSegments(ds)) {
        const bytes = readFileSync(path.join(ds, seg));
        assert.equal(scanSegment(bytes).committedBytes, bytes.length, `${seg} has an uncommitted tail`);
      }
      const traces = (d: ReturnType<typeof readCollected>) =>
        [...new Set(d.llm.map((x) => parseInt(x.trace_id, 16)))].sort((a, b) => a - b);
      const during = readCollected(ds);
      assert.deepEqual(traces(during), acked, "exactly the acknowledged requests are saved");
      assert.equal(during.uncommitted, 0);

      // space returns: the next request is written without a restart
      rmSync(reserve);
      const after = await post(r.endpoint, JSON_TYPE, request(trace, 4));
      assert.equal(after.status, 200, after.body.toString());
      acked.push(trace);
    } finally {
      await r.stop();
    }
    const saved = readCollected(ds);
    assert.deepEqual(
      [...new Set(saved.llm.map((x) => parseInt(x.trace_id, 16)))].sort((a, b) => a - b),
      acked,
    );
    assert.equal(saved.counts.spans, saved.llm.length, "the batch counts match the saved spans");
    assert.deepEqual(r.server.stats().refused, { 503: 2 });
  } finally {
    unmount(mnt);
  }
});
