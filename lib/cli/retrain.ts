import path from "node:path";
import type { Command } from "commander";
import { createLlmClient } from "../llm/client";
import { loadModelsConfig } from "../llm/config";
import { spendReport } from "../llm/cost";
import { resolveJudgeAndTiers } from "../oracle/models";
import { loadRetrainConfig, runRetrain } from "../traffic/retrain";
import { projectRoot } from "../util/paths";

async function retrainCommand(o: {
  config: string;
  models?: string;
  cacheDir?: string;
  trackingUri?: string;
  journal?: string;
}): Promise<void> {
  const config = loadRetrainConfig(o.config);
  const modelsFile = path.resolve(o.models ?? path.resolve(projectRoot(), config.labels.models));
  const models = loadModelsConfig(modelsFile);
  const tiers = resolveJudgeAndTiers(models, config.labels, "labels.", o.config);
  const client = createLlmClient(models, o.cacheDir ? { cacheDir: path.resolve(o.cacheDir) } : {});
  try {
    const r = await runRetrain(config, {
      client,
      ...tiers,
      baseDir: projectRoot(),
      ...(o.trackingUri !== undefined ? { trackingUri: o.trackingUri } : {}),
      ...(o.journal !== undefined ? { journalDir: path.resolve(o.journal) } : {}),
      log: (l) => process.stderr.write(l + "\n"),
    });
    const lines = [
      `retrain: ${r.train} training / ${r.heldOut} held-out queries; run folder ${r.runDir}`,
      ...(r.skipped.length > 0 ? [`  resumed: reused steps ${r.skipped.join(", ")}`] : []),
      `  gate: ${r.decision.reason}`,
      ...(r.promoted
        ? [
            ...(r.published ? [`  promoted: ${r.published.served} (gateway folder ${r.published.dir})`] : []),
            ...(r.store
              ? [
                  `  promoted in s3://${r.store.bucket}: ${r.store.router} ${r.store.version} (previous: ${r.store.previous ?? "none"})`,
                ]
              : []),
            `  the challenger is the new champion (${config.champion.model})`,
          ]
        : [`  not promoted: the champion stays (${config.champion.model})`]),
      ...(r.operatingPoint
        ? [
            `  operating point: threshold ${r.operatingPoint.threshold.toFixed(4)} for ${r.operatingPoint.strongShare * 100}% strong`,
          ]
        : []),
      ...(r.tracking
        ? [
            `  tracking run ${r.tracking.localRunId}: ${r.tracking.runDir}`,
            ...(r.tracking.serverRunId ? [`  MLflow server run ${r.tracking.serverRunId}`] : []),
          ]
        : []),
      spendReport(client.stats()),
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } finally {
    await client.close();
  }
}

export function registerRetrainCommands(program: Command): void {
  program
    .command("retrain")
    .description(
      "Retrain from collected gateway traffic: labels from the served answers -> embeddings -> train the configured " +
        "router -> challenger vs champion on the same held-out traffic -> promotion gate (paired bootstrap at equal " +
        "strong share) -> export and publish to the gateway folder only if the gate promotes. Resumable: a re-run " +
        "reuses every step whose inputs are unchanged",
    )
    .requiredOption("--config <file>", "retrain config (YAML), e.g. configs/retrain.yaml")
    .option("--models <file>", "models file (overrides labels.models)")
    .option("--cache-dir <dir>", "LLM response cache folder (default: the client's)")
    .option(
      "--tracking-uri <uri>",
      "MLflow server (default: MLFLOW_TRACKING_URI; unset = local journal only)",
    )
    .option("--journal <dir>", "run journal folder (default: ROUTERLAB_TRACKING_DIR or out/mlruns-journal)")
    .action(retrainCommand);
}
