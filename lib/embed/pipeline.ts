import { EmbeddingCache, textKey } from "./cache";
import type { Embedder } from "./embedder";
import { validateText } from "./embedder";
import type { EmbeddingMatrix } from "./types";

export interface CacheRunOptions {
  embedder: Embedder;
  /** Cache root (default: the project's .cache/, or $ROUTERLAB_CACHE_DIR). The cache lives in <root>/embeddings/. */
  cacheDir?: string;
  /** Called after every chunk with rows done so far. */
  onProgress?: (done: number) => void;
  /** Texts per chunk: validated, looked up, the misses embedded and appended to the cache. Default 1024. */
  chunkSize?: number;
  /** Name of the input, for error messages. */
  source?: string;
}

export interface CacheRunReport {
  rows: number;
  /** Rows served from the cache (including repeats of a text embedded earlier in the same run). */
  hits: number;
  /** Distinct texts that went through the model. */
  misses: number;
}

/**
 * Streams texts through cache + model in chunks, with memory bounded by the chunk size (plus the
 * cache index). `onRows(matrix, firstRow)` receives each chunk's vectors in input order.
 */
export async function embedStream(
  texts: Iterable<string> | AsyncIterable<string>,
  opts: CacheRunOptions & { onRows: (m: EmbeddingMatrix, firstRow: number) => void | Promise<void> },
): Promise<CacheRunReport> {
  const { embedder } = opts;
  const chunkSize = opts.chunkSize ?? 1024;
  const dim = embedder.spec.dim;
  const cache = new EmbeddingCache(embedder.spec, opts.cacheDir);
  const report: CacheRunReport = { rows: 0, hits: 0, misses: 0 };
  let chunk: string[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const data = new Float32Array(chunk.length * dim);
    const keys = chunk.map(textKey);
    const missIdx = new Map<string, number[]>();
    keys.forEach((k, i) => {
      if (cache.readInto(k, data, i * dim)) return;
      const hex = k.toString("hex");
      const list = missIdx.get(hex);
      if (list) list.push(i);
      else missIdx.set(hex, [i]);
    });
    if (missIdx.size > 0) {
      const firsts = [...missIdx.values()].map((l) => l[0]!);
      const m = await embedder.embed(firsts.map((i) => chunk[i]!));
      [...missIdx.values()].forEach((rows, j) => {
        const v = m.data.subarray(j * dim, (j + 1) * dim);
        for (const r of rows) data.set(v, r * dim);
      });
      cache.append(
        firsts.map((i) => keys[i]!),
        m.data,
      );
    }
    report.misses += missIdx.size;
    report.hits += chunk.length - missIdx.size;
    const first = report.rows;
    report.rows += chunk.length;
    chunk = [];
    await opts.onRows({ data, rows: keys.length, dim }, first);
    opts.onProgress?.(report.rows);
  };
  try {
    let i = 0;
    for await (const t of texts) {
      chunk.push(validateText(t, i++, opts.source));
      if (chunk.length >= chunkSize) await flush();
    }
    await flush();
  } finally {
    cache.close();
  }
  return report;
}

/**
 * Embeds `texts` (all validated first, so bad input fails before any compute) using the persistent
 * cache: re-running on the same texts computes nothing again.
 */
export async function embedWithCache(
  texts: readonly string[],
  opts: CacheRunOptions,
): Promise<CacheRunReport & { matrix: EmbeddingMatrix }> {
  texts.forEach((t, i) => validateText(t, i, opts.source));
  const dim = opts.embedder.spec.dim;
  const data = new Float32Array(texts.length * dim);
  const report = await embedStream(texts, {
    ...opts,
    onRows: (m, first) => data.set(m.data, first * dim),
  });
  return { ...report, matrix: { data, rows: texts.length, dim } };
}
