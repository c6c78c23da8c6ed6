import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  barChart,
  displayInNotebook,
  figuresToHtml,
  notebookBundle,
  PLOTLY_MIME,
  histogram,
  htmlTable,
  writeFiguresHtml,
} from "../../lib/plots/plotly";

test("barChart builds one bar trace per series", () => {
  const fig = barChart(
    "acc",
    ["a", "b"],
    [
      { name: "m1", y: [0.5, 0.7] },
      { name: "m2", y: [0.1, 0.2] },
    ],
  );
  assert.equal(fig.data.length, 2);
  assert.equal(fig.data[0]!.type, "bar");
  assert.deepEqual(fig.data[1]!.y, [0.1, 0.2]);
  assert.equal(fig.layout.barmode, "group");
});

test("standalone HTML inlines plotly.js and the figure data, escaping script breaks", () => {
  const fig = histogram("len </script><b>", [{ name: "q</script>", values: [1, 2, 3] }]);
  const html = figuresToHtml([fig], { title: "t <x>" });
  assert.match(html, /window\.Plotly = Plotly/);
  assert.match(html, /Plotly\.newPlot\("fig-0"/);
  assert.ok(html.includes("<title>t &lt;x&gt;</title>"));
  // the only closing script tags are the ones we emit: 1 for plotly + 1 per figure
  assert.equal(html.split("</script>").length - 1, 2);
  assert.ok(html.includes("q\\u003c/script\\u003e"));
  assert.ok(html.length > 1_000_000, "plotly.js is inlined, so the page works offline");
});

test("writeFiguresHtml creates the folder and writes the file", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-plots-"));
  try {
    const file = writeFiguresHtml(
      path.join(dir, "a", "b.html"),
      [barChart("x", ["a"], [{ name: "s", y: [1] }])],
      {
        bodyHtml: htmlTable(["model", "acc"], [["m", 0.123456]]),
      },
    );
    const html = readFileSync(file, "utf8");
    assert.ok(html.includes("<td>0.1235</td>"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("displayInNotebook returns false outside a tslab kernel", () => {
  // tslab is installed (devDependency) but its display throws "Not ready" outside a kernel.
  assert.equal(displayInNotebook(barChart("x", ["a"], [{ name: "s", y: [1] }])), false);
});

test("notebookBundle: plotly's MIME type holds the figure as JSON, with an HTML fallback and a text line", () => {
  const fig = barChart(
    "shares </script>",
    ["a", "b"],
    [
      { name: "s1", y: [0.25, 0.75] },
      { name: "s2", y: [Number.NaN, 1] },
    ],
  );
  const first = notebookBundle(fig, { id: "x", plotlyInline: true });
  const later = notebookBundle(fig, { id: "y", plotlyInline: false });
  // What goes over the wire: JSON, where NaN becomes null (a gap for plotly).
  const wire = JSON.parse(JSON.stringify(first)) as Record<string, unknown>;
  assert.deepEqual(wire[PLOTLY_MIME], {
    data: [
      { type: "bar", name: "s1", x: ["a", "b"], y: [0.25, 0.75] },
      { type: "bar", name: "s2", x: ["a", "b"], y: [null, 1] },
    ],
    layout: JSON.parse(JSON.stringify(fig.layout)) as unknown,
    config: { responsive: true },
  });
  assert.equal(first["text/plain"], "plotly chart: shares </script> (2 traces)");
  const html = String(first["text/html"]);
  assert.ok(html.length > 1_000_000, "the first fallback inlines plotly.js");
  assert.match(html, /Plotly\.newPlot\("x-0"/);
  const laterHtml = String(later["text/html"]);
  assert.ok(laterHtml.length < 10_000, "later fallbacks wait for the plotly.js already loaded");
  assert.match(laterHtml, /typeof Plotly !== "undefined"/);
  assert.ok(!laterHtml.includes("shares </script>"), "the title cannot close the script element");
});
