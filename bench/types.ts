/**
 * One figure in bench/results.json. `peer` is the Python tool measured in the same run, with the configuration the
 * protocol kept (bench/protocol.ts), e.g. "PyTorch 2.13 CPU, 1 thread (best of 1 thread / 2 threads)".
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  peer: string | null;
  peerValue: number | null;
  /** How many times better routerlab is than its peer (>1 = better), oriented by `higherIsBetter`. */
  ratio: number | null;
  /** The goal, stated as text, e.g. ">= 1.5x peer" or "p99 <= 10 ms". */
  goal: string;
  met: boolean | null;
  /**
   * An accuracy figure (a deterministic evaluation, e.g. APGR or AIQ), not a timing: valid under any load, so never
   * marked noisy.
   */
  accuracy?: true;
  /** The figure's bootstrap interval (percentile, `level` e.g. 0.95), for accuracy figures that have one. */
  interval?: { lo: number | null; hi: number | null; level: number };
  /** Taken while the load average exceeded the core count (bench/protocol.ts): never met. */
  noisy?: boolean;
  /** routerlab's kept configuration, when the protocol chose one. */
  ours?: string;
  /** 1-minute load average before and after the figure. */
  load?: { before: number; after: number };
  /** The interleaved rounds behind the medians (seconds). */
  samples?: { ours: number[]; peer: number[] };
}

export interface BenchArea {
  /** Prefix of every figure's name, e.g. "data." */
  prefix: string;
  run(): Promise<BenchResult[]>;
}
