import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { z } from "zod";
import { projectRoot } from "../../lib/util/paths";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-embcli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
  const r = spawnSync(process.execPath, [main, ...args], {
    encoding: "utf8",
    env: { ...process.env, ROUTERLAB_QUIET: "1" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const Sidecar = z.object({
  rows: z.number(),
  dim: z.literal(384),
  spec: z.object({ precision: z.literal("fp32"), maxLength: z.literal(256), weightsSha256: z.string() }),
  cache: z.object({ hits: z.number(), misses: z.number() }),
  rowIds: z.array(z.string()),
});

test("routerlab embed <file.jsonl> writes a float32 matrix + sidecar; the re-run is all cache hits", () => {
  const cfg = path.join(tmp, "embed.yaml");
  writeFileSync(
    cfg,
    `embedding:\n  precision: fp32\ncache:\n  dir: ${path.join(tmp, "cache")}\n  chunkSize: 4\n`,
  );
  const input = path.join(tmp, "q.jsonl");
  writeFileSync(
    input,
    [
      JSON.stringify({ id: "a", query: "What is the capital of France?" }),
      JSON.stringify("plain string row"),
      "",
      JSON.stringify({ id: 7, question: "How many legs does a spider have?" }),
      JSON.stringify({ text: "Explain routing to cheap models." }),
      JSON.stringify({ id: "dup", query: "What is the capital of France?" }),
    ].join("\n") + "\n",
  );
  const out = path.join(tmp, "q.f32");
  const first = cli(["embed", input, "--config", cfg, "--out", out]);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(statSync(out).size, 5 * 384 * 4);
  const s1 = Sidecar.parse(JSON.parse(readFileSync(path.join(tmp, "q.json"), "utf8")));
  assert.deepEqual(s1.rowIds, ["a", "2", "7", "5", "dup"]);
  assert.deepEqual(s1.cache, { hits: 1, misses: 4 });
  const bytes1 = readFileSync(out);
  const v = new Float32Array(bytes1.buffer, bytes1.byteOffset, 5 * 384);
  assert.deepEqual(v.subarray(0, 384), v.subarray(4 * 384, 5 * 384), "duplicate text, same vector");
  const second = cli(["embed", input, "--config", cfg, "--out", out]);
  assert.equal(second.status, 0, second.stderr);
  const s2 = Sidecar.parse(JSON.parse(readFileSync(path.join(tmp, "q.json"), "utf8")));
  assert.deepEqual(s2.cache, { hits: 5, misses: 0 });
  assert.deepEqual(readFileSync(out), bytes1);
});

test("bad input and bad config fail with file, line and field, without a stack trace", () => {
  const cfg = path.join(tmp, "ok.yaml");
  writeFileSync(cfg, `cache:\n  dir: ${path.join(tmp, "cache")}\n`);
  const bad = path.join(tmp, "bad.jsonl");
  writeFileSync(bad, `"fine"\n{"query": 42}\n`);
  const r = cli(["embed", bad, "--config", cfg, "--out", path.join(tmp, "bad.f32")]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bad\.jsonl:2 field 'query': expected a string, got number/);
  const empty = path.join(tmp, "empty.jsonl");
  writeFileSync(empty, `"fine"\n"   "\n`);
  const r2 = cli(["embed", empty, "--config", cfg, "--out", path.join(tmp, "e.f32")]);
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /empty\.jsonl \$\[1\]: empty text/);
  const badCfg = path.join(tmp, "badcfg.yaml");
  writeFileSync(badCfg, `embedding:\n  precision: fp16\n`);
  const r3 = cli(["embed", empty, "--config", badCfg]);
  assert.notEqual(r3.status, 0);
  assert.match(r3.stderr, /badcfg\.yaml:2 field 'embedding\.precision'/);
});
