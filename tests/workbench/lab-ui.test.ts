import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { MlflowClient } from "../../lib/tracking/client";
import { startRun } from "../../lib/tracking/run";
import { testServices } from "../support/services";
import { refused, startCommand } from "./support";

/**
 * `routerlab lab` (what `npm run lab` runs after provisioning and building) and `routerlab ui` (`npm run ui`): each
 * is started as a person would, its HTTP endpoints answer, and Ctrl-C leaves nothing running.
 */
describe("workbench commands: lab and ui", () => {
  const svc = testServices();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-workbench-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const baseEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ROUTERLAB_OUT_DIR: path.join(tmp, "out"), ...extra };
    delete env.MLFLOW_TRACKING_URI;
    return env;
  };

  it("routerlab lab serves the notebooks with the tslab kernel on loopback, behind its token", async () => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1 (scripts/setup-jupyter.sh ran)");
    const lab = await startCommand("lab", ["lab"], "JupyterLab", { env: baseEnv({}) });
    try {
      const u = new URL(lab.url);
      assert.equal(u.hostname, "127.0.0.1");
      const token = u.searchParams.get("token") ?? "";
      assert.ok(token.length >= 32, "a random token is printed");
      const base = u.origin;
      const get = (p: string, withToken = true): Promise<Response> =>
        fetch(`${base}${p}${withToken ? `${p.includes("?") ? "&" : "?"}token=${token}` : ""}`);
      assert.equal((await get("/api/contents")).status, 200);
      assert.equal((await get("/api/contents", false)).status, 403, "nothing without the token");
      const contents = (await (await get("/api/contents")).json()) as { content: { name: string }[] };
      const names = contents.content.map((c) => c.name);
      for (const nb of ["01_exploration.ipynb", "05_threshold_calibration.ipynb", "06_promote.ipynb"]) {
        assert.ok(names.includes(nb), `${nb} is served (got ${names.join(", ")})`);
      }
      const specs = (await (await get("/api/kernelspecs")).json()) as {
        kernelspecs: Record<string, unknown>;
      };
      assert.ok("tslab" in specs.kernelspecs, "the tslab kernel is registered");
      const page = await get("/lab");
      assert.equal(page.status, 200);
      assert.match(await page.text(), /JupyterLab/);
    } finally {
      await lab.interruptAndCheck();
    }
    assert.ok(await refused(lab.url), "JupyterLab no longer answers");
  });

  it("routerlab ui starts a local MLflow server, syncs the journal into it, and stops on Ctrl-C", async () => {
    const journal = path.join(tmp, "journal");
    const run = startRun({
      experiment: "workbench-ui",
      runName: "demo",
      journalDir: journal,
      trackingUri: "",
      handleSignals: false,
    });
    run.logParams({ "router.kind": "knn" });
    run.logMetrics({ apgr: 0.61 });
    run.logHtml("report.html", "<html><body>report</body></html>");
    const local = await run.end();
    const mlflowDir = path.join(tmp, "mlflow");
    const ui = await startCommand("ui", ["ui", "--dir", mlflowDir], "MLflow UI", {
      env: baseEnv({ ROUTERLAB_TRACKING_DIR: journal }),
    });
    try {
      assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(ui.output(), /1\/1 journal runs synced/);
      assert.equal((await fetch(`${ui.url}/health`)).status, 200);
      assert.equal((await fetch(ui.url)).status, 200, "the UI page");
      const client = new MlflowClient(ui.url);
      const exp = await client.getExperimentByName("workbench-ui");
      assert.ok(exp, "the journal's experiment is on the server");
      const [r] = await client.searchRuns([exp.experiment_id]);
      assert.ok(r, "the run is on the server");
      assert.deepEqual(
        r.data.metrics.map((m) => [m.key, m.value]),
        [["apgr", 0.61]],
      );
      assert.ok(r.data.params.some((p) => p.key === "router.kind" && p.value === "knn"));
      const files = await client.listArtifacts(r.info.run_id);
      assert.ok(
        files.some((f) => f.path.endsWith("report.html")),
        JSON.stringify(files),
      );
    } finally {
      await ui.interruptAndCheck();
    }
    assert.ok(await refused(ui.url), "the MLflow server no longer answers");
    assert.ok(local.runDir.startsWith(journal));
  });

  it("routerlab ui with MLFLOW_TRACKING_URI set only syncs to that server and prints its URL", async () => {
    const journal = path.join(tmp, "journal-remote");
    const run = startRun({
      experiment: "workbench-ui-remote",
      journalDir: journal,
      trackingUri: "",
      handleSignals: false,
    });
    run.logMetrics({ cpt50: 0.4 });
    await run.end();
    const ui = await startCommand("ui-remote", ["ui"], "MLflow UI", {
      env: { ...baseEnv({ ROUTERLAB_TRACKING_DIR: journal }), MLFLOW_TRACKING_URI: svc.mlflowUri },
    });
    assert.equal(ui.url, svc.mlflowUri);
    assert.equal(ui.serverPid, undefined, "no server started");
    assert.equal(await ui.exitCode(), 0, ui.output());
    const exp = await new MlflowClient(svc.mlflowUri).getExperimentByName("workbench-ui-remote");
    assert.ok(exp, "synced to the given server");
  });
});
