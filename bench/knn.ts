import os from "node:os";
import { z } from "zod";
import type { EmbeddingMatrix } from "../lib/embed/types";
import type { KnnRouter } from "../lib/routers/knn";
import { createRouter } from "../lib/routers/registry";
import { runSklearnPeer } from "../tests/peers/sklearn-peer";
import type { PeerResult } from "../tests/peers/sklearn-peer";
import type { RoutingTask } from "../lib/routers/types";
import { createRng } from "../lib/util/random";
import { compare, describe, threadCounts, threadLabel, withThreadEnv } from "./protocol";
import { isBenchWorker, serveBenchWorker, startBenchWorker } from "./worker";
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

const K = 10;
const N_QUERIES = 10_000;
const SINGLES = 200;
const DIM = 384;

/** The bench's data: `ROUTERLAB_BENCH_KNN_STORED` (default 100,000) stored points and 10,000 queries. */
function knnData(): { stored: EmbeddingMatrix; queries: EmbeddingMatrix; task: RoutingTask } {
  const nStored = Number(process.env.ROUTERLAB_BENCH_KNN_STORED ?? 100_000);
  const all = syntheticEmbeddings(nStored + N_QUERIES, DIM, 200, 7);
  return {
    stored: rows(all.X, 0, nStored),
    queries: rows(all.X, nStored, nStored + N_QUERIES),
    task: { kind: "binary", models: ["weak", "strong"], labels: all.labels.slice(0, nStored) },
  };
}

/**
 * routerlab's side in a child process per ROUTERLAB_KNN_THREADS setting (bench/worker.ts): "batch" times the
 * 10,000-query batch, "singles" gives the p99 of 200 one-row queries (ms), "predictions" the last batch's decisions.
 */
async function knnWorker(): Promise<Record<string, () => unknown>> {
  const { stored, queries, task } = knnData();
  const knn = createRouter("knn", { k: K }) as KnnRouter;
  await knn.fit({ X: stored }, task);
  await knn.predict({ X: rows(queries, 0, 64) }); // warm-up (session creation)
  let last: string[] = [];
  return {
    batch: async () => {
      const t = now();
      last = await knn.predict({ X: queries });
      return (now() - t) / 1000;
    },
    singles: async () => {
      const lat: number[] = [];
      for (let i = 0; i < SINGLES; i++) {
        const q = rows(queries, i, i + 1);
        const t = now();
        await knn.predict({ X: q });
        lat.push(now() - t);
      }
      return p99(lat);
    },
    predictions: () => last.map((m) => (m === "strong" ? 1 : 0)),
  };
}

export const knnBench: BenchArea = {
  prefix: "knn.",
  async run(): Promise<BenchResult[]> {
    const { stored, queries, task } = knnData();
    const nStored = stored.rows;
    note(`data ready: ${nStored} stored, ${N_QUERIES} queries`);
    // Batch queries on the protocol: routerlab's onnxruntime threads (a worker process per setting) and
    // scikit-learn's BLAS/OpenMP threads, 1..cores each; single-query p99 then taken in each side's kept setting.
    const counts = threadCounts();
    const workers = counts.map((n) => startBenchWorker(__filename, { ROUTERLAB_KNN_THREADS: String(n) }));
    const sklearn = (singleQueries = 0): PeerResult =>
      runSklearnPeer({
        estimator: "knn",
        params: { n_neighbors: K },
        train: stored,
        labels: task.labels,
        test: queries,
        singleQueries,
      });
    let c;
    let ourP99: number;
    let oursIdx: number[];
    try {
      c = await compare(
        {
          name: "routerlab KNN (onnxruntime)",
          configs: workers.map((w, i) => ({
            label: `${threadLabel(counts[i]!)} (ROUTERLAB_KNN_THREADS=${counts[i]})`,
            run: async () => z.number().parse(await w.call("batch")),
          })),
        },
        {
          name: "scikit-learn KNeighborsClassifier(brute, cosine)",
          configs: counts.map((n) => ({
            label: threadLabel(n),
            run: () => withThreadEnv(n, () => sklearn().predict_seconds),
          })),
        },
      );
      const kept = workers[c.ours.tried.indexOf(c.ours.config)]!;
      ourP99 = z.number().parse(await kept.call("singles"));
      oursIdx = z.array(z.number()).parse(await kept.call("predictions"));
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    const peerThreads = counts[c.peer.tried.indexOf(c.peer.config)]!;
    // the single-query latency is taken in the peer's kept thread setting, known only now
    const sk = await withThreadEnv(peerThreads, () => sklearn(SINGLES));
    c.peer.name = `scikit-learn ${sk.sklearn} KNeighborsClassifier(brute, cosine)`;
    const agreeSk = oursIdx.filter((v, i) => v === sk.pred[i]).length / N_QUERIES;
    note(
      `kept: ours ${c.ours.config}, sklearn ${c.peer.config}; single-query p99 ours ${ourP99.toFixed(2)} ms`,
    );

    const ours = oursIdx.map((v) => task.models[v]!);
    const ann = createRouter("knn", { k: K, index: { type: "ivf", nprobe: 6, seed: 0 } }) as KnnRouter;
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
      const t = now();
      annPred.push((await ann.predict({ X: q }))[0]!);
      annLat.push(now() - t);
      const cpu = process.cpuUsage(c0);
      annCpu.push((cpu.user + cpu.system) / 1000);
    }
    const annAgree = annPred.filter((p, i) => p === ours[i]).length / nAnn;
    const ourQps = N_QUERIES / c.ours.median;
    const skQps = N_QUERIES / c.peer.median;
    const skP99 = sk.single_p99_ms!;
    const annP99 = p99(annLat);
    const annP50 = annLat.slice().sort((a, b) => a - b)[Math.floor(nAnn / 2)]!;
    const annCpuP99 = p99(annCpu);
    const load = os.loadavg()[0]!;
    const peer = describe(c.peer);
    const protocol = { noisy: c.noisy, ours: describe(c.ours), load: c.load };
    return [
      {
        name: "knn.batch_10k_qps",
        value: ourQps,
        unit: "queries/s",
        peer,
        peerValue: skQps,
        ratio: ourQps / skQps,
        goal: `>= 1.0x peer at its best thread count (${nStored} stored points, dim ${DIM}, k ${K}; medians of interleaved rounds)`,
        met: !c.noisy && ourQps >= skQps,
        ...protocol,
        samples: { ours: c.ours.samples, peer: c.peer.samples },
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
        goal: `p99 <= peer's (${SINGLES} one-row queries, each side in its kept batch configuration)`,
        met: !c.noisy && ourP99 <= skP99,
        ...protocol,
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

if (require.main === module && isBenchWorker()) {
  serveBenchWorker(knnWorker).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
