import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { MlflowClient } from "../../lib/tracking/client";
import { projectRoot } from "../../lib/util/paths";
import { launchBrowser } from "../support/browser";
import { runChild } from "../support/spawn";
import { startCommand } from "./support";

/**
 * The runs as a person looks at them: the main job in sample mode (`routerlab run --sample 300`, journal only),
 * then `routerlab ui` (local MLflow server, journal synced in), and the MLflow UI's run page in headless Chromium
 * shows the run's metrics, params and its HTML report artifact. Screenshots are kept under the test logs.
 */
describe("the MLflow UI over a main-job run, in a real browser", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-ui-browser-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, ROUTERLAB_OUT_DIR: path.join(tmp, "out") };
  delete env.MLFLOW_TRACKING_URI;
  delete env.ROUTERLAB_TRACKING_DIR;

  it("routerlab run --sample 300, then routerlab ui: the run page shows metrics, params and report.html", async () => {
    const cli = path.join(projectRoot(), "dist", "lib", "cli", "main.js");
    const job = await runChild(process.execPath, [cli, "run", "--sample", "300"], {
      env,
      cwd: projectRoot(),
      timeoutMs: 900_000,
    });
    assert.equal(job.code, 0, `routerlab run failed:\n${job.stderr.slice(-3000)}`);

    const ui = await startCommand("ui-browser", ["ui", "--dir", path.join(tmp, "mlflow")], "MLflow UI", {
      env,
    });
    const browser = await launchBrowser();
    try {
      // one run per binary dataset (MMLU, GSM8K, MT-Bench) and one for the multi-model comparison
      assert.match(ui.output(), /4\/4 journal runs synced/);
      const client = new MlflowClient(ui.url);
      const exp = await client.getExperimentByName("routerlab-main");
      assert.ok(exp, "the main job's experiment");
      const runs = await client.searchRuns([exp.experiment_id]);
      const run = runs.find((r) => r.info.run_name === "routellm-mmlu-binary");
      assert.ok(run, `the MMLU run (got ${runs.map((r) => r.info.run_name).join(", ")})`);
      const page = browser.page;
      const runUrl = `${ui.url}/#/experiments/${exp.experiment_id}/runs/${run.info.run_id}`;

      await page.goto(runUrl);
      await page.getByText("routellm-mmlu-binary").first().waitFor({ timeout: 60_000 });
      for (const metric of ["knn.apgr", "mlp.cpt50", "calibration.threshold"]) {
        await page.getByText(metric, { exact: true }).first().waitFor({ timeout: 30_000 });
      }
      const apgr = run.data.metrics.find((m) => m.key === "knn.apgr");
      assert.ok(apgr, "knn.apgr on the server");
      await page.getByText(String(apgr.value), { exact: true }).first().waitFor({ timeout: 30_000 });
      for (const param of ["binary.folds", "embedding.precision"]) {
        await page.getByText(param, { exact: true }).first().waitFor({ timeout: 30_000 });
      }
      await browser.screenshot("mlflow-run-overview");

      await page.goto(`${runUrl}/artifacts`);
      const report = page.getByText("report.html", { exact: true }).first();
      await report.waitFor({ timeout: 60_000 });
      await report.click();
      // The artifact viewer shows an HTML artifact in an iframe.
      await page.locator("iframe").first().waitFor({ timeout: 60_000 });
      await browser.screenshot("mlflow-run-report");
    } catch (e) {
      await browser.screenshot("mlflow-FAILED").catch(() => undefined);
      throw e;
    } finally {
      await browser.close();
      await ui.interruptAndCheck();
    }
  });
});
