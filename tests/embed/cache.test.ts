import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
  closeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createEmbedder, EmbeddingCache, embedWithCache, specKey } from "../../lib/embed";
import type { Embedder } from "../../lib/embed";
import { rowCosines } from "../peers/embed-reference";
import { syntheticTexts } from "./fixtures/texts";

let embedder: Embedder;
const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "routerlab-embcache-"));
  tmpDirs.push(d);
  return d;
}

before(async () => {
  embedder = await createEmbedder();
});
after(async () => {
  await embedder.dispose();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function segments(root: string): string[] {
  const dir = path.join(root, "embeddings", specKey(embedder.spec));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .map((f) => path.join(dir, f));
}

test("second run on the same texts makes zero model calls and returns identical vectors", async () => {
  const root = tmp();
  const texts = [...syntheticTexts(0, 40), ...syntheticTexts(0, 5)]; // 5 repeats inside the run
  const calls0 = embedder.modelCalls;
  const first = await embedWithCache(texts, { embedder, cacheDir: root, chunkSize: 16 });
  assert.equal(first.misses, 40);
  assert.equal(first.hits, 5);
  assert.equal(embedder.modelCalls - calls0, 40);
  const calls1 = embedder.modelCalls;
  const second = await embedWithCache(texts, { embedder, cacheDir: root });
  assert.equal(embedder.modelCalls, calls1, "second run must not call the model");
  assert.equal(second.hits, texts.length);
  assert.equal(second.misses, 0);
  assert.deepEqual(Buffer.from(second.matrix.data.buffer), Buffer.from(first.matrix.data.buffer));
  // and the vectors are the model's
  const direct = await embedder.embed(texts.slice(0, 8));
  const cos = rowCosines(
    { ...second.matrix, rows: 8, data: second.matrix.data.subarray(0, 8 * 384) },
    direct,
  );
  for (const c of cos) assert.ok(c > 0.99999, `cached vector cosine ${c}`);
});

test("a different spec (int8) never reads fp32 entries", async () => {
  const root = tmp();
  await embedWithCache(syntheticTexts(0, 4), { embedder, cacheDir: root });
  const int8Spec = { ...embedder.spec, precision: "int8" as const };
  assert.notEqual(specKey(int8Spec), specKey(embedder.spec));
  const c = new EmbeddingCache(int8Spec, root);
  assert.equal(c.size, 0);
  c.close();
});

test("torn and corrupt records are ignored on open, the rest stays readable", async () => {
  const root = tmp();
  await embedWithCache(syntheticTexts(100, 10), { embedder, cacheDir: root });
  const [seg] = segments(root);
  assert.ok(seg);
  const rs = 4 + 32 + 384 * 4 + 4;
  assert.equal(statSync(seg).size, 10 * rs);
  // flip one byte inside record 3's vector and append half a record (a killed writer)
  const fd = openSync(seg, "r+");
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 3 * rs + 100);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, 3 * rs + 100);
  closeSync(fd);
  appendFileSync(seg, Buffer.alloc(rs / 2, 7));
  const c = new EmbeddingCache(embedder.spec, root);
  const info = c.info();
  c.close();
  assert.equal(info.entries, 9);
  assert.equal(info.skippedCorrupt, 1);
  assert.equal(info.truncatedBytes, rs / 2);
  const calls = embedder.modelCalls;
  const again = await embedWithCache(syntheticTexts(100, 10), { embedder, cacheDir: root });
  assert.equal(again.hits, 9);
  assert.equal(again.misses, 1);
  assert.equal(embedder.modelCalls - calls, 1);
});

function runChild(root: string, start: number, count: number, chunk: number, killAfterRows?: number) {
  const script = path.join(__dirname, "fixtures", "embed-child.js");
  const child = spawn(process.execPath, [script, root, String(start), String(count), String(chunk)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ROUTERLAB_QUIET: "1" },
  });
  let rows = 0;
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    for (const m of d.toString().matchAll(/rows (\d+)/g)) rows = Number(m[1]);
    if (killAfterRows !== undefined && rows >= killAfterRows) child.kill("SIGKILL");
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; rows: number; stderr: string }>(
    (resolve) => child.on("close", (code, signal) => resolve({ code, signal, rows, stderr })),
  );
}

test("a run killed midway (SIGKILL) resumes: nothing torn, done work is not redone", async () => {
  const root = tmp();
  const n = 240;
  const res = await runChild(root, 1000, n, 16, 48);
  assert.equal(res.signal, "SIGKILL", `child should have been killed: ${res.stderr}`);
  assert.ok(res.rows >= 48 && res.rows < n, `killed after ${res.rows} rows`);
  const c = new EmbeddingCache(embedder.spec, root);
  const info = c.info();
  c.close();
  assert.equal(info.skippedCorrupt, 0);
  assert.ok(info.entries >= res.rows && info.entries < n, `entries ${info.entries}`);
  const calls = embedder.modelCalls;
  const texts = syntheticTexts(1000, n);
  const resumed = await embedWithCache(texts, { embedder, cacheDir: root });
  assert.equal(resumed.hits, info.entries);
  assert.equal(resumed.misses, n - info.entries);
  assert.equal(embedder.modelCalls - calls, n - info.entries);
  const direct = await embedder.embed(texts);
  const cos = rowCosines(resumed.matrix, direct);
  assert.ok(Math.min(...cos) > 0.99999, `min cosine ${Math.min(...cos)}`);
});

test("two concurrent writers on overlapping texts leave a consistent cache", async () => {
  const root = tmp();
  const [a, b] = await Promise.all([runChild(root, 0, 64, 8), runChild(root, 32, 64, 8)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(segments(root).length, 2, "each writer appends to its own segment");
  const c = new EmbeddingCache(embedder.spec, root);
  const info = c.info();
  c.close();
  assert.equal(info.skippedCorrupt, 0);
  assert.equal(info.truncatedBytes, 0);
  assert.equal(info.entries, 96);
  const calls = embedder.modelCalls;
  const r = await embedWithCache(syntheticTexts(0, 96), { embedder, cacheDir: root });
  assert.equal(r.misses, 0);
  assert.equal(embedder.modelCalls, calls);
});
