#!/usr/bin/env node
import { Command } from "commander";
import { RouterlabError } from "../util/errors";
import { registerCommands } from "./commands";
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../util/paths";

/** The version from package.json, found from lib/ (tsx) or dist/lib/ (compiled) alike. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot(), "package.json"), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "0.0.0";
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("routerlab")
    .description("Build, evaluate, calibrate and promote LLM routers for the RouteIQ gateway")
    .version(packageVersion())
    .showHelpAfterError();
  registerCommands(program);
  return program;
}

export async function runCli(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof RouterlabError) {
      process.stderr.write(`routerlab: error: ${e.message}\n`);
      if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

if (require.main === module) void runCli();
