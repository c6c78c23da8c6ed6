import path from "node:path";
import type { Command } from "commander";
import { formatSummary, runTraining, TrainConfigSchema } from "../pipeline/train";
import { loadYamlConfig } from "../util/config";

export function registerTrainCommands(program: Command): void {
  program
    .command("train")
    .description(
      "Train a router from a YAML config (data, split, routing setting, embedding, router, seed) and write its model file",
    )
    .requiredOption("-c, --config <file>", "YAML config, e.g. configs/knn.yaml")
    .option("--no-save", "do not write the model file")
    .option(
      "--tracking-uri <uri>",
      "MLflow server (default: MLFLOW_TRACKING_URI; unset = local journal only)",
    )
    .option("--journal <dir>", "run journal folder (default: ROUTERLAB_TRACKING_DIR or out/mlruns-journal)")
    .option("--no-track", "record no tracking run")
    .action(
      async (o: {
        config: string;
        save: boolean;
        trackingUri?: string;
        journal?: string;
        track: boolean;
      }) => {
        const config = loadYamlConfig(o.config, TrainConfigSchema);
        const r = await runTraining(config, {
          save: o.save,
          log: (l) => process.stdout.write(l + "\n"),
          tracking: {
            enabled: o.track,
            ...(o.trackingUri !== undefined ? { trackingUri: o.trackingUri } : {}),
            ...(o.journal !== undefined ? { journalDir: path.resolve(o.journal) } : {}),
          },
        });
        process.stdout.write(formatSummary(r.summary) + "\n");
        if (r.modelFiles) process.stdout.write(`model: ${r.modelFiles.json}\n`);
      },
    );
}
