#!/usr/bin/env node
import { Command } from "commander";
import { RouterlabError } from "../util/errors";
import { registerCommands } from "./commands";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("routerlab")
    .description("Build, evaluate, calibrate and promote LLM routers for the RouteIQ gateway")
    .version(require("../../package.json").version as string)
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
