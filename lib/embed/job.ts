/** Embedding jobs: the queries of a bundled dataset or a .jsonl/.txt file, streamed through the cache into a .f32 matrix. */
import { createReadStream, existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { BUNDLED_DATASETS, bundledRouting } from "../data/bundled";
import type { BundledDataset } from "../data/bundled";
import { createEmbedder } from "./embedder";
import { embedStream } from "./pipeline";
import { loadYamlConfig } from "../util/config";
import { RouterlabError } from "../util/errors";
import { openStreamedFile } from "../util/atomic-write";
import type { StreamedFile } from "../util/atomic-write";
import { outDir } from "../util/paths";
import { progressBar } from "../util/progress";

/** configs/embed.yaml */
export const EmbedConfigSchema = z
  .object({
    embedding: z
      .object({
        precision: z.enum(["fp32", "int8"]).default("fp32"),
        maxLength: z.number().int().min(3).max(512).default(256),
        batchSize: z.number().int().min(1).max(1024).default(32),
        /** Local model directory; null = $ROUTERLAB_EMBEDDING_MODEL_DIR or .cache/models/all-MiniLM-L6-v2. */
        modelDir: z.string().nullable().default(null),
        threads: z.number().int().min(1).max(64).nullable().default(null),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        /** Cache root; null = $ROUTERLAB_CACHE_DIR or .cache/. */
        dir: z.string().nullable().default(null),
        chunkSize: z.number().int().min(1).max(65536).default(1024),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type EmbedConfig = z.infer<typeof EmbedConfigSchema>;

const TEXT_FIELDS = ["query", "text", "question", "prompt"] as const;
const JsonlRow = z.union([
  z.string(),
  z
    .object({
      id: z.union([z.string(), z.number()]).optional(),
      query: z.unknown().optional(),
      text: z.unknown().optional(),
      question: z.unknown().optional(),
      prompt: z.unknown().optional(),
    })
    .loose(),
]);

/**
 * Texts of a .jsonl file (one JSON string, or an object with query/text/question/prompt and optional id,
 * per line) or a .txt file (one text per line), streamed line by line. Ids go to `ids`.
 */
async function* fileTexts(file: string, ids: string[]): AsyncGenerator<string> {
  const isJsonl = /\.jsonl$/i.test(file);
  if (!isJsonl && !/\.txt$/i.test(file)) {
    throw new RouterlabError("unsupported input: use a .jsonl or .txt file, or a bundled dataset name", {
      file,
    });
  }
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    if (raw.trim() === "" && isJsonl) continue;
    if (!isJsonl) {
      ids.push(String(line));
      yield raw;
      continue;
    }
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new RouterlabError(`not JSON: ${(e as Error).message}`, { file, line });
    }
    const row = JsonlRow.safeParse(v);
    if (!row.success) throw new RouterlabError("expected a JSON string or object", { file, line });
    if (typeof row.data === "string") {
      ids.push(String(line));
      yield row.data;
      continue;
    }
    const obj = row.data;
    const field = TEXT_FIELDS.find((f) => obj[f] !== undefined);
    if (!field) throw new RouterlabError(`no text field (one of ${TEXT_FIELDS.join(", ")})`, { file, line });
    const text = obj[field];
    if (typeof text !== "string") {
      throw new RouterlabError(`expected a string, got ${text === null ? "null" : typeof text}`, {
        file,
        line,
        field,
      });
    }
    ids.push(obj.id !== undefined ? String(obj.id) : String(line));
    yield text;
  }
}

export const EmbedOptions = z.object({
  config: z.string(),
  out: z.string().optional(),
  precision: z.enum(["fp32", "int8"]).optional(),
  limit: z.coerce.number().int().min(1).optional(),
});

async function* limited(
  src: AsyncIterable<string> | Iterable<string>,
  limit?: number,
): AsyncGenerator<string> {
  let n = 0;
  for await (const t of src) {
    if (limit !== undefined && n >= limit) return;
    n++;
    yield t;
  }
}

export async function runEmbed(
  data: string,
  o: z.infer<typeof EmbedOptions>,
): Promise<{ out: string; rows: number; hits: number; misses: number }> {
  const cfg = loadYamlConfig(o.config, EmbedConfigSchema);
  const ids: string[] = [];
  let texts: AsyncIterable<string> | Iterable<string>;
  let total: number | undefined;
  let name: string;
  if ((BUNDLED_DATASETS as readonly string[]).includes(data)) {
    const d = bundledRouting(data as BundledDataset).data;
    const n = Math.min(d.queries.length, o.limit ?? Infinity);
    ids.push(...d.queryIds.slice(0, n));
    texts = d.queries.slice(0, n);
    total = n;
    name = data;
  } else if (existsSync(data)) {
    texts = fileTexts(data, ids);
    name = path.basename(data).replace(/\.[^.]+$/, "");
  } else {
    throw new RouterlabError(
      `no such file or bundled dataset '${data}' (bundled: ${BUNDLED_DATASETS.join(", ")})`,
      { file: data },
    );
  }
  const embedder = await createEmbedder({
    precision: o.precision ?? cfg.embedding.precision,
    maxLength: cfg.embedding.maxLength,
    batchSize: cfg.embedding.batchSize,
    modelDir: cfg.embedding.modelDir ?? undefined,
    threads: cfg.embedding.threads ?? undefined,
  });
  const out = path.resolve(
    o.out ?? path.join(outDir(), "embeddings", `${name}.${embedder.spec.precision}.f32`),
  );
  const f32 = openStreamedFile(out);
  let sidecar: StreamedFile;
  try {
    sidecar = openStreamedFile(out.replace(/\.f32$/, "") + ".json");
  } catch (e) {
    f32.abort();
    throw e;
  }
  const bar = progressBar(`embed ${name}`, total ?? 0, "texts");
  const started = Date.now();
  try {
    const report = await embedStream(limited(texts, o.limit), {
      embedder,
      cacheDir: cfg.cache.dir ?? undefined,
      chunkSize: cfg.cache.chunkSize,
      source: data,
      onRows: (m) => f32.write(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength)),
      onProgress: (() => {
        let last = 0;
        return (done: number) => {
          bar.tick(done - last);
          last = done;
        };
      })(),
    });
    bar.stop();
    sidecar.write(
      Buffer.from(
        JSON.stringify(
          {
            source: data,
            spec: embedder.spec,
            rows: report.rows,
            dim: embedder.spec.dim,
            dtype: "float32",
            layout: "row-major, little-endian",
            cache: { hits: report.hits, misses: report.misses },
            seconds: (Date.now() - started) / 1000,
            rowIds: ids.slice(0, report.rows),
          },
          null,
          1,
        ) + "\n",
      ),
    );
    // every byte of both files is on disk before either is renamed: a full disk keeps the previous pair
    f32.commit();
    sidecar.commit();
    return { out, rows: report.rows, hits: report.hits, misses: report.misses };
  } catch (e) {
    bar.stop();
    f32.abort();
    sidecar.abort();
    throw e;
  } finally {
    await embedder.dispose();
  }
}
