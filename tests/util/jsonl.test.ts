import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { z } from "zod";
import { RouterlabError } from "../../lib/util/errors";
import { readJsonl, readJsonlLines } from "../../lib/util/jsonl";

const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-jsonl-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const Row = z.strictObject({ id: z.string(), n: z.number() });

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

test("reads rows with their line numbers, skipping blank lines", () => {
  const f = file("ok.jsonl", '{"id":"a","n":1}\n\n{"id":"b","n":2}\n');
  assert.deepEqual(readJsonlLines(f, Row), [
    { line: 1, value: { id: "a", n: 1 } },
    { line: 3, value: { id: "b", n: 2 } },
  ]);
  assert.deepEqual(
    readJsonl(f, Row).map((r) => r.id),
    ["a", "b"],
  );
});

test("errors name the file, the line and the field", () => {
  const bad = file("bad.jsonl", '{"id":"a","n":1}\n{"id":"b","n":"two"}\n');
  assert.throws(
    () => readJsonl(bad, Row),
    (e: unknown) =>
      e instanceof RouterlabError &&
      /bad\.jsonl/.test(e.message) &&
      /:2/.test(e.message) &&
      /n/.test(e.message),
  );
  const torn = file("torn.jsonl", '{"id":"a","n":1}\n{"id":"b",');
  assert.throws(() => readJsonl(torn, Row), /torn\.jsonl:2.*invalid JSON/s);
  assert.throws(() => readJsonl(path.join(dir, "missing.jsonl"), Row, "facts"), /cannot read facts/);
});
