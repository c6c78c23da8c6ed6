import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createEmbedder, embedStream } from "../../lib/embed";
import type { Embedder } from "../../lib/embed";
import { realQueries } from "../peers/embed-probe";

let embedder: Embedder;
const cacheDir = mkdtempSync(path.join(os.tmpdir(), "routerlab-embstream-"));
const texts = realQueries(90, 21);

before(async () => {
  embedder = await createEmbedder({ threads: 1 });
});
after(async () => {
  await embedder.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test("embedStream pulls an async iterable lazily (at most one chunk ahead of the sink), rows in input order", async () => {
  const chunkSize = 16;
  let produced = 0;
  let delivered = 0;
  let maxAhead = 0;
  async function* source(): AsyncGenerator<string> {
    for (const t of texts) {
      await new Promise((r) => setImmediate(r));
      produced++;
      maxAhead = Math.max(maxAhead, produced - delivered);
      yield t;
    }
  }
  const got = new Float32Array(texts.length * 384);
  const firsts: number[] = [];
  const report = await embedStream(source(), {
    embedder,
    cacheDir,
    chunkSize,
    onRows: (m, first) => {
      firsts.push(first);
      got.set(m.data, first * 384);
      delivered += m.rows;
    },
  });
  assert.deepEqual(report, { rows: texts.length, hits: 0, misses: texts.length });
  assert.deepEqual(
    firsts,
    Array.from({ length: Math.ceil(texts.length / chunkSize) }, (_, i) => i * chunkSize),
  );
  assert.ok(maxAhead <= chunkSize, `producer ran ${maxAhead} texts ahead of the sink`);
  const direct = await embedder.embed(texts);
  // chunking changes which texts share a padded batch: equal up to float rounding
  assert.ok(maxAbsDiff(got, direct.data) < 1e-5);
});

test("concurrent embed/embedOne calls on one embedder give exactly the sequential results", async () => {
  const a = texts.slice(0, 40);
  const b = texts.slice(40, 70);
  const c = texts[75]!;
  const seqA = await embedder.embed(a);
  const seqB = await embedder.embed(b);
  const seqC = await embedder.embedOne(c);
  const [parA, parC, parB] = await Promise.all([embedder.embed(a), embedder.embedOne(c), embedder.embed(b)]);
  assert.equal(maxAbsDiff(parA.data, seqA.data), 0);
  assert.equal(maxAbsDiff(parB.data, seqB.data), 0);
  assert.equal(maxAbsDiff(parC, seqC), 0);
  // the single-query path is embed() of one text
  assert.equal(maxAbsDiff((await embedder.embed([c])).data, seqC), 0);
});
