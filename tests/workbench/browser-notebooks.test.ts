import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { projectRoot } from "../../lib/util/paths";
import { startLab, type RunningLab } from "../../lib/workbench/lab";
import { writeFileAtomic } from "../../lib/util/atomic-write";
import { launchBrowser } from "../support/browser";
import { testServices } from "../support/services";

/** What the page reports about one rendered plotly chart. */
interface RenderedChart {
  title: string;
  /** Traces in the figure the chart was drawn from (`gd.data`). */
  traces: number;
  /** Trace groups drawn in the SVG (bars, histograms, scatter lines/markers, heatmaps). */
  drawnTraces: number;
  /** Bars expected from the figure's bar traces (finite values) and bars drawn. */
  bars: { expected: number; drawn: number };
  /** Markers expected from the figure's scatter traces with markers (finite y) and markers drawn. */
  markers: { expected: number; drawn: number };
  histogramBars: number;
}

/**
 * Evaluated in the page (the project compiles without DOM types, so it is plain JavaScript): the charts plotly drew,
 * with what their figures say (`gd.data`) and what their SVG holds.
 */
const READ_CHARTS = `(() => {
  const finite = (a) => (a || []).filter((v) => typeof v === "number" && Number.isFinite(v)).length;
  return [...document.querySelectorAll(".js-plotly-plot")].map((gd) => {
    const data = gd.data || [];
    const bars = data.filter((t) => t.type === "bar");
    const hist = data.filter((t) => t.type === "histogram");
    const markerTraces = data.filter((t) => (t.type || "scatter") === "scatter" && (t.mode || "").includes("markers"));
    const barGroups = [...gd.querySelectorAll(".barlayer .trace")];
    return {
      title: (gd.querySelector(".gtitle") || {}).textContent || "",
      traces: data.length,
      drawnTraces: gd.querySelectorAll(".barlayer .trace, .scatterlayer .trace, .heatmaplayer .hm").length,
      bars: {
        expected: bars.reduce((n, t) => n + finite(t.orientation === "h" ? t.x : t.y), 0),
        drawn: barGroups.slice(0, bars.length).reduce((n, g) => n + g.querySelectorAll("path").length, 0),
      },
      markers: {
        expected: markerTraces.reduce((n, t) => n + finite(t.y), 0),
        drawn: gd.querySelectorAll(".scatterlayer .trace .points path").length,
      },
      histogramBars: hist.length > 0 ? gd.querySelectorAll(".barlayer .trace path").length : 0,
    };
  });
})()`;

/** Opens a notebook in JupyterLab, runs all cells through JupyterLab's own command, waits for the kernel. */
async function runAllCells(page: Page, lab: RunningLab, notebook: string, timeoutMs: number): Promise<void> {
  await page.goto(`${lab.baseUrl}/lab/tree/${notebook}?token=${lab.token}`);
  // `--LabApp.expose_app_in_browser` gives the page `window.jupyterapp`.
  const ready = `(() => {
    const w = window.jupyterapp?.shell?.currentWidget;
    return w?.context?.path === ${JSON.stringify(notebook)} && w.sessionContext?.session?.kernel?.status === "idle";
  })()`;
  await page.waitForFunction(ready, undefined, { timeout: 120_000, polling: 500 });
  await page.evaluate(`window.jupyterapp.commands.execute("notebook:run-all-cells")`);
  const state = `(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.widgets.filter((c) => c.model.type === "code");
    const errors = cells.flatMap((c, i) => c.model.outputs.toJSON().filter((o) => o.output_type === "error").map((o) => "cell " + i + ": " + o.ename + ": " + o.evalue));
    const done = cells.every((c) => c.model.executionCount !== null) && w.sessionContext.session.kernel.status === "idle";
    return errors.length > 0 ? { errors } : done ? { done } : false;
  })()`;
  const handle = await page.waitForFunction(state, undefined, { timeout: timeoutMs, polling: 500 });
  const result = (await handle.jsonValue()) as { errors?: string[]; done?: boolean };
  assert.deepEqual(result.errors ?? [], [], `${notebook}: cells failed`);
}

async function waitForCharts(page: Page, expected: number): Promise<RenderedChart[]> {
  await page
    .waitForFunction(
      `document.querySelectorAll(".js-plotly-plot .main-svg").length >= ${expected}`,
      undefined,
      { timeout: 60_000, polling: 500 },
    )
    .catch(() => undefined);
  return (await page.evaluate(READ_CHARTS)) as RenderedChart[];
}

function assertChartDrawn(c: RenderedChart, where: string): void {
  assert.ok(c.traces > 0, `${where}: a figure with traces`);
  assert.equal(c.drawnTraces, c.traces, `${where}: every trace drawn`);
  assert.equal(c.bars.drawn, c.bars.expected, `${where}: one bar per value`);
  assert.equal(c.markers.drawn, c.markers.expected, `${where}: one marker per point`);
}

/**
 * The notebooks as a person uses them: JupyterLab (as `npm run lab` starts it) in headless Chromium, Run All, and
 * every expected plotly chart drawn as SVG with its traces and points. Screenshots are kept under the test logs.
 */
describe("notebooks in a real browser (JupyterLab + Chromium)", () => {
  const svc = testServices();
  const state = mkdtempSync(path.join(os.tmpdir(), "routerlab-lab-browser-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  const cases = [
    {
      notebook: "01_exploration.ipynb",
      sample: "100",
      // per dataset (5): accuracy, cost, win/tie/loss; query lengths; queries per group (2); SimpleQA topics, types
      charts: 20,
      titles: ["SimpleQA: questions per topic", "SimpleQA: questions per answer type"],
    },
    {
      notebook: "05_threshold_calibration.ipynb",
      sample: "150",
      charts: 1,
      titles: ["Calibration: target vs realised strong share"],
    },
  ];

  for (const c of cases) {
    it(`${c.notebook}: Run All in JupyterLab draws its ${c.charts} plotly chart(s)`, async () => {
      assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1");
      const stateDir = path.join(state, c.notebook);
      const settings = (plugin: string, value: unknown): void =>
        writeFileAtomic(path.join(stateDir, "user-settings", "@jupyterlab", plugin), JSON.stringify(value));
      // Render every cell (JupyterLab otherwise skips laying out cells scrolled out of view).
      settings("notebook-extension/tracker.jupyterlab-settings", { windowingMode: "none" });
      // The notebooks are the repository's own files: never save outputs into them, nor checkpoints beside them.
      settings("docmanager-extension/plugin.jupyterlab-settings", { autosave: false });
      const nbFile = path.join(projectRoot(), "notebooks", c.notebook);
      const stored = readFileSync(nbFile, "utf8");
      const checkpoint = path.join(
        projectRoot(),
        "notebooks",
        ".ipynb_checkpoints",
        c.notebook.replace(/\.ipynb$/, "-checkpoint.ipynb"),
      );
      const checkpointBefore = existsSync(checkpoint);
      const lab = await startLab({
        stateDir,
        env: { ROUTERLAB_NOTEBOOK_SAMPLE: c.sample, ROUTERLAB_QUIET: "1" },
        extraArgs: [
          "--LabApp.expose_app_in_browser=True",
          `--FileCheckpoints.checkpoint_dir=${path.join(stateDir, "checkpoints")}`,
        ],
      });
      const browser = await launchBrowser();
      const name = path.basename(c.notebook, ".ipynb");
      try {
        await runAllCells(browser.page, lab, c.notebook, 420_000);
        const charts = await waitForCharts(browser.page, c.charts);
        await browser.screenshot(name);
        assert.equal(charts.length, c.charts, `charts drawn: ${charts.map((x) => x.title).join(" | ")}`);
        charts.forEach((chart, i) => assertChartDrawn(chart, `chart ${i} '${chart.title}'`));
        for (const t of c.titles)
          assert.ok(
            charts.some((x) => x.title === t),
            `a chart titled '${t}'`,
          );
        if (c.notebook.startsWith("05")) {
          const [band] = charts;
          assert.equal(band!.traces, 4, "interval high, interval low, held-out share, target");
          assert.equal(band!.markers.drawn, 9, "one held-out share per target 10% ... 90%");
        }
        if (c.notebook.startsWith("01")) {
          assert.ok(
            charts.some((x) => x.histogramBars > 0),
            "the query-length histogram has bars",
          );
        }
      } catch (e) {
        await browser.screenshot(`${name}-FAILED`).catch(() => undefined);
        throw e;
      } finally {
        await browser.close();
        await lab.server.stop();
        assert.equal(readFileSync(nbFile, "utf8"), stored, `${c.notebook} left unchanged`);
        if (!checkpointBefore)
          assert.equal(existsSync(checkpoint), false, "no checkpoint beside the notebook");
      }
    });
  }
});
