import type { Command } from "commander";
import { z } from "zod";
import { MainJobConfigSchema } from "../pipeline/config";
import { mainJobStep, runPipeline, RUN_STEPS } from "../pipeline/run-steps";
import { loadYamlConfig } from "../util/config";

const RunOptions = z.object({
  outDir: z.string().optional(),
  sample: z.coerce.number().int().min(1).optional(),
  config: z.string().optional(),
  summaryOnly: z.boolean().optional(),
});

export function registerRunCommands(program: Command): void {
  program
    .command("run")
    .description(
      "The main job (what `npm start` runs), with embedded defaults and no servers: load and summarise the bundled data " +
        "(out/summary), embed every query like the gateway, train every router with k-fold cross-validation, evaluate " +
        "against baselines, calibrate, journal the runs and write HTML reports (out/main), then print a summary table",
    )
    .option("--config <file>", "YAML overriding the embedded defaults (see configs/main.yaml)")
    .option("--out-dir <dir>", "output folder (default out/ or ROUTERLAB_OUT_DIR)")
    .option("--sample <n>", "keep at most n rows per dataset (smoke runs)")
    .option("--summary-only", "only load and summarise the data (no embedding or training)")
    .action(async (raw: unknown) => {
      const o = RunOptions.parse(raw);
      const steps = [...RUN_STEPS];
      if (!o.summaryOnly) {
        const config = o.config
          ? loadYamlConfig(o.config, MainJobConfigSchema)
          : MainJobConfigSchema.parse({});
        steps.push(mainJobStep(o.sample !== undefined ? { ...config, sample: o.sample } : config));
      }
      await runPipeline({ outDir: o.outDir, sample: o.sample, steps });
    });
}
