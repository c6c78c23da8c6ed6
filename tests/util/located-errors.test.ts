import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { decodeJsonTraceRequest } from "../../lib/collect/wire";
import { readOperatingPoint } from "../../lib/export/operating-point";
import { startSimServer } from "../../lib/llm/sim/server";
import type { SimModel } from "../../lib/llm/sim/types";
import { RouterlabError } from "../../lib/util/errors";
import { RoutingRowSchema, toJsonl } from "../../lib/oracle/outputs";

/** Issue 15: schema errors outside the CLI go through lib/util/zod-error.ts and keep file, JSON path and field. */

function located(re: RegExp, field: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof RouterlabError, `a RouterlabError, not ${String(e)}`);
    assert.match(e.message, re);
    assert.equal(e.location?.field, field);
    return true;
  };
}

test("a bad operating point in a manifest names the manifest, the JSON path and the field", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-located-"));
  try {
    writeFileSync(
      path.join(dir, "manifest.json"),
      JSON.stringify({ metadata: { operating_point: { schema: "routerlab.operating_point.v0" } } }),
    );
    assert.throws(
      () => readOperatingPoint(dir),
      located(
        new RegExp(
          `^${path.join(dir, "manifest.json").replace(/[/.]/g, "\\$&")} \\$\\.metadata\\.operating_point\\.schema field 'schema': `,
        ),
        "schema",
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad simulator models name the option, the JSON path of the model and the field", async () => {
  const models = [{ id: "m1" }, { id: 7 }] as unknown as SimModel[];
  await assert.rejects(
    startSimServer({ models, facts: [], seed: 1 }),
    located(/^\(SimServerOptions\.models\) \$\[0\]\.kind field 'kind': invalid simulator models: /, "kind"),
  );
});

test("a malformed OTLP/JSON request names the JSON path of the bad key", () => {
  assert.throws(
    () =>
      decodeJsonTraceRequest({ resourceSpans: [{ scopeSpans: "no" }] }, { maxSpans: 10, maxValueDepth: 10 }),
    /not an OTLP\/JSON ExportTraceServiceRequest: \$\.resourceSpans\[0\]\.scopeSpans: /,
  );
});

test("a row that does not match its output schema names the output file, its line and the field (was: no file)", () => {
  const good = {
    query: "q",
    model_name: "m",
    performance: 1,
    input_tokens: 3,
    output_tokens: 4,
    cost: 0.001,
    query_id: "q1",
    label: "A",
  };
  const text = toJsonl([good], RoutingRowSchema, "/out/routing.jsonl");
  assert.equal(text.split("\n").length, 2);
  assert.throws(
    () => toJsonl([good, { ...good, performance: 1.5 }], RoutingRowSchema, "/out/routing.jsonl"),
    (e: unknown) =>
      located(
        /^\/out\/routing\.jsonl:2 field 'performance': row does not match its output schema/,
        "performance",
      )(e) && (e as RouterlabError).location?.line === 2,
  );
});
