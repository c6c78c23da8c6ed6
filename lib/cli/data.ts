import type { Command } from "commander";
import { Option } from "commander";
import { z } from "zod";
import type { DataFormat } from "../data/detect";
import { FORMATS, inspectFile } from "../data/detect";
import type { LoadReport } from "../data/load";
import { runSplit, SplitConfigSchema } from "../data/split-config";
import { loadYamlConfig } from "../util/config";

export function formatReport(r: LoadReport): string {
  const lines = [
    `${r.file}`,
    `  format: ${r.format}   read: ${r.rowsRead}   accepted: ${r.rowsAccepted}   quarantined: ${r.rowsQuarantined}`,
  ];
  if (r.quarantineFile) lines.push(`  quarantine: ${r.quarantineFile}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}

const InspectOptions = z.object({
  format: z.enum(FORMATS).optional(),
  rows: z.coerce.number().int().min(0).default(5),
  json: z.boolean().default(false),
  quarantineDir: z.string().optional(),
});

export function registerDataCommands(program: Command): void {
  const data = program.command("data").description("Load, inspect and split routing data");

  data
    .command("inspect <file>")
    .description(
      "Load a data file (or a RouteLLM folder) with its loader: print the load report (rows read / accepted / quarantined) and a preview",
    )
    .addOption(new Option("--format <format>", "force the format instead of detecting it").choices(FORMATS))
    .option("--rows <n>", "preview rows", "5")
    .option("--json", "print the inspection as JSON")
    .option("--quarantine-dir <dir>", "where to write quarantined rows (default out/quarantine)")
    .action((file: string, raw: unknown) => {
      const o = InspectOptions.parse(raw);
      const r = inspectFile(file, o.format as DataFormat | undefined, {
        previewRows: o.rows,
        quarantineDir: o.quarantineDir,
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + "\n");
        return;
      }
      process.stdout.write(`format: ${r.format}   rows: ${r.rows}\n\n`);
      for (const rep of r.reports) process.stdout.write(formatReport(rep) + "\n");
      if (r.preview.length > 0) {
        process.stdout.write(`\npreview (${r.preview.length} of ${r.rows}):\n`);
        for (const p of r.preview) process.stdout.write(JSON.stringify(p) + "\n");
      }
    });

  data
    .command("split")
    .description(
      "Seeded train/test (and k-fold) split of a bundled dataset, deduplicated by normalised query text; writes query-id lists and a leakage report under out/splits/",
    )
    .requiredOption("--config <file>", "YAML split config (see configs/split.yaml)")
    .action((o: { config: string }) => {
      const cfg = loadYamlConfig(o.config, SplitConfigSchema);
      const r = runSplit(cfg);
      for (const rep of r.reports)
        if (rep.rowsQuarantined > 0 || rep.warnings.length > 0)
          process.stderr.write(formatReport(rep) + "\n");
      process.stdout.write(`${cfg.dataset}: train ${r.train}, test ${r.test} (seed ${cfg.seed})\n`);
      if (r.givenSplitLeakage)
        process.stdout.write(
          `given upstream split: ${r.givenSplitLeakage.overlappingQueries} test question(s) also in train (leakage)\n`,
        );
      process.stdout.write(`new split: ${r.leakage.overlappingQueries} overlapping normalised queries\n`);
      process.stdout.write(`wrote ${r.files.length} file(s) to ${r.outDir}\n`);
    });
}
