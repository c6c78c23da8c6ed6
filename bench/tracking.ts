import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { startRun } from "../lib/tracking/run";
import { venvPython } from "../lib/util/paths";
import { startMlflow, startS3 } from "../tests/harness/services";
import type { BenchArea, BenchResult } from "./types";

const N_METRICS = 100_000;
const HOT_CALLS = 200_000;
const PY_HOT_CALLS = 1_000;

const PY_LOG_BATCH = `
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
uri, n, hot = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = MlflowClient(uri)
exp = c.create_experiment("bench-python-%d" % time.time_ns())
base = int(time.time() * 1000)
metrics = [Metric("loss", 1.0 / (i + 1), base + i // 1000, i) for i in range(n)]
t0 = time.perf_counter()
run = c.create_run(exp)
c.log_batch(run.info.run_id, metrics=metrics)
c.set_terminated(run.info.run_id)
seconds = time.perf_counter() - t0
run2 = c.create_run(exp)
lat = []
ops = []
for i in range(hot):
    s = time.perf_counter_ns()
    ops.append(c.log_metric(run2.info.run_id, "hot", float(i), step=i, synchronous=False))
    lat.append((time.perf_counter_ns() - s) / 1000.0)
for o in ops:
    o.wait()
c.set_terminated(run2.info.run_id)
lat.sort()
print(json.dumps({"seconds": seconds, "p99_us": lat[int(0.99 * (len(lat) - 1))], "points": len(c.get_metric_history(run.info.run_id, "loss"))}))
`;

const PyResult = z.object({ seconds: z.number(), p99_us: z.number(), points: z.number() });

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

async function run(): Promise<BenchResult[]> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-tracking-"));
  const s3 = await startS3();
  const mlflow = await startMlflow({ s3 });
  try {
    // Python peer first (same server, same run of the bench).
    const py = spawnSync(
      venvPython(),
      ["-c", PY_LOG_BATCH, mlflow.url, String(N_METRICS), String(PY_HOT_CALLS)],
      {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: "true" },
      },
    );
    if (py.status !== 0) throw new Error(`python mlflow peer failed: ${py.stderr.slice(-2000)}`);
    const peer = PyResult.parse(JSON.parse(py.stdout.trim().split("\n").at(-1)!));
    if (peer.points !== N_METRICS)
      throw new Error(`python peer logged ${peer.points} points, not ${N_METRICS}`);

    // routerlab: the real path (journal, then sync to the server), from first call to the run's end on the server.
    const t0 = process.hrtime.bigint();
    const tracked = startRun({
      experiment: `bench-routerlab-${Date.now()}`,
      trackingUri: mlflow.url,
      journalDir: path.join(tmp, "journal"),
      handleSignals: false,
    });
    for (let i = 0; i < N_METRICS; i++) tracked.logMetric("loss", 1 / (i + 1), i);
    const end = await tracked.end();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!end.synced) throw new Error(`routerlab run did not sync: ${end.error}`);

    // Hot path: logMetric on a journal-only run (async flush), per-call latency.
    const hot = startRun({
      experiment: "bench-hot",
      trackingUri: "",
      journalDir: path.join(tmp, "journal-hot"),
      handleSignals: false,
    });
    const lat = new Float64Array(HOT_CALLS);
    for (let i = 0; i < HOT_CALLS; i++) {
      const s = process.hrtime.bigint();
      hot.logMetric("hot", i, i);
      lat[i] = Number(process.hrtime.bigint() - s) / 1000;
    }
    await hot.end();
    lat.sort();
    const p99 = percentile(lat, 0.99);

    return [
      {
        name: "tracking.log_100k_metrics_seconds",
        value: seconds,
        unit: "s",
        peer: "python mlflow MlflowClient.log_batch",
        peerValue: peer.seconds,
        ratio: peer.seconds / seconds,
        goal: "<= peer (ratio >= 1)",
        met: seconds <= peer.seconds,
      },
      {
        name: "tracking.log_metric_p99_us",
        value: p99,
        unit: "us",
        peer: "python mlflow log_metric(synchronous=False)",
        peerValue: peer.p99_us,
        ratio: peer.p99_us / p99,
        goal: "p99 <= 50 us",
        met: p99 <= 50,
      },
    ];
  } finally {
    await mlflow.stop();
    await s3.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const trackingBench: BenchArea = { prefix: "tracking.", run };
