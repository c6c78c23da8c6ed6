import path from "node:path";
import { Worker } from "node:worker_threads";
import type { RoutingData } from "../data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import type { RoutingSetting } from "../routers/labels";
import { routerFromState } from "../routers/registry";
import type { Router, RouterState } from "../routers/types";
import { RouterlabError } from "../util/errors";
import type { RouterSpec } from "./config";

export interface FoldWorkerData {
  spec: RouterSpec;
  data: RoutingData;
  X: EmbeddingMatrix;
  setting: RoutingSetting;
  embeddingSpec: EmbeddingSpec;
}
export interface FoldJob {
  rows: readonly number[];
  seed: number;
}
export type FoldReply = { ok: true; state: RouterState; fitSeconds: number } | { ok: false; error: string };

/**
 * Fits one router per job in up to `workers` worker threads; results in job order. A fit in a worker runs
 * the same code on the same inputs as `fitRouter` on the main thread, so the routers are identical.
 */
export async function fitInWorkers(
  shared: FoldWorkerData,
  jobs: readonly FoldJob[],
  workers: number,
): Promise<{ router: Router; fitSeconds: number }[]> {
  const results: { router: Router; fitSeconds: number }[] = new Array(jobs.length);
  let next = 0;
  let failed = false;
  const file = path.join(__dirname, "fold-worker.js");
  const runWorker = async (): Promise<void> => {
    const worker = new Worker(file, { workerData: shared });
    try {
      while (next < jobs.length && !failed) {
        const j = next++;
        const reply = await new Promise<FoldReply>((resolve, reject) => {
          const onError = (e: Error) => reject(e);
          const onExit = (code: number) =>
            reject(new RouterlabError(`router '${shared.spec.name}' fold worker exited (code ${code})`));
          worker.once("error", onError);
          worker.once("exit", onExit);
          worker.once("message", (m: FoldReply) => {
            worker.off("error", onError);
            worker.off("exit", onExit);
            resolve(m);
          });
          worker.postMessage(jobs[j]);
        });
        if (!reply.ok) throw new RouterlabError(`router '${shared.spec.name}' fold ${j + 1}: ${reply.error}`);
        results[j] = { router: routerFromState(reply.state), fitSeconds: reply.fitSeconds };
      }
    } catch (e) {
      failed = true; // the other workers stop after their current fit
      throw e;
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, runWorker));
  return results;
}
