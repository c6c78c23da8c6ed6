import { z } from "zod";
import { RouterlabError } from "../util/errors";
import type { BatchCounts } from "./records";
import type { RunningCollector } from "./server";
import { DEFAULT_LIMITS, isLoopback, startCollectServer } from "./server";
import { CollectStore } from "./store";

export const MB = 1024 * 1024;

export const CollectOptions = z.object({
  out: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"),
  segmentMb: z.coerce.number().positive(),
  maxBodyMb: z.coerce.number().positive(),
  maxDecodedMb: z.coerce.number().positive(),
  maxInflightMb: z.coerce.number().positive(),
  reportSeconds: z.coerce.number().positive(),
});

export type CollectRequest = z.infer<typeof CollectOptions>;

/** One line of what a batch (or the dataset) holds. */
export function formatCounts(c: BatchCounts): string {
  return (
    `${c.spans} spans: ${c.llm} LLM with prompt, ${c.llm_no_prompt} LLM WITHOUT prompt content, ` +
    `${c.decision_spans} decision spans (${c.decisions} decisions stored, ${c.decisions_rejected} refused), ` +
    `${c.other} other, ${c.rejected} rejected`
  );
}

/**
 * `routerlab collect`'s start: a non-loopback address needs a bearer token (from the environment variable
 * `tokenEnv`); opens the dataset folder and starts the OTLP/HTTP server with the given limits.
 */
export async function openCollector(
  o: CollectRequest,
): Promise<{ server: RunningCollector; store: CollectStore; token?: string; loopback: boolean }> {
  const token = process.env[o.tokenEnv];
  const loopback = isLoopback(o.host);
  if (!loopback && (token === undefined || token === ""))
    throw new RouterlabError(
      `--host ${o.host} is not a loopback address: set a bearer token in the environment variable ${o.tokenEnv} first`,
      undefined,
      "the gateway then sends it with OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>",
    );
  const store = await CollectStore.open(o.out, { segmentBytes: o.segmentMb * MB });
  let server: RunningCollector;
  try {
    server = await startCollectServer({
      host: o.host,
      port: o.port,
      ...(token ? { token } : {}),
      store,
      limits: {
        ...DEFAULT_LIMITS,
        maxBodyBytes: Math.round(o.maxBodyMb * MB),
        maxDecodedBytes: Math.round(o.maxDecodedMb * MB),
        maxInflightBytes: Math.round(o.maxInflightMb * MB),
      },
    });
  } catch (e) {
    await store.close();
    throw new RouterlabError(`cannot listen on ${o.host}:${o.port}: ${(e as Error).message}`);
  }
  return { server, store, ...(token ? { token } : {}), loopback };
}
