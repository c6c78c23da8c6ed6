import path from "node:path";
import type { Command } from "commander";
import { loadModelsConfig } from "../llm/config";
import { createLlmClient } from "../llm/client";
import { abortOnSigint } from "../llm/signals";
import { loadEvalSimpleQaConfig, resolveFromRoot } from "../simpleqa/config";
import { evaluateSimpleQa } from "../simpleqa/evaluate";
import { armsTable } from "../simpleqa/report";
import { labelsFromOracleRouting, trainPolicyRouter } from "../simpleqa/train-router";
import { RouterlabError } from "../util/errors";
import { positiveIntArg } from "./options";

export function registerEvalSimpleQaCommands(program: Command): void {
  program
    .command("eval-simpleqa")
    .description(
      "Evaluate a trained router on the SimpleQA TEST split: route each question, ask the weak and the strong model, " +
        "grade with the SimpleQA grader, and report SimpleQA metrics, cost, savings and strong share for the router, " +
        "the policy layers, always-weak, always-strong and random at equal strong share",
    )
    .option("-c, --config <file>", "YAML config", "configs/eval-simpleqa.yaml")
    .option("--router <file>", "router model file (<name>.router.json); overrides router.file")
    .option("--models <file>", "models file (lib/llm); overrides the config's `models`")
    .option("--limit <n>", "evaluate a seeded sample of at most n TEST questions", positiveIntArg("--limit"))
    .option(
      "--train-router <routing.jsonl>",
      "first fit a KNN policy router on the oracle's routing labels (routerlab oracle's routing.jsonl, TRAIN split) " +
        "and save it to --router / router.file",
    )
    .option("--knn-k <k>", "neighbours of the --train-router KNN", positiveIntArg("--knn-k"), 10)
    .option("--out <dir>", "output folder (default: the config's output.dir)")
    .option(
      "--tracking-uri <uri>",
      "MLflow server (default: the config, then MLFLOW_TRACKING_URI; unset = journal only)",
    )
    .option("--no-track", "record no tracking run")
    .addHelpText(
      "after",
      "\nEvery answer goes through the LLM client's response cache: re-running (or resuming after Ctrl-C) pays for " +
        "nothing twice.\nWith the default models file the roles point at the local simulator (`routerlab sim-server`, " +
        "ROUTERLAB_SIM_URL); results are then labelled SIMULATED.",
    )
    .action(
      async (o: {
        config: string;
        router?: string;
        models?: string;
        limit?: number;
        trainRouter?: string;
        knnK: number;
        out?: string;
        trackingUri?: string;
        track: boolean;
      }) => {
        const loaded = loadEvalSimpleQaConfig(o.config);
        const config = {
          ...loaded,
          ...(o.models !== undefined ? { models: path.resolve(o.models) } : {}),
          data: { ...loaded.data, ...(o.limit !== undefined ? { limit: o.limit } : {}) },
        };
        const routerFile =
          o.router !== undefined
            ? path.resolve(o.router)
            : config.router.file && resolveFromRoot(config.router.file);
        if (o.trainRouter !== undefined) {
          if (routerFile === undefined)
            throw new RouterlabError(
              "--train-router needs somewhere to save the router: --router or router.file",
              {
                file: o.config,
                field: "router.file",
              },
            );
          const labelled = labelsFromOracleRouting(path.resolve(o.trainRouter));
          const t = await trainPolicyRouter(labelled, routerFile, { k: o.knnK });
          process.stdout.write(
            `trained ${t.file} on ${labelled.length} oracle-labelled questions ${JSON.stringify(t.counts)}\n`,
          );
        }
        const models = loadModelsConfig(resolveFromRoot(config.models));
        const client = createLlmClient(models, { seed: config.seed });
        let evaluation: Promise<unknown> | undefined;
        const interrupted = new AbortController();
        const onSigint = (): void => interrupted.abort(new Error("interrupted (SIGINT)"));
        process.once("SIGINT", onSigint);
        const removeSigint = abortOnSigint(client, {
          // Exit only after the evaluation has stopped and ended its tracking run (as KILLED).
          onInterrupt: async () => {
            await evaluation?.catch(() => undefined);
          },
        });
        try {
          const running = evaluateSimpleQa({
            config,
            models,
            client,
            ...(routerFile !== undefined ? { routerFile } : {}),
            ...(o.out !== undefined ? { outDir: path.resolve(o.out) } : {}),
            ...(o.trackingUri !== undefined ? { trackingUri: o.trackingUri } : {}),
            track: o.track,
            signal: interrupted.signal,
          });
          evaluation = running;
          const out = await running;
          const w = (s: string) => process.stdout.write(s + "\n");
          if (out.simulated)
            w("SIMULATED: answers and grades come from routerlab's local simulator, not real models.");
          w(armsTable(out.result));
          const apgr = out.result.curve.apgr;
          w(`APGR (weak/strong gap): ${apgr === null ? "n/a (no gap)" : apgr.toFixed(3)}`);
          w(
            `grading: ${out.result.grading.unparsed} unparsed, ${out.result.grading.disagreements} strict/reference ` +
              `disagreements, ${out.result.grading.retries} retries`,
          );
          w(client.spendReport());
          w(`wrote ${out.files.report}, ${out.files.results} and ${out.files.responses}`);
          if (out.runDir)
            w(`tracking run: ${out.runDir}${out.serverRunId ? ` (server run ${out.serverRunId})` : ""}`);
        } catch (e) {
          // Interrupted: the SIGINT handler flushes the cache and exits with 130; answers so far stay cached.
          if (interrupted.signal.aborted) {
            process.exitCode = 130;
            return;
          }
          throw e;
        } finally {
          removeSigint();
          process.off("SIGINT", onSigint);
          await client.close();
        }
      },
    );
}
