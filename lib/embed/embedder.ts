import * as ort from "onnxruntime-node";
import { RouterlabError } from "../util/errors";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ensureHubModel } from "./hub";
import { loadModelFiles, provisionHint } from "./model";
import type { Precision } from "./model";
import type { EmbeddingMatrix, EmbeddingSpec } from "./types";
import { GATEWAY_EMBEDDING } from "./types";
import { env } from "../util/env";

export interface EmbedderOptions {
  /** "fp32" (default, gateway parity) or "int8" (faster, NOT bit-compatible with the gateway). */
  precision?: Precision;
  /** Local model directory; default $ROUTERLAB_EMBEDDING_MODEL_DIR or .cache/models/all-MiniLM-L6-v2 (auto-provisioned). */
  modelDir?: string;
  /** Word-pieces kept, counting [CLS] and [SEP]. Default 256 (the gateway's). */
  maxLength?: number;
  /** Texts per ONNX run. Default 32. */
  batchSize?: number;
  /** onnxruntime intra-op threads. Default: $ROUTERLAB_EMBED_THREADS or the number of CPUs (max 4). */
  threads?: number;
  /**
   * Let onnxruntime's intra-op threads spin-wait between operators. Faster on an idle machine, much slower
   * on an oversubscribed one. Default: $ROUTERLAB_EMBED_SPIN ("1"/"0"), else off.
   */
  spinning?: boolean;
  /**
   * A Hugging Face hub id (e.g. "sentence-transformers/all-MiniLM-L6-v2"): its `onnx/model.onnx` and
   * tokenizer are used from <cache root>/models/hub/, downloaded first if remote loading is allowed
   * (allowRemote or ROUTERLAB_ALLOW_REMOTE_MODELS=1; endpoint $HF_ENDPOINT). fp32 only. Without it the
   * locally provisioned model is used (modelDir).
   */
  model?: string;
  /** Hub revision (branch, tag or commit). Default "main". */
  revision?: string;
  /** Allow downloading `model` from the hub. Default: $ROUTERLAB_ALLOW_REMOTE_MODELS === "1". */
  allowRemote?: boolean;
  /** Hub endpoint. Default: $HF_ENDPOINT or https://huggingface.co. */
  hubEndpoint?: string;
}

export interface Embedder {
  readonly spec: EmbeddingSpec;
  /** Embeds texts (each validated, see validateText) into an N x 384 float32 matrix in input order. */
  embed(texts: readonly string[]): Promise<EmbeddingMatrix>;
  /** One text (the gateway's per-request call): no batching or sorting, preallocated inputs. */
  embedOne(text: string): Promise<Float32Array>;
  /** Word-piece ids (with [CLS]/[SEP]) after truncation at maxLength. */
  tokenize(text: string): number[];
  /** How many texts went through the model since creation (cache tests rely on it). */
  readonly modelCalls: number;
  dispose(): Promise<void>;
}

/** In a `u` regex a surrogate pair is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Texts above this many UTF-16 units are tokenised from a prefix only (same result, bounded work). */
const PREFIX_CHARS = 4096;
/**
 * Characters after which BERT's pre-tokeniser always starts a new word (whitespace as BertNormalizer sees
 * it, Unicode punctuation, ASCII symbols BERT counts as punctuation). Cutting a text right after one gives
 * word-pieces that are an exact prefix of the full text's word-pieces.
 */
const BOUNDARY = /[ \t\n\r\p{Zs}\p{P}$+<=>^`|~]/gu;

/** Index just after the first boundary character at or after `from`, or -1. */
function boundaryAfter(text: string, from: number): number {
  BOUNDARY.lastIndex = from;
  const m = BOUNDARY.exec(text);
  return m ? m.index + m[0].length : -1;
}

/**
 * Rejects what the gateway would not embed meaningfully or what cannot be represented as UTF-8:
 * non-strings, empty (after trimming) strings and lone UTF-16 surrogates. `where` names the input.
 */
export function validateText(text: unknown, index: number, where = "texts"): string {
  if (typeof text !== "string") {
    throw new RouterlabError(`expected a string, got ${text === null ? "null" : typeof text}`, {
      file: where,
      path: `$[${index}]`,
    });
  }
  if (text.trim().length === 0) {
    throw new RouterlabError("empty text (after trimming whitespace) cannot be embedded", {
      file: where,
      path: `$[${index}]`,
    });
  }
  if (LONE_SURROGATE.test(text)) {
    throw new RouterlabError(
      "text contains a lone UTF-16 surrogate (not valid Unicode); fix the input encoding",
      {
        file: where,
        path: `$[${index}]`,
      },
    );
  }
  return text;
}

const HubConfig = z.object({ hidden_size: z.number().int().positive() }).loose();

export async function createEmbedder(opts: EmbedderOptions = {}): Promise<Embedder> {
  const precision = opts.precision ?? "fp32";
  const maxLength = opts.maxLength ?? GATEWAY_EMBEDDING.maxLength;
  const batchSize = opts.batchSize ?? 32;
  if (maxLength < 3 || maxLength > 512)
    throw new RouterlabError(`maxLength must be in [3, 512], got ${maxLength}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RouterlabError(`batchSize must be a positive integer, got ${batchSize}`);
  let modelDir = opts.modelDir;
  let modelId: string = GATEWAY_EMBEDDING.modelId;
  let dim: number = GATEWAY_EMBEDDING.dim;
  if (opts.model !== undefined) {
    if (precision !== "fp32") {
      throw new RouterlabError(
        `precision ${precision} is only available from the locally provisioned model, not from the hub`,
        { file: opts.model, field: "precision" },
      );
    }
    const hub = await ensureHubModel({
      modelId: opts.model,
      revision: opts.revision,
      allowRemote: opts.allowRemote,
      endpoint: opts.hubEndpoint,
    });
    modelDir = hub.dir;
    modelId = opts.model;
    const cfgFile = path.join(hub.dir, "config.json");
    const cfg = HubConfig.safeParse(JSON.parse(readFileSync(cfgFile, "utf8")));
    if (!cfg.success) {
      throw new RouterlabError(`config.json has no usable hidden_size`, {
        file: cfgFile,
        field: "hidden_size",
      });
    }
    dim = cfg.data.hidden_size;
  }
  const files = await loadModelFiles({ modelDir, precision });
  // @huggingface/tokenizers is ESM-typed; a dynamic import keeps this file CommonJS.
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
  const clsId = tokenizer.token_to_id("[CLS]");
  const sepId = tokenizer.token_to_id("[SEP]");
  if (clsId === undefined || sepId === undefined) {
    throw new RouterlabError(`tokenizer.json has no [CLS]/[SEP] token; ${provisionHint(files.dir)}`, {
      file: `${files.dir}/tokenizer.json`,
    });
  }
  const threads =
    opts.threads ??
    env().ROUTERLAB_EMBED_THREADS ??
    Math.min(4, (await import("node:os")).availableParallelism());
  const spinning = opts.spinning ?? env().ROUTERLAB_EMBED_SPIN ?? false;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.onnxPath, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      enableCpuMemArena: true,
      enableMemPattern: true,
      executionProviders: ["cpu"],
      extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
    });
  } catch (e) {
    throw new RouterlabError(
      `cannot load the ONNX model (${(e as Error).message.split("\n")[0]}); delete ${files.dir} and ${provisionHint(files.dir)}`,
      { file: files.onnxPath },
    );
  }
  for (const input of ["input_ids", "attention_mask"]) {
    if (!session.inputNames.includes(input)) {
      throw new RouterlabError(
        `the ONNX model has no '${input}' input (inputs: ${session.inputNames.join(", ")})`,
        { file: files.onnxPath },
      );
    }
  }
  // The provisioned graph pools and normalises itself (sentence_embedding); a plain BERT export such as the
  // hub's onnx/model.onnx returns token vectors, pooled here exactly as sentence-transformers does.
  const pooledInGraph = session.outputNames.includes("sentence_embedding");
  const outName = pooledInGraph
    ? "sentence_embedding"
    : (session.outputNames.find((n) => n === "last_hidden_state" || n === "token_embeddings") ??
      session.outputNames[0]!);
  const needsTypeIds = session.inputNames.includes("token_type_ids");

  const encodeIds = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;

  const tokenize = (text: string): number[] => {
    const keep = maxLength - 2;
    let ids: number[];
    // Tokenise growing prefixes cut at word boundaries; once one has enough pieces, the kept pieces are
    // those of the full text. A text with no boundary after the cut (one giant "word") is tokenised whole.
    let n = PREFIX_CHARS;
    for (;;) {
      const cut = n >= text.length ? -1 : boundaryAfter(text, n);
      if (cut < 0) {
        ids = encodeIds(text);
        break;
      }
      ids = encodeIds(text.slice(0, cut));
      if (ids.length >= keep) break;
      n = cut * 2;
    }
    if (ids.length > keep) ids = ids.slice(0, keep);
    return [clsId, ...ids, sepId];
  };

  let modelCalls = 0;
  // Input buffers allocated once; each run views a prefix. Runs are serialised (see `exclusive`).
  const cap = batchSize * maxLength;
  const idsBuf = new BigInt64Array(cap);
  const maskBuf = new BigInt64Array(cap);
  const typeBuf = new BigInt64Array(cap);
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };

  const unexpected = (rows: number): RouterlabError =>
    new RouterlabError(
      `the ONNX model returned an unexpected '${outName}' output (expected float32 [${rows}, ${pooledInGraph ? dim : `seq, ${dim}`}])`,
      { file: files.onnxPath },
    );

  /** Runs up to batchSize tokenised rows; writes row k's vector to out[(rowsOut[k]) * dim ...]. */
  const runBatch = async (
    batch: readonly number[][],
    out: Float32Array,
    rowsOut: readonly number[],
  ): Promise<void> => {
    const n = batch.length;
    let width = 0;
    for (const ids of batch) if (ids.length > width) width = ids.length;
    const size = n * width;
    for (let r = 0; r < n; r++) {
      const ids = batch[r]!;
      const off = r * width;
      for (let j = 0; j < ids.length; j++) {
        idsBuf[off + j] = BigInt(ids[j]!);
        maskBuf[off + j] = 1n;
      }
      idsBuf.fill(0n, off + ids.length, off + width);
      maskBuf.fill(0n, off + ids.length, off + width);
    }
    const shape = [n, width];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", idsBuf.subarray(0, size), shape),
      attention_mask: new ort.Tensor("int64", maskBuf.subarray(0, size), shape),
    };
    if (needsTypeIds) feeds.token_type_ids = new ort.Tensor("int64", typeBuf.subarray(0, size), shape);
    const result = await session.run(feeds);
    const t = result[outName];
    if (!t || !(t.data instanceof Float32Array)) throw unexpected(n);
    const data = t.data;
    if (pooledInGraph) {
      if (data.length !== n * dim) throw unexpected(n);
      for (let k = 0; k < n; k++) out.set(data.subarray(k * dim, (k + 1) * dim), rowsOut[k]! * dim);
    } else {
      if (data.length !== n * width * dim) throw unexpected(n);
      const acc = new Float64Array(dim);
      for (let k = 0; k < n; k++) {
        // masked mean (clamped count) then L2 normalisation, as sentence-transformers' Pooling + Normalize
        acc.fill(0);
        const len = batch[k]!.length;
        for (let j = 0; j < len; j++) {
          const base = (k * width + j) * dim;
          for (let h = 0; h < dim; h++) acc[h]! += data[base + h]!;
        }
        let norm = 0;
        for (let h = 0; h < dim; h++) {
          acc[h] = acc[h]! / Math.max(len, 1e-9);
          norm += acc[h]! * acc[h]!;
        }
        const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
        const o = rowsOut[k]! * dim;
        for (let h = 0; h < dim; h++) out[o + h] = acc[h]! * scale;
      }
    }
    modelCalls += n;
  };

  const embedOne = (text: string): Promise<Float32Array> => {
    const ids = tokenize(validateText(text, 0));
    return exclusive(async () => {
      const out = new Float32Array(dim);
      await runBatch([ids], out, [0]);
      return out;
    });
  };

  const embed = async (texts: readonly string[]): Promise<EmbeddingMatrix> => {
    if (texts.length === 1) return { data: await embedOne(texts[0]!), rows: 1, dim };
    const tokenized = texts.map((t, i) => tokenize(validateText(t, i)));
    const order = tokenized.map((_, i) => i).sort((a, b) => tokenized[a]!.length - tokenized[b]!.length);
    const data = new Float32Array(texts.length * dim);
    await exclusive(async () => {
      for (let s = 0; s < order.length; s += batchSize) {
        const idx = order.slice(s, s + batchSize);
        await runBatch(
          idx.map((i) => tokenized[i]!),
          data,
          idx,
        );
      }
    });
    return { data, rows: texts.length, dim };
  };

  const spec: EmbeddingSpec = {
    modelId,
    dim,
    precision,
    maxLength,
    pooling: "mean",
    normalize: true,
    weightsSha256: files.weightsSha256,
  };

  return {
    spec,
    embed,
    embedOne,
    tokenize,
    get modelCalls() {
      return modelCalls;
    },
    dispose: async () => {
      await exclusive(() => session.release());
    },
  };
}
