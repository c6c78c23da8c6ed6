/** A dense row-major matrix of embeddings: row i is data[i*dim .. (i+1)*dim). */
export interface EmbeddingMatrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

/** Everything that determines the vectors: recorded by tracking, checked by export. */
export interface EmbeddingSpec {
  /** e.g. "sentence-transformers/all-MiniLM-L6-v2" */
  readonly modelId: string;
  readonly dim: number;
  readonly precision: "fp32" | "int8";
  /** Truncation in word-pieces, counting [CLS] and [SEP]. */
  readonly maxLength: number;
  readonly pooling: "mean";
  readonly normalize: boolean;
  /** sha256 of the ONNX weights file actually used. */
  readonly weightsSha256: string;
}

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
