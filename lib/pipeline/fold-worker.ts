/**
 * Worker-thread entry that fits one router per message (see fold-pool.ts). The dataset and embeddings arrive
 * once in workerData; each job names its training rows and seed. Replies with the learned state, which
 * `routerFromState` turns back into the identical router on the main thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { fitRouter } from "./fit";
import type { FoldJob, FoldReply, FoldWorkerData } from "./fold-pool";

if (parentPort) {
  const port = parentPort;
  const shared = workerData as FoldWorkerData;
  port.on("message", (job: FoldJob) => {
    fitRouter({ ...shared, rows: job.rows, seed: job.seed, useCache: false }).then(
      (fit) =>
        port.postMessage({
          ok: true,
          state: fit.router.state(),
          fitSeconds: fit.fitSeconds,
        } satisfies FoldReply),
      (e: unknown) =>
        port.postMessage({
          ok: false,
          error: e instanceof Error ? e.message : String(e),
        } satisfies FoldReply),
    );
  });
}
