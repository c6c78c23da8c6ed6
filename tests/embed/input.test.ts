import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { assertGatewayCompatible, createEmbedder, defaultModelDir, embedWithCache } from "../../lib/embed";
import type { Embedder } from "../../lib/embed";
import { rowCosines } from "../peers/embed-reference";
import { RouterlabError } from "../../lib/util/errors";

let embedder: Embedder;
const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "routerlab-embinput-"));
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

function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RouterlabError, `expected RouterlabError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

test("empty and whitespace-only texts are rejected naming the row", async () => {
  await rejectsWith(embedder.embed(["ok", ""]), /\$\[1\].*empty text/);
  await rejectsWith(embedder.embed([" \n\t "]), /\$\[0\].*empty text/);
  await rejectsWith(
    embedWithCache(["fine", "   "], { embedder, cacheDir: tmp(), source: "q.jsonl" }),
    /q\.jsonl \$\[1\]/,
  );
});

test("non-string values are rejected with their type", async () => {
  for (const bad of [42, null, undefined, { text: "x" }, ["x"]]) {
    await rejectsWith(embedder.embed(["ok", bad as unknown as string]), /\$\[1\].*expected a string/);
  }
});

test("lone surrogates are rejected; valid surrogate pairs (emoji) embed", async () => {
  await rejectsWith(embedder.embed(["abc\uD800def"]), /lone UTF-16 surrogate/);
  await rejectsWith(embedder.embed(["\uDC00"]), /lone UTF-16 surrogate/);
  const m = await embedder.embed(["rocket 🚀 launch"]);
  assert.equal(m.rows, 1);
  let norm = 0;
  for (const x of m.data) norm += x * x;
  assert.ok(Math.abs(norm - 1) < 1e-5, `unit norm, got ${norm}`);
});

test("1 MB texts are truncated to the first 256 word-pieces, exactly like full tokenisation", async () => {
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const dir = defaultModelDir();
  const tok = new Tokenizer(
    JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")) as object,
    JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")) as object,
  );
  const words = "Supercalifragilistic routing décision 北京 🚀 x=1; ";
  const big = words.repeat(Math.ceil(1_000_000 / words.length));
  const emoji = "🚀".repeat(500_000); // no word boundary at all: tokenised whole (documented, ~2 s)
  const longWord = "a".repeat(1_000_000); // one 1M-char word: a single [UNK]
  const code = "x=f(a,b);".repeat(110_000); // minified code: punctuation boundaries only
  for (const [text, limitMs] of [
    [big, 1500],
    [code, 1500],
    [emoji, 10000],
    [longWord, 10000],
  ] as const) {
    const t0 = Date.now();
    const ids = embedder.tokenize(text);
    const ms = Date.now() - t0;
    const full = tok.encode(text, { add_special_tokens: false }).ids;
    const expected = [101, ...full.slice(0, 254), 102];
    assert.deepEqual(ids, expected);
    assert.ok(ids.length <= 256);
    assert.ok(ms < limitMs, `tokenising 1 MB took ${ms} ms`);
  }
  const m = await embedder.embed([big, big.slice(0, 3000)]);
  const cos = rowCosines({ ...m, rows: 1 }, { data: m.data.subarray(384), rows: 1, dim: 384 });
  assert.ok(cos[0]! > 0.99999, "the tail beyond 256 word-pieces does not change the vector");
});

test("assertGatewayCompatible names the mismatching property", () => {
  assertGatewayCompatible(embedder.spec);
  assert.throws(
    () => assertGatewayCompatible({ ...embedder.spec, precision: "int8" }),
    /precision is "int8".*not bit-compatible/,
  );
  assert.throws(() => assertGatewayCompatible({ ...embedder.spec, maxLength: 512 }), /maxLength is 512/);
  assert.throws(() => assertGatewayCompatible({ ...embedder.spec, dim: 768 }), /dim is 768/);
  assert.throws(() => assertGatewayCompatible({ ...embedder.spec, weightsSha256: "" }), /weightsSha256/);
});

test("a missing model directory gives one clear error saying how to provision it", async () => {
  const dir = path.join(tmp(), "nope");
  await rejectsWith(createEmbedder({ modelDir: dir }), /embedding model not found.*provision/s);
});

test("a corrupt model gives a clear error (sha mismatch with provenance, or unloadable ONNX)", async () => {
  const src = defaultModelDir();
  const withProv = tmp();
  for (const f of ["tokenizer.json", "tokenizer_config.json", "provenance.json"]) {
    symlinkSync(path.join(src, f), path.join(withProv, f));
  }
  writeFileSync(path.join(withProv, "model.onnx"), Buffer.alloc(1000, 1));
  await rejectsWith(createEmbedder({ modelDir: withProv }), /corrupt: sha256 .* differs from provenance/);
  const noProv = tmp();
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    symlinkSync(path.join(src, f), path.join(noProv, f));
  writeFileSync(path.join(noProv, "model.onnx"), Buffer.alloc(1000, 1));
  await rejectsWith(createEmbedder({ modelDir: noProv }), /cannot load the ONNX model.*provision/s);
  const badTok = tmp();
  symlinkSync(path.join(src, "model.onnx"), path.join(badTok, "model.onnx"));
  writeFileSync(path.join(badTok, "tokenizer.json"), "{ not json");
  symlinkSync(path.join(src, "tokenizer_config.json"), path.join(badTok, "tokenizer_config.json"));
  await rejectsWith(createEmbedder({ modelDir: badTok }), /tokenizer\.json: embedding model file is corrupt/);
});
