import path from "node:path";
import type { Command } from "commander";
import { interruptibleClient } from "../llm/signals";
import { loadModelsConfig } from "../llm/config";
import { loadOracleConfig } from "../oracle/config";
import type { OracleConfig } from "../oracle/config";
import { resolveOracleModels } from "../oracle/models";
import { runOracle } from "../oracle/run";
import { projectRoot } from "../util/paths";
import { positiveIntArg } from "./options";

interface OracleCliOptions {
  config: string;
  models?: string;
  limit?: number;
  out?: string;
  baseUrl?: string;
  cacheDir?: string;
  concurrency?: number;
  trackingUri?: string;
}

/** `routerlab oracle`: label TRAIN questions (or judge-only rows) with weak/strong answers and write the datasets. */
export async function oracleCommand(o: OracleCliOptions): Promise<void> {
  const loaded = loadOracleConfig(o.config);
  const config: OracleConfig = {
    ...loaded,
    data: o.limit !== undefined ? { ...loaded.data, limit: o.limit } : loaded.data,
    concurrency: o.concurrency ?? loaded.concurrency,
  };
  const modelsFile = o.models ? path.resolve(o.models) : path.resolve(projectRoot(), config.models.file);
  const models = loadModelsConfig(modelsFile, o.baseUrl ? { baseUrl: o.baseUrl } : {});
  const names = resolveOracleModels(models, config, o.config);
  const { client, signal, close } = interruptibleClient(models, {
    notice:
      "oracle: interrupted; aborting in-flight calls (answers received so far stay in the cache; Ctrl-C again to force)",
    cacheDir: o.cacheDir,
  });
  try {
    const result = await runOracle(config, {
      client,
      models: names,
      ...(o.out ? { outDir: path.resolve(o.out) } : {}),
      signal,
      log: (l) => process.stderr.write(l + "\n"),
      ...(o.trackingUri ? { tracking: { uri: o.trackingUri } } : {}),
    });
    if (result.matrixText) process.stdout.write(result.matrixText + "\n");
    process.stdout.write(
      `${result.summary.rows} rows; labels ${JSON.stringify(result.summary.labels)}; output in ${result.outDir}\n`,
    );
  } catch (e) {
    if (signal.aborted) {
      process.exitCode = 130;
      process.stderr.write(
        "oracle: stopped; no output written. Re-run the same command to resume: answers already received are " +
          "in the response cache and are not paid for again.\n",
      );
      return;
    }
    throw e;
  } finally {
    await close();
  }
}

export function registerOracleCommands(program: Command): void {
  program
    .command("oracle")
    .description(
      "Oracle labels from the SimpleQA TRAIN split (or a JSONL of {id, query} rows, judged pairwise): weak and strong " +
        "answers, SimpleQA grading, the 9-cell matrix -> routing labels; writes the oracle dataset, routing data, " +
        "SFT and DPO files and a summary. Resumable: every call goes through the response cache.",
    )
    .requiredOption("-c, --config <file>", "oracle config, e.g. configs/oracle.yaml")
    .option("--models <file>", "models file (default: the config's models.file)")
    .option("--limit <n>", "label at most n rows (a seeded sample)", positiveIntArg("--limit"))
    .option("--out <dir>", "output folder (default: the config's output.dir)")
    .option(
      "--base-url <url>",
      "send every model's requests to this OpenAI-compatible base URL (e.g. a sim server)",
    )
    .option("--cache-dir <dir>", "response cache folder (default .cache/llm; ROUTERLAB_CACHE_DIR honoured)")
    .option("--concurrency <n>", "questions in flight at once", positiveIntArg("--concurrency"))
    .option("--tracking-uri <uri>", "log the run to this MLflow server ('journal': the local journal only)")
    .addHelpText(
      "after",
      "\nExamples:\n  routerlab oracle --config configs/oracle.yaml --limit 200\n" +
        "  routerlab sim-server --port 8900 &   # simulated models, for an offline demo\n" +
        "  routerlab oracle --config configs/oracle.sim.yaml --base-url http://127.0.0.1:8900/v1\n",
    )
    .action(oracleCommand);
}
