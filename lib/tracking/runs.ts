import path from "node:path";
import { RouterlabError } from "../util/errors";
import { journalRoot, listRunDirs, readEvents, readRunMeta } from "./journal";
import type { RunMeta } from "./journal";
import { loadSyncState } from "./sync";

/** The MLflow server to sync to: `opt`, else MLFLOW_TRACKING_URI; refused unless http(s). */
export function trackingUriOrThrow(opt: string | undefined): string {
  const uri = opt ?? process.env.MLFLOW_TRACKING_URI;
  if (!uri || !/^https?:\/\//.test(uri)) {
    throw new RouterlabError(
      "no MLflow server to sync to",
      undefined,
      "pass --tracking-uri http://host:5000 or set MLFLOW_TRACKING_URI",
    );
  }
  return uri;
}

/** The journal's run folders (default journal: journalRoot()), or only run `run`. */
export function runDirs(journal: string | undefined, run: string | undefined): string[] {
  const root = journal ?? journalRoot();
  const dirs = listRunDirs(root);
  if (run === undefined) return dirs;
  const match = dirs.filter((d) => path.basename(d) === run);
  if (match.length === 0) throw new RouterlabError(`no run '${run}' in journal ${root}`);
  return match;
}

/** A journal run's status, and its sync progress to `server` (an MLflow base URL) when given. */
export function runListing(
  dir: string,
  server?: string,
): { meta: RunMeta; status: string; events: number; sync: string } {
  const meta = readRunMeta(dir);
  const events = readEvents(dir);
  const last = events.at(-1)?.s ?? 0;
  const end = events.find((e) => e.t === "end");
  const status = end?.t === "end" ? end.status : "RUNNING (or crashed)";
  let sync = "";
  if (server) {
    const st = loadSyncState(dir, server);
    sync =
      st.ackedSeq >= last
        ? `  synced (run ${st.serverRunId ?? "?"})`
        : `  pending ${last - st.ackedSeq}/${events.length} events${st.lastError ? ` (last error: ${st.lastError})` : ""}`;
  }
  return { meta, status, events: events.length, sync };
}

/** MLFLOW_TRACKING_URI when set (undefined when unset or empty); anything but an http(s) URL is refused. */
export function trackingUriFromEnv(): string | undefined {
  const given = process.env.MLFLOW_TRACKING_URI;
  if (given === undefined || given === "") return undefined;
  if (!/^https?:\/\//.test(given))
    throw new RouterlabError("must be an http(s):// MLflow server URL", {
      file: "(environment)",
      field: "MLFLOW_TRACKING_URI",
    });
  return given;
}
