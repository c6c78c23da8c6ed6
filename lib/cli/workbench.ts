import type { Command } from "commander";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { trackingUriFromEnv } from "../tracking/runs";
import { startLab } from "../workbench/lab";
import { startMlflowUi, syncJournal } from "../workbench/mlflow-ui";
import { serveUntilInterrupted } from "../workbench/server-process";
import { parseOptions } from "./options";

const port = z.coerce.number().int().min(1).max(65535).optional();
const LabOptions = z.object({ port, notebooks: z.string().min(1).optional() });
const UiOptions = z.object({
  port,
  dir: z.string().min(1).optional(),
  artifacts: z.string().min(1).optional(),
  journal: z.string().min(1).optional(),
});

async function runLab(raw: unknown): Promise<void> {
  const o = parseOptions(LabOptions, raw);
  const lab = await startLab({ port: o.port, notebookDir: o.notebooks });
  process.stdout.write(
    [
      `JupyterLab: ${lab.url}`,
      `  serving ${o.notebooks ?? "notebooks/"} on ${lab.baseUrl} (loopback only), token ${lab.token}`,
      "  notebooks import the compiled library from dist/ (`npm run build` after changing lib/)",
      `  log: ${lab.server.logFile}; server pid ${lab.server.pid} (its own process group)`,
      "  stop with Ctrl-C",
      "",
    ].join("\n"),
  );
  process.exitCode = await serveUntilInterrupted(lab.server, "JupyterLab");
}

async function runUi(raw: unknown): Promise<void> {
  const o = parseOptions(UiOptions, raw);
  const log = (line: string): void => void process.stdout.write(`  ${line}\n`);
  const given = trackingUriFromEnv();
  if (given !== undefined) {
    const s = await syncJournal(given, { journal: o.journal, log });
    process.stdout.write(
      `MLflow UI: ${given} (MLFLOW_TRACKING_URI; ${s.synced}/${s.runs} journal runs synced)\n`,
    );
    if (s.failures.length > 0)
      throw new RouterlabError(`${s.failures.length} run(s) could not be synced`, undefined, "run it again");
    return;
  }
  const ui = await startMlflowUi({ port: o.port, dir: o.dir, artifacts: o.artifacts });
  try {
    const s = await syncJournal(ui.url, { journal: o.journal, log });
    process.stdout.write(
      [
        `MLflow UI: ${ui.url}`,
        `  ${s.synced}/${s.runs} journal runs synced${s.failures.length > 0 ? ` (${s.failures.length} failed, see above)` : ""}`,
        `  log: ${ui.server.logFile}; server pid ${ui.server.pid} (its own process group)`,
        "  stop with Ctrl-C",
        "",
      ].join("\n"),
    );
  } catch (e) {
    await ui.server.stop();
    throw e;
  }
  process.exitCode = await serveUntilInterrupted(ui.server, "the MLflow server");
}

/** `routerlab lab` and `routerlab ui`: JupyterLab on the notebooks, the MLflow UI over the runs. */
export function registerWorkbenchCommands(program: Command): void {
  program
    .command("lab")
    .description(
      "Start JupyterLab (tslab kernel) on the notebooks, on loopback with a token; `npm run lab` provisions and builds first",
    )
    .option("--port <n>", "port on 127.0.0.1 (default: a free one)")
    .option("--notebooks <dir>", "folder to serve (default: notebooks/)")
    .action(runLab);
  program
    .command("ui")
    .description(
      "Start a local MLflow server (SQLite + artifacts under out/mlflow, loopback) and sync the run journal into it; with MLFLOW_TRACKING_URI set, only sync to that server",
    )
    .option("--port <n>", "port on 127.0.0.1 (default: 5000 when free, else a free one)")
    .option("--dir <dir>", "folder for the store, artifacts and log (default: out/mlflow)")
    .option(
      "--artifacts <uri>",
      "artifact destination (default: <dir>/artifacts; s3://bucket/prefix uses the AWS_* env)",
    )
    .option("--journal <dir>", "journal folder (default: $ROUTERLAB_TRACKING_DIR or out/mlruns-journal)")
    .action(runUi);
}
