import path from "node:path";
import type { Command } from "commander";
import { describeSimModel, SimServerOptions, startSimFromConfig } from "../llm/sim/start";
import { untilStopSignal } from "../util/signals";
import { parseOptions } from "./options";
import { projectRoot } from "../util/paths";

async function runSimServer(raw: unknown): Promise<void> {
  const o = parseOptions(SimServerOptions, raw);
  const { server, cfg, source, seed, faults, logFile } = await startSimFromConfig(o);
  const lines = [
    "routerlab sim-server: SIMULATED OpenAI-compatible server - no real model is called, every answer is synthetic",
    `  url: ${server.url}`,
    `  models: ${cfg.models.map(describeSimModel).join("\n          ")}`,
    `  facts: ${server.facts} known questions from ${source}`,
    `  seed: ${seed}   faults: rate ${faults.rate}${faults.rate > 0 ? ` (${(faults.kinds ?? ["all kinds"]).join(", ")})` : ""}`,
    ...(logFile !== undefined ? [`  request log: ${path.resolve(logFile)}`] : []),
    "  example env:",
    `    export OPENAI_BASE_URL=${server.url}`,
    `    export OPENAI_API_KEY=${cfg.apiKeyEnv !== undefined ? `"$${cfg.apiKeyEnv}"` : "sim-not-checked"}`,
    "  stop with Ctrl-C (SIGINT) or SIGTERM",
  ];
  process.stdout.write(lines.join("\n") + "\n");

  await untilStopSignal("routerlab sim-server");
  await server.close();
  const reqs = server.requests();
  const billed = Object.entries(server.usage())
    .map(([m, u]) => `${m} ${u.promptTokens}+${u.completionTokens}`)
    .join(", ");
  process.stdout.write(
    `routerlab sim-server: stopped after ${reqs.length} requests ` +
      `(${reqs.filter((r) => r.fault !== null).length} faulted, ${reqs.filter((r) => r.replay).length} replayed); ` +
      `billed tokens (prompt+completion): ${billed || "none"}\n`,
  );
}

export function registerSimServerCommands(program: Command): void {
  program
    .command("sim-server")
    .description(
      "Run the local SIMULATED OpenAI-compatible server (POST /v1/chat/completions, GET /v1/models) for offline " +
        "demos and tests: deterministic answer models over known facts, a SimpleQA grader, a pairwise judge, " +
        "seeded fault injection, an idempotency-key replay store and a JSONL request log. Runs until SIGINT/SIGTERM",
    )
    .option("--config <file>", "simulator config (YAML)", path.join(projectRoot(), "configs", "sim.yaml"))
    .option("--host <host>", "interface to listen on (overrides host)")
    .option("--port <n>", "port; 0 picks a free one (overrides port)")
    .option(
      "--facts <source>",
      "simpleqa (bundled), a SimpleQA-format .csv, or a .jsonl of {question, answer}",
    )
    .option("--seed <n>", "seed of every simulated draw (overrides seed)")
    .option("--fault-rate <x>", "share of requests given an injected fault, 0-1 (overrides faults.rate)")
    .option("--log <file>", "append one JSON line per request to this file (overrides log)")
    .action(runSimServer);
}
