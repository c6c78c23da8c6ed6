import { z } from "zod";
import { RouterlabError } from "../../util/errors";
import type { SimConfig } from "./config";
import { loadSimConfig } from "./config";
import { loadSimFacts } from "./facts-file";
import type { RunningSimServer } from "./server";
import { startSimServer } from "./server";
import type { SimModel } from "./types";

/** `routerlab sim-server`'s options; each set one overrides the config's. */
export const SimServerOptions = z.object({
  config: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(0).max(65535).optional(),
  facts: z.string().min(1).optional(),
  seed: z.coerce.number().int().optional(),
  faultRate: z.coerce.number().min(0).max(1).optional(),
  log: z.string().min(1).optional(),
});

/** One line describing a simulated model. */
export function describeSimModel(m: SimModel): string {
  switch (m.kind) {
    case "answer":
      return `${m.id} (answer: accuracy ${m.accuracy}, not attempted ${m.notAttemptedRate}, ${m.latencyMs ?? 0} ms)`;
    case "grader":
      return `${m.id} (SimpleQA grader: noisy ${m.noisyRate ?? 0}, ${m.latencyMs ?? 0} ms)`;
    case "judge":
      return `${m.id} (pairwise judge: position bias ${m.positionBias ?? 0}, ${m.latencyMs ?? 0} ms)`;
  }
}

/** Starts the simulator from its config file and the command's overrides; the API key comes from `apiKeyEnv`. */
export async function startSimFromConfig(o: z.infer<typeof SimServerOptions>): Promise<{
  server: RunningSimServer;
  cfg: SimConfig;
  source: string;
  seed: number;
  faults: SimConfig["faults"];
  logFile?: string;
}> {
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
  return { server, cfg, source: facts.source, seed, faults, ...(logFile !== undefined ? { logFile } : {}) };
}
