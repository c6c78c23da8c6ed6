import os from "node:os";
import type { EmbeddingMatrix } from "../lib/embed/types";
import type { KnnRouter } from "../lib/routers/knn";
import { createRouter } from "../lib/routers/registry";
import { runSklearnPeer } from "../tests/peers/sklearn-peer";
import type { RoutingTask } from "../lib/routers/types";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

/**
 * Seeded unit-norm float32 vectors with cluster structure (embedding cost excluded from the bench):
 * `clusters` random centres, points = centre + noise, normalised; binary labels by cluster with 15% noise.
 */
export function syntheticEmbeddings(
  n: number,
  dim: number,
  clusters: number,
  seed: number,
): { X: EmbeddingMatrix; labels: Int32Array } {
  const rng = createRng(seed);
  const centres = new Float64Array(clusters * dim).map(() => rng.normal());
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const v = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      v[d] = centres[c * dim + d]! + 1.5 * rng.normal();
      norm += v[d]! * v[d]!;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) data[i * dim + d] = v[d]! / norm;
    labels[i] = rng.next() < 0.15 ? rng.int(2) : c % 2;
  }
  return { X: { data, rows: n, dim }, labels };
}

function rows(X: EmbeddingMatrix, from: number, to: number): EmbeddingMatrix {
  return { data: X.data.subarray(from * X.dim, to * X.dim), rows: to - from, dim: X.dim };
}

function p99(ms: number[]): number {
  const s = ms.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const note = (msg: string): void =>
  void process.stderr.write(`[bench knn] ${new Date().toISOString()} ${msg}\n`);

export const knnBench: BenchArea = {
  prefix: "knn.",
  async run(): Promise<BenchResult[]> {
    const nStored = Number(process.env.ROUTERLAB_BENCH_KNN_STORED ?? 100_000);
    const nQueries = 10_000;
    const singles = 200;
    const dim = 384;
    const all = syntheticEmbeddings(nStored + nQueries, dim, 200, 7);
    const stored = rows(all.X, 0, nStored);
    const queries = rows(all.X, nStored, nStored + nQueries);
    const task: RoutingTask = {
      kind: "binary",
      models: ["weak", "strong"],
      labels: all.labels.slice(0, nStored),
    };
    note(`data ready: ${nStored} stored, ${nQueries} queries`);
    const k = 10;
    const knn = createRouter("knn", { k }) as KnnRouter;
    await knn.fit({ X: stored }, task);
    await knn.predict({ X: rows(queries, 0, 64) }); // warm-up (session creation)
    let t = now();
    const ours = await knn.predict({ X: queries });
    const batchMs = now() - t;
    const lat: number[] = [];
    for (let i = 0; i < singles; i++) {
      const q = rows(queries, i, i + 1);
      t = now();
      await knn.predict({ X: q });
      lat.push(now() - t);
    }
    note(`ours: batch ${batchMs.toFixed(0)} ms, singles done`);
    const sk = runSklearnPeer({
      estimator: "knn",
      params: { n_neighbors: k },
      train: stored,
      labels: task.labels,
      test: queries,
      singleQueries: singles,
    });
    const oursIdx = ours.map((m) => (m === "strong" ? 1 : 0));
    const agreeSk = oursIdx.filter((v, i) => v === sk.pred[i]).length / nQueries;

    note(`sklearn: batch ${sk.predict_seconds.toFixed(2)} s`);
    const ann = createRouter("knn", { k, index: { type: "ivf", nprobe: 6, seed: 0 } }) as KnnRouter;
    await ann.fit({ X: stored }, task);
    note("ivf index built");
    const annLat: number[] = [];
    const annCpu: number[] = [];
    const nAnn = 2000;
    const annPred: string[] = [];
    for (let i = 0; i < 50; i++) await ann.predict({ X: rows(queries, i, i + 1) }); // warm-up (JIT)
    for (let i = 0; i < nAnn; i++) {
      const q = rows(queries, i, i + 1);
      const c0 = process.cpuUsage();
      t = now();
      annPred.push((await ann.predict({ X: q }))[0]!);
      annLat.push(now() - t);
      const c = process.cpuUsage(c0);
      annCpu.push((c.user + c.system) / 1000);
    }
    const annAgree = annPred.filter((p, i) => p === ours[i]).length / nAnn;
    const ourQps = nQueries / (batchMs / 1000);
    const skQps = nQueries / sk.predict_seconds;
    const ourP99 = p99(lat);
    const skP99 = sk.single_p99_ms!;
    const annP99 = p99(annLat);
    const annP50 = annLat.slice().sort((a, b) => a - b)[Math.floor(nAnn / 2)]!;
    const annCpuP99 = p99(annCpu);
    const load = os.loadavg()[0]!;
    const peer = `scikit-learn ${sk.sklearn} KNeighborsClassifier(brute, cosine)`;
    return [
      {
        name: "knn.batch_10k_qps",
        value: ourQps,
        unit: "queries/s",
        peer,
        peerValue: skQps,
        ratio: ourQps / skQps,
        goal: `>= 1.0x peer (${nStored} stored points, dim ${dim}, k ${k})`,
        met: ourQps >= skQps,
      },
      {
        name: "knn.batch_agreement",
        value: agreeSk,
        unit: "fraction",
        peer,
        peerValue: 1,
        ratio: agreeSk,
        goal: "decisions identical to peer (1.0)",
        met: agreeSk === 1,
      },
      {
        name: "knn.single_p99_ms",
        value: ourP99,
        unit: "ms",
        peer,
        peerValue: skP99,
        ratio: skP99 / ourP99,
        goal: "p99 <= peer's",
        met: ourP99 <= skP99,
      },
      {
        name: "knn.ann_single_p99_ms",
        value: annP99,
        unit: "ms",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: `p99 <= 1 ms (IVF, nlist sqrt(n), nprobe 6; wall clock, 1-min load average ${load.toFixed(1)} on this machine)`,
        met: annP99 <= 1,
      },
      {
        name: "knn.ann_single_p50_ms",
        value: annP50,
        unit: "ms",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: "informational: median wall-clock latency of the same queries",
        met: null,
      },
      {
        name: "knn.ann_single_cpu_p99_ms",
        value: annCpuP99,
        unit: "ms",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: "informational: p99 of the process CPU time per query (excludes waiting for a core on a loaded machine)",
        met: null,
      },
      {
        name: "knn.ann_agreement",
        value: annAgree,
        unit: "fraction",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: ">= 0.99 decision agreement with exact search",
        met: annAgree >= 0.99,
      },
    ];
  },
};
