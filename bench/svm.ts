import { createRouter } from "../lib/routers/registry";
import { runSklearnPeer } from "../tests/peers/sklearn-peer";
import type { SvmRouter } from "../lib/routers/svm";
import { syntheticEmbeddings } from "./knn";
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
    const r = createRouter("svm", { kernel: "rbf", C: 1, gamma: "scale" }) as SvmRouter;
    const t0 = process.hrtime.bigint();
    await r.fit({ X: train }, { kind: "binary", models: ["weak", "strong"], labels: y });
    const ours = Number(process.hrtime.bigint() - t0) / 1e9;
    const sk = runSklearnPeer({
      estimator: "svc",
      params: { kernel: "rbf", C: 1, gamma: "scale" },
      train,
      labels: y,
      test,
    });
    const dec = r.decisionFunction(test);
    let maxDiff = 0;
    dec.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - sk.decision![i]!))));
    const pred = r.predictIndex(test);
    const agree = Array.from(pred).filter((p, i) => p === sk.pred[i]).length / nTest;
    const peer = `scikit-learn ${sk.sklearn} SVC(rbf, C=1, gamma=scale)`;
    return [
      {
        name: "svm.fit_5000_seconds",
        value: ours,
        unit: "s",
        peer,
        peerValue: sk.fit_seconds,
        ratio: sk.fit_seconds / ours,
        goal: "<= 1.2x peer's fit time",
        met: ours <= 1.2 * sk.fit_seconds,
      },
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
