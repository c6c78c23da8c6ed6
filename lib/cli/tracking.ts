import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { MlflowClient } from "../tracking/client";
import { journalRoot } from "../tracking/journal";
import { runDirs, runListing, trackingUriOrThrow } from "../tracking/runs";
import { redactString } from "../tracking/redact";
import { syncRunDir } from "../tracking/sync";
import { parseOptions } from "./options";

const OptionsSchema = z.object({
  journal: z.string().min(1).optional(),
  trackingUri: z
    .string()
    .regex(/^https?:\/\//, "must be an http(s):// MLflow tracking server URL")
    .optional(),
  run: z.string().min(1).optional(),
});

export function registerTrackingCommands(program: Command): void {
  const tracking = program
    .command("tracking")
    .description("Experiment tracking: the local run journal and its sync to an MLflow server");

  tracking
    .command("sync")
    .description(
      "Replay local run journals to an MLflow server, idempotently (a second sync sends nothing; an interrupted sync resumes)",
    )
    .option("--journal <dir>", "journal folder (default: $ROUTERLAB_TRACKING_DIR or out/mlruns-journal)")
    .option("--tracking-uri <uri>", "MLflow server (default: $MLFLOW_TRACKING_URI)")
    .option("--run <id>", "only this local run id")
    .action(async (raw: unknown) => {
      const opts = parseOptions(OptionsSchema, raw);
      const client = new MlflowClient(trackingUriOrThrow(opts.trackingUri));
      const dirs = runDirs(opts.journal, opts.run);
      let failed = 0;
      for (const dir of dirs) {
        const id = path.basename(dir);
        try {
          const r = await syncRunDir(dir, client);
          process.stdout.write(
            `${id}: synced to run ${r.serverRunId} (${r.sent} events sent${r.deduplicated ? `, ${r.deduplicated} already on the server` : ""})\n`,
          );
        } catch (e) {
          failed++;
          process.stdout.write(
            `${id}: NOT synced: ${redactString(e instanceof Error ? e.message : String(e))}\n`,
          );
        }
      }
      process.stdout.write(`${dirs.length - failed}/${dirs.length} runs synced to ${client.displayUrl}\n`);
      if (failed > 0) {
        throw new RouterlabError(
          `${failed} run(s) could not be synced`,
          undefined,
          "they stay in the journal; run the sync again",
        );
      }
    });

  tracking
    .command("ls")
    .description("List the runs in the local journal with their status and sync progress")
    .option("--journal <dir>", "journal folder (default: $ROUTERLAB_TRACKING_DIR or out/mlruns-journal)")
    .option("--tracking-uri <uri>", "show sync progress for this server (default: $MLFLOW_TRACKING_URI)")
    .action((raw: unknown) => {
      const opts = parseOptions(OptionsSchema, raw);
      const uri = opts.trackingUri ?? process.env.MLFLOW_TRACKING_URI;
      const server = uri && /^https?:\/\//.test(uri) ? new MlflowClient(uri).baseUrl : undefined;
      const dirs = runDirs(opts.journal, undefined);
      if (dirs.length === 0) {
        process.stdout.write(`no runs in ${opts.journal ?? journalRoot()}\n`);
        return;
      }
      for (const dir of dirs) {
        const { meta, status, events, sync } = runListing(dir, server);
        process.stdout.write(
          `${meta.localRunId}  ${meta.experiment}/${meta.runName}  ${status}  ${events} events  ${new Date(meta.startTime).toISOString()}${sync}\n`,
        );
      }
    });
}
