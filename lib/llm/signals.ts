/**
 * Ctrl-C for long LLM jobs: the first SIGINT aborts every queued and in-flight call, flushes the response cache
 * (everything already answered stays paid for) and exits with 130; a second SIGINT exits at once.
 */
import path from "node:path";
import { RouterlabError } from "../util/errors";
import type { RouterlabLlmClient } from "./client";
import { createLlmClient } from "./client";
import type { ModelsConfig } from "./config";

export interface SigintOptions {
  /** Where the one-line notice goes (default stderr). */
  log?: (msg: string) => void;
  /** Exit the process after flushing (default true). False: only abort and close, e.g. in a notebook. */
  exit?: boolean;
  /** Called after the cache is flushed, before exiting (e.g. to end a tracking run). */
  onInterrupt?: () => Promise<void> | void;
}

/** Installs the handler; returns a function that removes it. */
export function abortOnSigint(client: RouterlabLlmClient, opts: SigintOptions = {}): () => void {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  let interrupted = false;
  const handler = (): void => {
    if (interrupted) {
      process.exit(130);
    }
    interrupted = true;
    log(
      `routerlab: interrupted; aborting ${client.pending} LLM call(s), flushing the response cache (answers so far are kept)`,
    );
    client.abort(new Error("interrupted (SIGINT)"));
    void client
      .close()
      .then(() => opts.onInterrupt?.())
      .catch((e: unknown) => log(`routerlab: while stopping: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        if (opts.exit !== false) process.exit(130);
      });
  };
  process.on("SIGINT", handler);
  return () => {
    process.off("SIGINT", handler);
  };
}

/** A client for a CLI job that Ctrl-C stops gracefully: the first SIGINT aborts `signal`, a second exits with 130. */
export interface InterruptibleClient {
  readonly client: RouterlabLlmClient;
  readonly signal: AbortSignal;
  /** Removes the SIGINT handler and closes the client (flushing its cache). */
  close(): Promise<void>;
}

/** `notice` is printed on the first Ctrl-C; `cacheDir` overrides the client's response cache folder. */
export function interruptibleClient(
  models: ModelsConfig,
  opts: { notice: string; cacheDir?: string },
): InterruptibleClient {
  const controller = new AbortController();
  const onSigint = (): void => {
    process.stderr.write(`\n${opts.notice}\n`);
    controller.abort(new RouterlabError("interrupted"));
    process.once("SIGINT", () => process.exit(130));
  };
  process.once("SIGINT", onSigint);
  const client = createLlmClient(models, {
    signal: controller.signal,
    ...(opts.cacheDir ? { cacheDir: path.resolve(opts.cacheDir) } : {}),
  });
  return {
    client,
    signal: controller.signal,
    close: async () => {
      process.removeListener("SIGINT", onSigint);
      await client.close();
    },
  };
}
