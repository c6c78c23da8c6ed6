import path from "node:path";
import type { Command } from "commander";
import { interruptibleClient } from "../llm/signals";
import { loadModelsConfig } from "../llm/config";
import { spendReport } from "../llm/cost";
import { resolveJudgeAndTiers } from "../oracle/models";
import { loadLabelTrafficConfig, runLabelTraffic } from "../traffic/label-traffic";
import { projectRoot } from "../util/paths";

async function labelTrafficCommand(o: { config: string; models?: string; cacheDir?: string }): Promise<void> {
  const config = loadLabelTrafficConfig(o.config);
  const modelsFile = path.resolve(o.models ?? path.resolve(projectRoot(), config.models));
  const models = loadModelsConfig(modelsFile);
  const tiers = resolveJudgeAndTiers(models, config, "", o.config);
  const { client, close } = interruptibleClient(models, {
    notice:
      "label-traffic: interrupted; judgements so far stay in the response cache (Ctrl-C again to force)",
    cacheDir: o.cacheDir,
  });
  try {
    const r = await runLabelTraffic(config, {
      client,
      ...tiers,
      baseDir: projectRoot(),
      log: (l) => process.stderr.write(l + "\n"),
    });
    const res = r.result;
    process.stdout.write(
      [
        `label-traffic: ${r.queries} queries: ${res.labelled} labelled (${JSON.stringify(res.byBasis)})`,
        `  labels: weak ${res.rows.filter((x) => x.label === "weak").length}, strong ${res.rows.filter((x) => x.label === "strong").length}`,
        ...(res.positionBias.pairs > 0
          ? [
              `  judge position bias ${res.positionBias.bias.toFixed(3)}, orders disagreed on ${(res.positionBias.inconsistentRate * 100).toFixed(1)}% of pairs (counted as ties)`,
            ]
          : []),
        `  ${r.spansWithoutPrompt} LLM spans had no prompt content and could not be labelled`,
        `  routing file (for routerlab train, data.dataset): ${r.routingFile}`,
        `  per-row basis: ${r.labelsFile}`,
        spendReport(client.stats()),
        "",
      ].join("\n"),
    );
  } finally {
    await close();
  }
}

export function registerLabelTrafficCommands(program: Command): void {
  program
    .command("label-traffic")
    .description(
      "Label collected gateway traffic (routerlab collect) from the answers the gateway served: the judge grades the " +
        "served answer and, optionally, one counterfactual answer from the other tier (pairwise, both orders, position " +
        "bias cancelled); writes routing.jsonl for routerlab train and labels.jsonl with what each label rests on",
    )
    .requiredOption("--config <file>", "label-traffic config (YAML), e.g. configs/label-traffic.yaml")
    .option("--models <file>", "models file (overrides models)")
    .option("--cache-dir <dir>", "LLM response cache folder (default: the client's)")
    .action(labelTrafficCommand);
}
