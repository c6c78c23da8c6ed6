import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { loadSimConfig } from "../llm/sim/config";
import { loadSimFacts } from "../llm/sim/facts-file";
import { startSimServer } from "../llm/sim/server";
import type { SimModel } from "../llm/sim/types";
import { RouterlabError } from "../util/errors";
import { untilStopSignal } from "../util/signals";
import { parseOptions } from "./options";
import { projectRoot } from "../util/paths";

const SimServerOptions = z.object({
  config: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(0).max(65535).optional(),
  facts: z.string().min(1).optional(),
  seed: z.coerce.number().int().optional(),
  faultRate: z.coerce.number().min(0).max(1).optional(),
  log: z.string().min(1).optional(),
});

function describe(m: SimModel): string {
  switch (m.kind) {
    case "answer":
      return `${m.id} (answer: accuracy ${m.accuracy}, not attempted ${m.notAttemptedRate}, ${m.latencyMs ?? 0} ms)`;
    case "grader":
      return `${m.id} (SimpleQA grader: noisy ${m.noisyRate ?? 0}, ${m.latencyMs ?? 0} ms)`;
    case "judge":
      return `${m.id} (pairwise judge: position bias ${m.positionBias ?? 0}, ${m.latencyMs ?? 0} ms)`;
  }
}

async function runSimServer(raw: unknown): Promise<void> {
  const o = parseOptions(SimServerOptions, raw);
  const cfg = loadSimConfig(o.config);
  const apiKey = cfg.apiKeyEnv !== undefined ? process.env[cfg.apiKeyEnv] : undefined;
  if (cfg.apiKeyEnv !== undefined && (apiKey === undefined || apiKey === ""))
    throw new RouterlabError(`environment variable ${cfg.apiKeyEnv} is not set`, {
      file: o.config,
      field: "apiKeyEnv",
    });
  const facts = loadSimFacts(o.facts ?? cfg.facts);
  const seed = o.seed ?? cfg.seed;
  const faults = { ...cfg.faults, ...(o.faultRate !== undefined ? { rate: o.faultRate } : {}) };
  const logFile = o.log ?? cfg.log;
  const server = await startSimServer({
    host: o.host ?? cfg.host,
    port: o.port ?? cfg.port,
    models: cfg.models,
    facts: facts.facts,
    seed,
    faults,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(logFile !== undefined ? { logFile } : {}),
  });
  const lines = [
    "routerlab sim-server: SIMULATED OpenAI-compatible server - no real model is called, every answer is synthetic",
    `  url: ${server.url}`,
    `  models: ${cfg.models.map(describe).join("\n          ")}`,
    `  facts: ${server.facts} known questions from ${facts.source}`,
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
