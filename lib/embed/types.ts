import { z } from "zod";

/** A dense row-major matrix of embeddings: row i is data[i*dim .. (i+1)*dim). */
export interface EmbeddingMatrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

/**
 * Everything that determines the vectors: recorded by tracking, checked by export, and stored as a model file's
 * `meta.embedding` (written by `routerlab train`). The type is the schema's.
 */
export const EmbeddingSpecSchema = z.strictObject({
  /** e.g. "sentence-transformers/all-MiniLM-L6-v2" */
  modelId: z.string().min(1),
  dim: z.number().int().positive(),
  precision: z.enum(["fp32", "int8"]),
  /** Truncation in word-pieces, counting [CLS] and [SEP]. */
  maxLength: z.number().int().positive(),
  pooling: z.literal("mean"),
  normalize: z.boolean(),
  /** sha256 of the ONNX weights file actually used. */
  weightsSha256: z.string(),
});
export type EmbeddingSpec = Readonly<z.infer<typeof EmbeddingSpecSchema>>;

/** What the RouteIQ gateway computes (gateway-contract.md §4). */
export const GATEWAY_EMBEDDING = {
  modelId: "sentence-transformers/all-MiniLM-L6-v2",
  dim: 384,
  precision: "fp32",
  maxLength: 256,
  pooling: "mean",
  normalize: true,
} as const;

export function rowOf(m: EmbeddingMatrix, i: number): Float32Array {
  return m.data.subarray(i * m.dim, (i + 1) * m.dim);
}
