import { createEmbedder, embedStream, validateText } from "../embed/index";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { progressBar } from "../util/progress";
import { pickRows } from "./fit";

export interface EmbeddingTotals {
  spec: EmbeddingSpec;
  /** Distinct texts over every dataset. */
  texts: number;
  hits: number;
  misses: number;
  /** Wall time from the start to the last dataset embedded. */
  seconds: number;
}

/** What embedding needs of a dataset (a RoutingData is one). */
export interface Texts {
  name: string;
  queries: readonly string[];
}

export interface EmbedDatasetsOptions {
  /** Cache root (default: the project's, see embedStream). */
  cacheDir?: string;
  /** Texts per cache chunk (default: embedStream's). */
  chunkSize?: number;
}

export interface DatasetEmbedding<D extends Texts> {
  /** The embedder's spec, once the model is loaded. */
  spec: Promise<EmbeddingSpec>;
  /** `d`'s matrix (one row per query, in order), as soon as its texts are embedded. */
  matrix(d: D): Promise<EmbeddingMatrix>;
  /** Every dataset embedded and the embedder released. */
  done: Promise<EmbeddingTotals>;
  /** Stops after the current chunk (the caller failed); `done` and pending matrices then reject. */
  stop(): void;
}

/**
 * Embeds the distinct queries of `datasets` through the persistent cache, in the background, one stream in the
 * order given (the same texts, order and chunks as one call over all of them, so the same vectors): each dataset's
 * matrix is ready once its last new text is embedded, so a caller fits the first dataset while the later ones are
 * still being embedded (onnxruntime runs off the event loop). `onReady`, if given, is called as each dataset becomes
 * ready, and then reports progress past the first dataset instead of the bar.
 */
export function embedDatasets<D extends Texts>(
  datasets: readonly D[],
  precision: "fp32" | "int8",
  onReady?: (d: D, seconds: number) => void,
  opts: EmbedDatasetsOptions = {},
): DatasetEmbedding<D> {
  const started = performance.now();
  const unique: string[] = [];
  const rowOf = new Map<string, number>();
  /** Dataset i is complete once this many distinct texts are embedded. */
  const needs: number[] = [];
  for (const d of datasets) {
    for (const q of d.queries)
      if (!rowOf.has(q)) {
        rowOf.set(q, unique.length);
        unique.push(q);
      }
    needs.push(unique.length);
  }
  const deferred = datasets.map(() => {
    let resolve!: (m: EmbeddingMatrix) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<EmbeddingMatrix>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => undefined); // a caller that failed first never awaits the rest
    return { promise, resolve, reject };
  });
  let resolveSpec!: (s: EmbeddingSpec) => void;
  let rejectSpec!: (e: unknown) => void;
  const spec = new Promise<EmbeddingSpec>((res, rej) => ((resolveSpec = res), (rejectSpec = rej)));
  spec.catch(() => undefined);
  let stopped = false;
  const done = (async (): Promise<EmbeddingTotals> => {
    unique.forEach((t, i) => validateText(t, i, "bundled queries"));
    const embedder = await createEmbedder({ precision });
    resolveSpec(embedder.spec);
    try {
      const dim = embedder.spec.dim;
      const all: EmbeddingMatrix = { data: new Float32Array(unique.length * dim), rows: unique.length, dim };
      let next = 0;
      const settle = (rows: number): void => {
        for (; next < datasets.length && needs[next]! <= rows; next++) {
          const d = datasets[next]!;
          deferred[next]!.resolve(
            pickRows(
              all,
              d.queries.map((q) => rowOf.get(q)!),
            ),
          );
          onReady?.(d, (performance.now() - started) / 1000);
          if (next === 0 && datasets.length > 1 && onReady) {
            bar.stop();
            bar = { tick: () => {}, stop: () => {} };
          }
        }
      };
      // With `onReady` the bar runs until the first dataset is ready; after that the caller's own bars (the fits)
      // take the terminal, and `onReady` reports the rest. Without it (embedAll) the bar runs to the end.
      let bar = progressBar("embedding", unique.length, "texts");
      let ticked = 0;
      settle(0);
      const texts = function* (): Generator<string> {
        for (const t of unique) {
          if (stopped) return;
          yield t;
        }
      };
      const r = await embedStream(texts(), {
        embedder,
        source: "bundled queries",
        cacheDir: opts.cacheDir,
        chunkSize: opts.chunkSize,
        onRows: (m, first) => all.data.set(m.data, first * dim),
        onProgress: (n) => {
          bar.tick(n - ticked);
          ticked = n;
          settle(n);
        },
      });
      bar.stop();
      if (stopped) throw new Error("embedding stopped");
      return {
        spec: embedder.spec,
        texts: unique.length,
        hits: r.hits,
        misses: r.misses,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      await embedder.dispose();
    }
  })();
  done.catch((e: unknown) => {
    rejectSpec(e);
    deferred.forEach((d) => d.reject(e));
  });
  return {
    spec,
    matrix: (d) => {
      const i = datasets.indexOf(d);
      if (i < 0) throw new Error(`dataset ${d.name} was not given to embedDatasets`);
      return deferred[i]!.promise;
    },
    done,
    stop: () => void (stopped = true),
  };
}

/** Embeds every distinct query of `datasets` through the persistent cache; one matrix per dataset. */
export async function embedAll<D extends Texts>(
  datasets: readonly D[],
  precision: "fp32" | "int8",
): Promise<EmbeddingTotals & { matrices: Map<D, EmbeddingMatrix> }> {
  const e = embedDatasets(datasets, precision);
  const totals = await e.done;
  const matrices = new Map<D, EmbeddingMatrix>();
  for (const d of datasets) matrices.set(d, await e.matrix(d));
  return { ...totals, matrices };
}
