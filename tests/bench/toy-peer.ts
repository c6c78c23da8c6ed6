/**
 * A toy peer for the protocol test: `node toy-peer.js <threads> <thrashMs>` does a fixed amount of floating-point
 * work split over `threads` worker threads, each also spinning `thrashMs` (the deliberately slowed configuration:
 * what oversubscribed OpenMP threads do on a busy machine), and prints {"seconds": ...} as the Python peers do.
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const WORK = 6_000_000;

function spin(iterations: number, thrashMs: number): number {
  let s = 0;
  for (let i = 0; i < iterations; i++) s += Math.sqrt(i + s * 1e-9);
  const until = performance.now() + thrashMs;
  while (performance.now() < until) s += 1e-12;
  return s;
}

if (isMainThread) {
  const threads = Number(process.argv[2] ?? "1");
  const thrashMs = Number(process.argv[3] ?? "0");
  const t0 = performance.now();
  const parts = Array.from(
    { length: threads },
    () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { iterations: WORK / threads, thrashMs } });
        w.once("message", () => resolve());
        w.once("error", reject);
      }),
  );
  void Promise.all(parts).then(() => {
    process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }) + "\n");
    process.exit(0);
  });
} else {
  const { iterations, thrashMs } = workerData as { iterations: number; thrashMs: number };
  parentPort!.postMessage(spin(iterations, thrashMs));
}
