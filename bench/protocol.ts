/**
 * The benchmark protocol, one place for every area that compares routerlab with a peer:
 * 1. each side runs as a competent user would configure it on this machine: every configuration given (thread
 *    counts 1..cores, see `threadCounts`) is timed once, interleaved across the two sides, and the fastest kept
 *    (a configuration may give up once it exceeds `SEARCH_BUDGET` x the side's best search time so far);
 * 2. the kept configurations then run in interleaved rounds (ours, peer, ours, peer, ...) and the median of each
 *    side is the figure (the search sample of the kept configuration counts as its first round);
 * 3. the 1-minute load average is recorded before and after the figure; a figure taken while it exceeded the core
 *    count is `noisy` and never counts as met.
 * Timings are seconds, lower is better.
 */
import os from "node:os";
import type { BenchResult } from "./types";

export interface Config {
  /** Shown in results, e.g. "1 thread". */
  label: string;
  /**
   * One timed run; returns seconds. During the search `budgetSeconds` is set once a configuration of the same side
   * has a time: a run that can stop early (e.g. PyTorch checking after each epoch) may give up past it and return
   * `Infinity` (a thrashing configuration took 45x the best one under load, minutes of bench time for nothing).
   */
  run: (budgetSeconds?: number) => Promise<number> | number;
}

export interface Side {
  /** e.g. "PyTorch 2.13 CPU" or "routerlab ort engine". */
  name: string;
  configs: readonly Config[];
}

/** During the search, a run may stop once it takes this many times the side's best time so far. */
export const SEARCH_BUDGET = 3;

export interface SideFigure {
  name: string;
  /** The kept configuration's label. */
  config: string;
  /** Every configuration tried, in order. */
  tried: string[];
  /** Search time of each configuration tried (same order as `tried`); null = gave up past the budget. */
  searchSeconds: (number | null)[];
  samples: number[];
  median: number;
}

export interface Comparison {
  ours: SideFigure;
  peer: SideFigure;
  load: { before: number; after: number };
  cores: number;
  noisy: boolean;
}

export interface ProtocolOptions {
  /** Figure rounds per side (>= 1), the search sample included. Default 3. */
  rounds?: number;
  /** Default: os.availableParallelism(). */
  cores?: number;
  /** 1-minute load average; default os.loadavg()[0]. */
  loadAverage?: () => number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Thread counts a user would try on this machine: 1..cores. */
export function threadCounts(cores = os.availableParallelism()): number[] {
  return Array.from({ length: Math.max(1, cores) }, (_, i) => i + 1);
}

export function threadLabel(n: number): string {
  return `${n} thread${n === 1 ? "" : "s"}`;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no samples");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` with the usual BLAS/OpenMP thread variables set to `n` (children inherit them), then restores them. */
export async function withThreadEnv<T>(n: number, fn: () => Promise<T> | T): Promise<T> {
  const keys = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"];
  const saved = keys.map((k) => process.env[k]);
  for (const k of keys) process.env[k] = String(n);
  try {
    return await fn();
  } finally {
    keys.forEach((k, i) => {
      if (saved[i] === undefined) delete process.env[k];
      else process.env[k] = saved[i];
    });
  }
}

/** "PyTorch 2.13 CPU, 1 thread (best of 1, 2 threads)". */
export function describe(side: SideFigure): string {
  return side.tried.length > 1
    ? `${side.name}, ${side.config} (best of ${side.tried.join(" / ")})`
    : `${side.name}, ${side.config}`;
}

/** The protocol (see the file comment): search both sides' configurations, then interleaved rounds. */
export async function compare(ours: Side, peer: Side, opts: ProtocolOptions = {}): Promise<Comparison> {
  const rounds = Math.max(1, opts.rounds ?? 3);
  const cores = opts.cores ?? os.availableParallelism();
  const loadAverage = opts.loadAverage ?? ((): number => os.loadavg()[0]!);
  const log = opts.log ?? ((line: string): void => void process.stderr.write(`[bench] ${line}\n`));
  if (ours.configs.length === 0 || peer.configs.length === 0)
    throw new Error("each side needs at least one configuration");
  const before = loadAverage();
  const timed = async (side: Side, c: Config, budget?: number): Promise<number> => {
    const s = await c.run(budget);
    log(
      `${side.name}, ${c.label}: ${Number.isFinite(s) ? `${s.toFixed(3)} s` : `gave up past ${budget?.toFixed(1)} s`}`,
    );
    return s;
  };
  const budget = (xs: number[]): number | undefined =>
    xs.length > 0 ? SEARCH_BUDGET * Math.min(...xs) : undefined;
  // search, interleaved: ours[0], peer[0], ours[1], peer[1], ...
  const search: [number[], number[]] = [[], []];
  const most = Math.max(ours.configs.length, peer.configs.length);
  for (let i = 0; i < most; i++) {
    if (i < ours.configs.length) search[0].push(await timed(ours, ours.configs[i]!, budget(search[0])));
    if (i < peer.configs.length) search[1].push(await timed(peer, peer.configs[i]!, budget(search[1])));
  }
  const bestOf = (xs: number[]): number => xs.indexOf(Math.min(...xs));
  const keep = [bestOf(search[0]), bestOf(search[1])] as const;
  const samples: [number[], number[]] = [[search[0][keep[0]]!], [search[1][keep[1]]!]];
  for (let r = 1; r < rounds; r++) {
    samples[0].push(await timed(ours, ours.configs[keep[0]]!));
    samples[1].push(await timed(peer, peer.configs[keep[1]]!));
  }
  const after = loadAverage();
  const figure = (side: Side, k: number, s: 0 | 1): SideFigure => ({
    name: side.name,
    config: side.configs[k]!.label,
    tried: side.configs.map((c) => c.label),
    searchSeconds: search[s].map((x) => (Number.isFinite(x) ? x : null)),
    samples: samples[s],
    median: median(samples[s]),
  });
  return {
    ours: figure(ours, keep[0], 0),
    peer: figure(peer, keep[1], 1),
    load: { before, after },
    cores,
    noisy: Math.max(before, after) > cores,
  };
}

/**
 * A BenchResult for "routerlab's time vs the peer's" (ratio = peer / ours, > 1 = routerlab faster) where the goal
 * is `ours <= factor x peer`; never met when noisy.
 */
export function timeResult(name: string, c: Comparison, goal: { factor: number; text: string }): BenchResult {
  const ours = c.ours.median;
  const peer = c.peer.median;
  return {
    name,
    value: ours,
    unit: "s",
    peer: describe(c.peer),
    peerValue: peer,
    ratio: peer / ours,
    goal: goal.text,
    met: !c.noisy && ours <= goal.factor * peer,
    noisy: c.noisy,
    ours: describe(c.ours),
    load: c.load,
    samples: { ours: c.ours.samples, peer: c.peer.samples },
  };
}

/**
 * Stamps the area's load average on every figure that did not record its own (areas outside the timing protocol, e.g.
 * throughput or memory figures): above the core count the figure is noisy and never met, except an accuracy figure,
 * which no load changes (it gets the load stamped and keeps its verdict).
 */
export function withAreaLoad(
  results: readonly BenchResult[],
  load: { before: number; after: number },
  cores = os.availableParallelism(),
): BenchResult[] {
  const noisy = Math.max(load.before, load.after) > cores;
  return results.map((r) =>
    r.load !== undefined
      ? r
      : r.accuracy
        ? { ...r, load }
        : { ...r, load, noisy: r.noisy === true || noisy, met: r.met === null ? null : r.met && !noisy },
  );
}

/** The verdict of one figure for the summary table: a noisy figure is never met. */
export function verdict(r: BenchResult): "met" | "not met" | "noisy" | "info" {
  if (r.noisy) return "noisy";
  if (r.met === null) return "info";
  return r.met ? "met" : "not met";
}
