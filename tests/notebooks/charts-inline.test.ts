import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { CHART_LINK } from "../support/notebooks";

/**
 * Every notebook shows its charts inline (lib/plots' displayInNotebook: plotly's MIME type with an HTML fallback),
 * never only as a link to a chart file. The executed outputs are checked by each notebook's own test
 * (assertChartsInline); this checks the stored sources of every notebook, without a kernel.
 */
describe("notebook charts are inline", () => {
  const dir = path.join(projectRoot(), "notebooks");
  const notebooks = readdirSync(dir).filter((f) => f.endsWith(".ipynb"));
  const sources = (file: string): string[] => {
    const doc = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as {
      cells: { cell_type: string; source: string | string[] }[];
    };
    return doc.cells
      .filter((c) => c.cell_type === "code")
      .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source));
  };
  // A cell that builds a figure: a chart helper from lib (…Figure(...), barChart, histogram, heatmap) or a literal.
  const buildsFigure = /\b(\w+Figure|barChart|histogram|heatmap)\(|:\s*Figure\b/;

  it("finds the notebooks", () => assert.ok(notebooks.length >= 10, notebooks.join(", ")));

  for (const file of notebooks) {
    it(`${file}: charts go through displayInNotebook, none is only a link`, () => {
      const cells = sources(file);
      const all = cells.join("\n");
      assert.doesNotMatch(all, CHART_LINK, "a chart shown only as a link");
      if (buildsFigure.test(all)) {
        assert.match(all, /\bdisplayInNotebook\(/, "builds figures but never shows them inline");
      }
      for (const src of cells) {
        if (/writeFigures?Html\(/.test(src)) {
          assert.match(src, /\bdisplayInNotebook\(/, "writes a chart file without showing the charts inline");
        }
      }
    });
  }
});
