/**
 * The MLflow UI over the project's runs (`npm run ui` / `routerlab ui`): a local MLflow tracking server from the
 * project's Python environment, bound to loopback, with its SQLite store and artifacts under a project folder
 * (out/mlflow), then the local run journal (out/mlruns-journal) synced into it. With MLFLOW_TRACKING_URI set the
 * journal is synced to that server instead and nothing is started.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { MlflowClient } from "../tracking/client";
import { journalRoot, listRunDirs } from "../tracking/journal";
import { redactString } from "../tracking/redact";
import { syncRunDir } from "../tracking/sync";
import { RouterlabError, errorMessage } from "../util/errors";
import { outDir } from "../util/paths";
import { projectVenv } from "./lab";
import { httpGet, startOnFreePort, type ServerProcess } from "./server-process";

/** MLflow's own default port: tried first, so the journal's per-server sync cursors stay valid between starts. */
export const MLFLOW_DEFAULT_PORT = 5000;

export interface MlflowUiOptions {
  /** Folder for the SQLite store, the artifacts and the log (default: out/mlflow). */
  dir?: string;
  /** Where artifacts go (default: <dir>/artifacts; an s3://bucket/prefix uses the AWS_* / MLFLOW_S3_ENDPOINT_URL env). */
  artifacts?: string;
  port?: number;
  venv?: string;
}

export interface RunningMlflowUi {
  url: string;
  server: ServerProcess;
}

export async function startMlflowUi(opts: MlflowUiOptions = {}): Promise<RunningMlflowUi> {
  const mlflow = path.join(opts.venv ?? projectVenv(), "bin", "mlflow");
  if (!existsSync(mlflow)) {
    throw new RouterlabError(
      "mlflow is not installed",
      { file: mlflow },
      "run `npm run ui` (it provisions it)",
    );
  }
  const dir = path.resolve(opts.dir ?? path.join(outDir(), "mlflow"));
  mkdirSync(dir, { recursive: true });
  const artifacts = opts.artifacts ?? path.join(dir, "artifacts");
  if (!/^s3:\/\//.test(artifacts)) mkdirSync(artifacts, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MLFLOW_DISABLE_TELEMETRY: "true",
    DO_NOT_TRACK: "true",
    // MLflow 3 otherwise starts a job runner and a pool of consumer processes this UI does not need.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false",
    PYTHONUNBUFFERED: "1",
  };
  const url = (port: number): string => `http://127.0.0.1:${port}`;
  const { port, server } = await startOnFreePort(opts.port ?? MLFLOW_DEFAULT_PORT, (port) => {
    const args = [
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--workers",
      "1",
      "--backend-store-uri",
      `sqlite:///${path.join(dir, "mlflow.db")}`,
      "--serve-artifacts",
      "--artifacts-destination",
      artifacts,
      "--allowed-hosts",
      `127.0.0.1:${port},localhost:${port},127.0.0.1,localhost`,
      "--cors-allowed-origins",
      `http://127.0.0.1:${port},http://localhost:${port}`,
    ];
    return {
      cmd: mlflow,
      args,
      logFile: path.join(dir, "mlflow-server.log"),
      env,
      cwd: dir,
      what: "the MLflow server",
      ready: async () => {
        if ((await httpGet(`${url(port)}/health`))?.ok !== true) return false;
        return (await httpGet(`${url(port)}/api/2.0/mlflow/experiments/search?max_results=1`))?.ok === true;
      },
      timeoutMs: 180_000,
    };
  });
  return { url: url(port), server };
}

export interface JournalSyncSummary {
  runs: number;
  synced: number;
  failures: { run: string; error: string }[];
}

/** Replays every run of the journal to `trackingUri` (idempotent: what is already there is not sent again). */
export async function syncJournal(
  trackingUri: string,
  opts: { journal?: string; log?: (line: string) => void } = {},
): Promise<JournalSyncSummary> {
  const root = opts.journal ?? journalRoot();
  const dirs = existsSync(root) ? listRunDirs(root) : [];
  const client = new MlflowClient(trackingUri);
  const failures: JournalSyncSummary["failures"] = [];
  for (const dir of dirs) {
    const id = path.basename(dir);
    try {
      const r = await syncRunDir(dir, client);
      opts.log?.(`${id}: run ${r.serverRunId} (${r.sent} events sent)`);
    } catch (e) {
      failures.push({ run: id, error: redactString(errorMessage(e)) });
      opts.log?.(`${id}: NOT synced: ${redactString(errorMessage(e))}`);
    }
  }
  return { runs: dirs.length, synced: dirs.length - failures.length, failures };
}
