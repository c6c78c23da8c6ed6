import { z } from "zod";
import { createRouter } from "../lib/routers/registry";
import type { PeerResult } from "../tests/peers/sklearn-peer";
import { runSklearnPeer } from "../tests/peers/sklearn-peer";
import type { SvmRouter } from "../lib/routers/svm";
import { syntheticEmbeddings } from "./knn";
import { compare, threadCounts, threadLabel, timeResult, withThreadEnv } from "./protocol";
import { isBenchWorker, serveBenchWorker, startBenchWorker } from "./worker";
import type { BenchArea, BenchResult } from "./types";

const N = 5000;
const N_TEST = 1000;
const DIM = 384;

function svmData() {
  const { X, labels } = syntheticEmbeddings(N + N_TEST, DIM, 60, 11);
  return {
    train: { data: X.data.subarray(0, N * DIM), rows: N, dim: DIM },
    test: { data: X.data.subarray(N * DIM), rows: N_TEST, dim: DIM },
    y: labels.slice(0, N),
  };
}

/**
 * routerlab's side in a child process per ROUTERLAB_KNN_THREADS setting (the kernel products' onnxruntime session is
 * created once per process, lib/routers/native/gram.ts): "fit" times one fit, "decision" gives the last fitted
 * router's decision values and labels on the test points.
 */
async function svmWorker(): Promise<Record<string, () => unknown>> {
  const { train, test, y } = svmData();
  let r: SvmRouter | undefined;
  return {
    fit: async () => {
      r = createRouter("svm", { kernel: "rbf", C: 1, gamma: "scale" }) as SvmRouter;
      const t0 = process.hrtime.bigint();
      await r.fit({ X: train }, { kind: "binary", models: ["weak", "strong"], labels: y });
      return Number(process.hrtime.bigint() - t0) / 1e9;
    },
    decision: () => {
      if (!r) throw new Error("no fit yet");
      return { decision: Array.from(r.decisionFunction(test)), pred: Array.from(r.predictIndex(test)) };
    },
  };
}

const Decision = z.object({ decision: z.array(z.number()), pred: z.array(z.number()) });

export const svmBench: BenchArea = {
  prefix: "svm.",
  async run(): Promise<BenchResult[]> {
    const { train, test, y } = svmData();
    let sk: PeerResult | undefined;
    const peerRun = (threads: number) => (): Promise<number> =>
      withThreadEnv(threads, () => {
        sk = runSklearnPeer({
          estimator: "svc",
          params: { kernel: "rbf", C: 1, gamma: "scale" },
          train,
          labels: y,
          test,
        });
        return sk.fit_seconds;
      });
    // Both sides try 1..cores threads: scikit-learn's BLAS/OpenMP variables, routerlab's kernel-product onnxruntime
    // threads (ROUTERLAB_KNN_THREADS, a worker process per setting).
    const counts = threadCounts();
    const workers = counts.map((n) => startBenchWorker(__filename, { ROUTERLAB_KNN_THREADS: String(n) }));
    let c;
    let ours: z.infer<typeof Decision>;
    try {
      c = await compare(
        {
          name: "routerlab SVM",
          configs: workers.map((w, i) => ({
            label: `${threadLabel(counts[i]!)} (ROUTERLAB_KNN_THREADS=${counts[i]})`,
            run: async () => z.number().parse(await w.call("fit")),
          })),
        },
        {
          name: "scikit-learn SVC(rbf, C=1, gamma=scale)",
          configs: counts.map((n) => ({ label: threadLabel(n), run: peerRun(n) })),
        },
      );
      ours = Decision.parse(await workers[c.ours.tried.indexOf(c.ours.config)]!.call("decision"));
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    const skOut = sk!;
    c.peer.name = `scikit-learn ${skOut.sklearn} SVC(rbf, C=1, gamma=scale)`;
    let maxDiff = 0;
    ours.decision.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - skOut.decision![i]!))));
    const agree = ours.pred.filter((p, i) => p === skOut.pred[i]).length / N_TEST;
    const peer = c.peer.name;
    return [
      timeResult("svm.fit_5000_seconds", c, {
        factor: 1.2,
        text: "<= 1.2x scikit-learn's fit time at its best thread count",
      }),
      {
        name: "svm.decision_max_abs_diff",
        value: maxDiff,
        unit: "abs",
        peer,
        peerValue: 0,
        ratio: null,
        goal: "<= 1e-6 on 1,000 test points",
        met: maxDiff <= 1e-6,
      },
      {
        name: "svm.label_agreement",
        value: agree,
        unit: "fraction",
        peer,
        peerValue: 1,
        ratio: agree,
        goal: ">= 0.999",
        met: agree >= 0.999,
      },
    ];
  },
};

if (require.main === module && isBenchWorker()) {
  serveBenchWorker(svmWorker).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
