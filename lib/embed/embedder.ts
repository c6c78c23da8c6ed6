import * as ort from "onnxruntime-node";
import { RouterlabError } from "../util/errors";
import { loadModelFiles, provisionHint } from "./model";
import type { Precision } from "./model";
import type { EmbeddingMatrix, EmbeddingSpec } from "./types";
import { GATEWAY_EMBEDDING } from "./types";

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
}

export interface Embedder {
  readonly spec: EmbeddingSpec;
  /** Embeds texts (each validated, see validateText) into an N x 384 float32 matrix in input order. */
  embed(texts: readonly string[]): Promise<EmbeddingMatrix>;
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

export async function createEmbedder(opts: EmbedderOptions = {}): Promise<Embedder> {
  const precision = opts.precision ?? "fp32";
  const maxLength = opts.maxLength ?? GATEWAY_EMBEDDING.maxLength;
  const batchSize = opts.batchSize ?? 32;
  if (maxLength < 3 || maxLength > 512)
    throw new RouterlabError(`maxLength must be in [3, 512], got ${maxLength}`);
  const files = await loadModelFiles({ modelDir: opts.modelDir, precision });
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
  const envThreads = Number(process.env.ROUTERLAB_EMBED_THREADS ?? "");
  const threads =
    opts.threads ??
    (Number.isInteger(envThreads) && envThreads > 0
      ? envThreads
      : Math.min(4, (await import("node:os")).availableParallelism()));
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.onnxPath, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      executionProviders: ["cpu"],
    });
  } catch (e) {
    throw new RouterlabError(
      `cannot load the ONNX model (${(e as Error).message.split("\n")[0]}); delete ${files.dir} and ${provisionHint(files.dir)}`,
      { file: files.onnxPath },
    );
  }
  const outName = session.outputNames[0]!;
  const dim = GATEWAY_EMBEDDING.dim;

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

  const runBatch = async (batch: number[][]): Promise<Float32Array> => {
    const width = batch.reduce((m, ids) => Math.max(m, ids.length), 0);
    const idsArr = new BigInt64Array(batch.length * width);
    const maskArr = new BigInt64Array(batch.length * width);
    batch.forEach((ids, r) => {
      const off = r * width;
      for (let j = 0; j < ids.length; j++) {
        idsArr[off + j] = BigInt(ids[j]!);
        maskArr[off + j] = 1n;
      }
    });
    const feeds = {
      input_ids: new ort.Tensor("int64", idsArr, [batch.length, width]),
      attention_mask: new ort.Tensor("int64", maskArr, [batch.length, width]),
    };
    const out = await session.run(feeds);
    const t = out[outName];
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== batch.length * dim) {
      throw new RouterlabError(
        `the ONNX model returned an unexpected output (expected float32 [${batch.length}, ${dim}])`,
        {
          file: files.onnxPath,
        },
      );
    }
    modelCalls += batch.length;
    return t.data;
  };

  const embed = async (texts: readonly string[]): Promise<EmbeddingMatrix> => {
    const tokenized = texts.map((t, i) => tokenize(validateText(t, i)));
    const order = tokenized.map((_, i) => i).sort((a, b) => tokenized[a]!.length - tokenized[b]!.length);
    const data = new Float32Array(texts.length * dim);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      const vecs = await runBatch(idx.map((i) => tokenized[i]!));
      idx.forEach((row, k) => data.set(vecs.subarray(k * dim, (k + 1) * dim), row * dim));
    }
    return { data, rows: texts.length, dim };
  };

  const spec: EmbeddingSpec = {
    modelId: GATEWAY_EMBEDDING.modelId,
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
    tokenize,
    get modelCalls() {
      return modelCalls;
    },
    dispose: async () => {
      await session.release();
    },
  };
}
