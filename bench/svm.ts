import { createRouter } from "../lib/routers/registry";
import type { PeerResult } from "../tests/peers/sklearn-peer";
import { runSklearnPeer } from "../tests/peers/sklearn-peer";
import type { SvmRouter } from "../lib/routers/svm";
import { syntheticEmbeddings } from "./knn";
import { compare, threadCounts, threadLabel, timeResult, withThreadEnv } from "./protocol";
import type { BenchArea, BenchResult } from "./types";

export const svmBench: BenchArea = {
  prefix: "svm.",
  async run(): Promise<BenchResult[]> {
    const n = 5000;
    const nTest = 1000;
    const dim = 384;
    const { X, labels } = syntheticEmbeddings(n + nTest, dim, 60, 11);
    const train = { data: X.data.subarray(0, n * dim), rows: n, dim };
    const test = { data: X.data.subarray(n * dim), rows: nTest, dim };
    const y = labels.slice(0, n);
    let r: SvmRouter | undefined;
    const ours = async (): Promise<number> => {
      r = createRouter("svm", { kernel: "rbf", C: 1, gamma: "scale" }) as SvmRouter;
      const t0 = process.hrtime.bigint();
      await r.fit({ X: train }, { kind: "binary", models: ["weak", "strong"], labels: y });
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };
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
    // scikit-learn's BLAS/OpenMP threads are tried 1..cores. routerlab's kernel products run on one onnxruntime
    // session per process (native/gram.ts, threads from ROUTERLAB_KNN_THREADS, else onnxruntime's default), so its
    // side has the one configuration this process has.
    const knnThreads = process.env.ROUTERLAB_KNN_THREADS;
    const oursLabel = knnThreads ? `ROUTERLAB_KNN_THREADS=${knnThreads}` : "onnxruntime default threads";
    const c = await compare(
      { name: "routerlab SVM", configs: [{ label: oursLabel, run: ours }] },
      {
        name: "scikit-learn SVC(rbf, C=1, gamma=scale)",
        configs: threadCounts().map((n) => ({ label: threadLabel(n), run: peerRun(n) })),
      },
    );
    const fitted = r!;
    const skOut = sk!;
    c.peer.name = `scikit-learn ${skOut.sklearn} SVC(rbf, C=1, gamma=scale)`;
    const dec = fitted.decisionFunction(test);
    let maxDiff = 0;
    dec.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - skOut.decision![i]!))));
    const pred = fitted.predictIndex(test);
    const agree = Array.from(pred).filter((p, i) => p === skOut.pred[i]).length / nTest;
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
