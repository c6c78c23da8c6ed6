/** Query embeddings identical to the RouteIQ gateway's (all-MiniLM-L6-v2, see docs/embeddings.md). */
export { createEmbedder, validateText } from "./embedder";
export type { Embedder, EmbedderOptions } from "./embedder";
export { embedWithCache, embedStream } from "./pipeline";
export type { CacheRunOptions, CacheRunReport } from "./pipeline";
export { EmbeddingCache, specKey, textKey } from "./cache";
export { assertGatewayCompatible } from "./compat";
export { defaultModelDir, loadModelFiles, provisionModel, resolveModelDir } from "./model";
export type { Precision, Provenance } from "./model";
export { GATEWAY_EMBEDDING, rowOf } from "./types";
export type { EmbeddingMatrix, EmbeddingSpec } from "./types";
export { ensureHubModel, hubEndpoint, hubModelDir, remoteAllowed } from "./hub";
export type { HubManifest, HubOptions } from "./hub";
