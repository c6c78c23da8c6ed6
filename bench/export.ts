import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../lib/embed/types";
import { writeProbes } from "../lib/export/gateway-check";
import { ensureExportPython, runSklearnExport } from "../lib/export/sklearn-step";
import { createRouter } from "../lib/routers/registry";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

/**
 * Export of a KNN router with 100,000 stored points through the pinned scikit-learn step (fit, pickle, reload,
 * re-predict routerlab's evaluation queries), and the load time of the resulting pickle in scikit-learn, against a
 * Python user fitting and pickling the same estimator on the same data in the same run.
 */

const N = 100_000;
const PROBES = 200;
const DIM = 384;

const PEER = `
import json, pickle, sys, time
import numpy as np
from sklearn.neighbors import KNeighborsClassifier
req = json.load(open(sys.argv[1]))
X = np.fromfile(req["train"], dtype="<f4").reshape(-1, ${DIM})
y = np.array(json.load(open(req["labels"])), dtype=object).astype(str)
t = time.perf_counter()
m = KNeighborsClassifier(n_neighbors=5, metric="cosine", weights="distance", algorithm="brute").fit({ X }, y)
with open(req["peer_pkl"], "wb") as f:
    pickle.dump(m, f, protocol=pickle.HIGHEST_PROTOCOL)
fit_dump = time.perf_counter() - t
def load(p):
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        with open(p, "rb") as f:
            obj = pickle.load(f)
        best = min(best, time.perf_counter() - t)
    return best, obj
ours_load, ours = load(req["ours_pkl"])
peer_load, _ = load(req["peer_pkl"])
probe = X[:1]
assert str((await ours.predict({ X: probe }))[0]) == str((await m.predict({ X: probe }))[0])
print(json.dumps({"fit_dump": fit_dump, "ours_load": ours_load, "peer_load": peer_load}))
`;

const PeerOut = z.object({ fit_dump: z.number(), ours_load: z.number(), peer_load: z.number() });

function dataset(): { X: EmbeddingMatrix; y: Int32Array; probes: EmbeddingMatrix } {
  const rng = createRng(42);
  const centres = [0, 1, 2].map(() => Float32Array.from({ length: DIM }, () => rng.normal()));
  const make = (rows: number) => {
    const data = new Float32Array(rows * DIM);
    const y = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const c = rng.int(3);
      y[r] = rng.next() < 0.2 ? rng.int(3) : c;
      let n = 0;
      for (let j = 0; j < DIM; j++) n += (data[r * DIM + j] = centres[c]![j]! + 3 * rng.normal()) ** 2;
      n = Math.sqrt(n);
      for (let j = 0; j < DIM; j++) data[r * DIM + j]! /= n;
    }
    return { m: { data, rows, dim: DIM }, y };
  };
  const train = make(N);
  return { X: train.m, y: train.y, probes: make(PROBES).m };
}

export const exportBench: BenchArea = {
  prefix: "export.",
  async run(): Promise<BenchResult[]> {
    const models = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku-20241022"];
    const { X, y, probes } = dataset();
    const router = createRouter("knn", { k: 5, weights: "distance" });
    await router.fit({ X }, { kind: "multi", models, labels: y });
    const expected = await router.predict({ X: probes });
    const python = ensureExportPython(undefined, (m) => process.stderr.write(m + "\n"));
    const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-export-"));
    try {
      const ours = path.join(tmp, "router.pkl");
      const labels = Array.from(y, (v) => models[v]!);
      const t0 = performance.now();
      const step = runSklearnExport({
        kind: "knn",
        train: X,
        labels,
        hyperparameters: { n_neighbors: 5, metric: "cosine", weights: "distance", algorithm: "brute" },
        probes,
        expected,
        out: ours,
        rowChecks: 20,
      });
      const exportSeconds = (performance.now() - t0) / 1000;
      process.stderr.write(`[bench] export step timings: ${JSON.stringify(step.timings)}\n`);
      const train = path.join(tmp, "train.f32");
      writeProbes(train, X);
      writeFileSync(path.join(tmp, "labels.json"), JSON.stringify(labels));
      const req = path.join(tmp, "req.json");
      writeFileSync(
        req,
        JSON.stringify({
          train,
          labels: path.join(tmp, "labels.json"),
          ours_pkl: ours,
          peer_pkl: path.join(tmp, "peer.pkl"),
        }),
      );
      const p = spawnSync(python, ["-c", PEER, req], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (p.status !== 0) throw new Error(`python peer failed: ${p.stderr.slice(-1500)}`);
      const peer = PeerOut.parse(JSON.parse(p.stdout.trim().split("\n").pop()!));
      return [
        {
          name: "export.knn_100k_export_seconds",
          value: exportSeconds,
          unit: "s",
          peer: "python: KNeighborsClassifier.fit + pickle.dump (sklearn 1.8.0), no verification",
          peerValue: peer.fit_dump,
          ratio: peer.fit_dump / exportSeconds,
          goal: `<= 30 s, including reload + re-predicting ${PROBES} queries (up to 20 also row by row, within 5 s)`,
          met: exportSeconds <= 30,
        },
        {
          name: "export.knn_100k_sklearn_load_seconds",
          value: peer.ours_load,
          unit: "s",
          peer: "python: pickle.load of the peer's own pickle",
          peerValue: peer.peer_load,
          ratio: peer.peer_load / peer.ours_load,
          goal: "<= 1.2x peer",
          met: peer.ours_load <= 1.2 * peer.peer_load,
        },
      ];
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
