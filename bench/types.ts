/** One figure in bench/results.json. `peer` is the Python tool measured in the same run. */
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
}

export interface BenchArea {
  /** Prefix of every figure's name, e.g. "data." */
  prefix: string;
  run(): Promise<BenchResult[]>;
}
