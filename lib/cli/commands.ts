import type { Command } from "commander";
import { registerDataCommands } from "./data";
import { registerRunCommands } from "./run";
import { registerEvaluateCommands } from "./evaluate";
import { registerTrackingCommands } from "./tracking";
import { registerTrainCommands } from "./train";
import { registerEmbedCommands } from "./embed";
import { registerExportCommands } from "./export";
import { registerOracleCommands } from "./oracle";
import { registerSimServerCommands } from "./sim-server";
import { registerEvalSimpleQaCommands } from "./eval-simpleqa";
import { registerCollectCommands } from "./collect";
import { registerWorkbenchCommands } from "./workbench";
import { registerLabelTrafficCommands } from "./label-traffic";
import { registerRetrainCommands } from "./retrain";

/**
 * Every command group registers itself here, one line each, so `routerlab --help` lists them all.
 * Each group lives beside its domain: lib/cli/<group>.ts calls into lib/<domain>.
 */
export function registerCommands(program: Command): void {
  void program;
  registerDataCommands(program);
  registerRunCommands(program);
  registerTrackingCommands(program);
  registerTrainCommands(program);
  registerEvaluateCommands(program);
  registerEmbedCommands(program);
  registerExportCommands(program);
  registerOracleCommands(program);
  registerSimServerCommands(program);
  registerEvalSimpleQaCommands(program);
  registerCollectCommands(program);
  registerWorkbenchCommands(program);
  registerLabelTrafficCommands(program);
  registerRetrainCommands(program);
}
