import { RouterlabError } from "../util/errors";
import type { EmbeddingSpec } from "./types";
import { GATEWAY_EMBEDDING } from "./types";

/**
 * Throws a RouterlabError naming the first property of `spec` that differs from what the RouteIQ gateway
 * computes (gateway-contract.md §4). Export calls this before shipping a router.
 */
export function assertGatewayCompatible(spec: EmbeddingSpec, where = "embedding spec"): void {
  for (const key of Object.keys(GATEWAY_EMBEDDING) as (keyof typeof GATEWAY_EMBEDDING)[]) {
    const want = GATEWAY_EMBEDDING[key];
    const got = spec[key];
    if (got !== want) {
      throw new RouterlabError(
        `embeddings do not match the gateway: ${key} is ${JSON.stringify(got)}, the gateway uses ${JSON.stringify(want)}` +
          (key === "precision" ? " (int8 vectors are not bit-compatible with the gateway's fp32 ones)" : ""),
        { file: where, field: key },
        "re-embed the training data with the default fp32 embedder (routerlab embed)",
      );
    }
  }
  if (!/^[0-9a-f]{64}$/.test(spec.weightsSha256)) {
    throw new RouterlabError(
      `weightsSha256 is not a sha256 hex digest: ${JSON.stringify(spec.weightsSha256)}`,
      {
        file: where,
        field: "weightsSha256",
      },
    );
  }
}
