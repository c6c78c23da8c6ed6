import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { Grade } from "../../lib/eval/simpleqa";
import { loadOracleConfig } from "../../lib/oracle/config";
import {
  CELL_KEYS,
  countMatrix,
  DEFAULT_LABEL_TABLE,
  formatMatrix,
  labelDistribution,
  labelFor,
  tableLabels,
} from "../../lib/oracle/labels";
import { RouterlabError } from "../../lib/util/errors";

function tmpYaml(text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oracle-cfg-"));
  const f = path.join(dir, "oracle.yaml");
  writeFileSync(f, text);
  return f;
}

describe("oracle label table", () => {
  it("maps all 9 cells with the default policies", () => {
    const expected: Record<string, string> = {
      "A/A": "Standard_Query",
      "A/B": "Standard_Query",
      "A/C": "Standard_Query",
      "B/A": "Complex_Query",
      "C/A": "Complex_Query",
      "B/B": "Ambiguous_Query",
      "B/C": "Ambiguous_Query",
      "C/B": "Ambiguous_Query",
      "C/C": "Ambiguous_Query",
    };
    assert.equal(CELL_KEYS.length, 9);
    for (const cell of CELL_KEYS) {
      const [w, s] = cell.split("/") as [Grade, Grade];
      assert.equal(labelFor(DEFAULT_LABEL_TABLE, w, s), expected[cell], cell);
    }
    assert.deepEqual(tableLabels(DEFAULT_LABEL_TABLE), [
      "Standard_Query",
      "Complex_Query",
      "Ambiguous_Query",
    ]);
  });

  it("takes an override table from the config, and names file, line and field for a bad one", () => {
    const f = tmpYaml(
      [
        "data: { source: simpleqa }",
        "labels:",
        "  A: { A: cheap, B: cheap, C: cheap }",
        "  B: { A: premium, B: premium, C: review }",
        "  C: { A: premium, B: review, C: review }",
      ].join("\n"),
    );
    const cfg = loadOracleConfig(f);
    assert.equal(labelFor(cfg.labels, "B", "B"), "premium");
    assert.equal(labelFor(cfg.labels, "C", "C"), "review");
    assert.equal(labelFor(cfg.labels, "A", "C"), "cheap");

    const rest = ["  B: { A: x, B: y, C: z }", "  C: { A: x, B: y, C: z }"];
    const badName = tmpYaml(
      ["data: { source: simpleqa }", "labels:", '  A: { A: x, B: y, C: "two words" }', ...rest].join("\n"),
    );
    assert.throws(
      () => loadOracleConfig(badName),
      (e: unknown) =>
        e instanceof RouterlabError && /oracle\.yaml:3 /.test(e.message) && /labels\.A\.C/.test(e.message),
    );
    const missing = tmpYaml(
      ["data: { source: simpleqa }", "labels:", "  A: { A: x, B: y }", ...rest].join("\n"),
    );
    assert.throws(
      () => loadOracleConfig(missing),
      (e: unknown) => e instanceof RouterlabError && /field 'labels\.A\.C'/.test(e.message),
    );
  });

  it("counts the matrix, the label distribution and prints counts per cell", () => {
    const pairs: { weak: Grade; strong: Grade }[] = [
      { weak: "A", strong: "A" },
      { weak: "A", strong: "A" },
      { weak: "B", strong: "A" },
      { weak: "C", strong: "C" },
      { weak: "C", strong: "A" },
    ];
    const m = countMatrix(pairs);
    assert.equal(m["A/A"], 2);
    assert.equal(m["B/A"], 1);
    assert.equal(m["C/A"], 1);
    assert.equal(m["C/C"], 1);
    assert.equal(m["B/B"], 0);
    assert.deepEqual(labelDistribution(m, DEFAULT_LABEL_TABLE), {
      Standard_Query: 2,
      Complex_Query: 2,
      Ambiguous_Query: 1,
    });
    const text = formatMatrix(m, DEFAULT_LABEL_TABLE, { weak: "w", strong: "s" });
    const lines = text.split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[2]!, /^A correct .*\| 2 Standard_Query .*\| 0 Standard_Query .*\| 0 Standard_Query/);
    assert.match(
      lines[4]!,
      /^C not_attempted .*\| 1 Complex_Query .*\| 0 Ambiguous_Query .*\| 1 Ambiguous_Query/,
    );
  });
});
