import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { createEmbedder, embedWithCache } from "../../lib/embed/index";
import { embedDatasets } from "../../lib/pipeline/embed-datasets";
import { realQueries } from "../peers/embed-probe";

// The main job embeds its datasets in one background stream and fits each one as soon as its texts are in
// (lib/pipeline/embed-datasets.ts): the first dataset must be ready before the stream ends, and every vector must be
// the one a single embedWithCache call over the same distinct texts, in the same chunks, gives.
test("datasets are embedded in order, each ready as soon as its texts are, with the vectors of one stream", async () => {
  const q = realQueries(70, 3);
  const a = { name: "a", queries: q.slice(0, 40) };
  const b = { name: "b", queries: [...q.slice(30, 40), ...q.slice(40, 60)] }; // 10 texts shared with a
  const c = { name: "c", queries: [q[5]!, q[1]!, q[5]!] }; // nothing new
  const unique = q.slice(0, 60);
  const dirs = [0, 1, 2].map(() => mkdtempSync(path.join(os.tmpdir(), "routerlab-embed-datasets-")));
  try {
    const ready: string[] = [];
    let finished = false;
    const e = embedDatasets([a, b, c], "fp32", (d) => ready.push(d.name), {
      cacheDir: dirs[0],
      chunkSize: 16,
    });
    void e.done.then(() => (finished = true));
    const ma = await e.matrix(a);
    assert.equal(
      finished,
      false,
      "the first dataset is ready while the later texts are still being embedded",
    );
    assert.deepEqual(ready, ["a"]);
    const totals = await e.done;
    assert.deepEqual(ready, ["a", "b", "c"]);
    assert.deepEqual([totals.texts, totals.misses, totals.hits], [60, 60, 0]);

    const embedder = await createEmbedder({ precision: "fp32" });
    const ref = await embedWithCache(unique, { embedder, cacheDir: dirs[1], chunkSize: 16 });
    await embedder.dispose();
    const row = (i: number) => Array.from(ref.matrix.data.subarray(i * 384, (i + 1) * 384));
    const rowsOf = (m: { data: Float32Array }, n: number) =>
      Array.from({ length: n }, (_, i) => Array.from(m.data.subarray(i * 384, (i + 1) * 384)));
    assert.deepEqual(
      rowsOf(ma, 40),
      a.queries.map((t) => row(unique.indexOf(t))),
    );
    assert.deepEqual(
      rowsOf(await e.matrix(b), 30),
      b.queries.map((t) => row(unique.indexOf(t))),
    );
    assert.deepEqual(
      rowsOf(await e.matrix(c), 3),
      c.queries.map((t) => row(unique.indexOf(t))),
    );

    const again = embedDatasets([a, b, c], "fp32", () => {}, { cacheDir: dirs[0], chunkSize: 16 });
    assert.equal((await again.done).misses, 0, "a second run is served by the cache");

    const stopped = embedDatasets([a, b], "fp32", () => {}, { cacheDir: dirs[2], chunkSize: 16 });
    await stopped.matrix(a);
    stopped.stop();
    await assert.rejects(stopped.done, /embedding stopped/);
    await assert.rejects(stopped.matrix(b), /embedding stopped/);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
