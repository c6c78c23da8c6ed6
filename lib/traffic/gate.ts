/**
 * The promotion gate (pure): is the challenger's quality better than the champion's at the same
 * strong share, on the same held-out traffic, with a paired bootstrap interval that excludes zero?
 *
 * At a strong share s each router sends its top round(s * n) queries by score to the strong model
 * (ties broken by query order, the same way for both), every other query to the weak one; a query's
 * quality is the routed tier's label quality. The bootstrap resamples queries (pairs: both routers
 * see the same resample) with a logged seed and re-applies the share inside each resample.
 */
import { createRng } from "../util/random";

export interface GateInput {
  /** Router scores for the strong model on the held-out queries (same order for both). */
  champion: ArrayLike<number>;
  challenger: ArrayLike<number>;
  /** Quality of the weak / strong answer per query (e.g. 0/1 production labels, or judge scores). */
  yWeak: ArrayLike<number>;
  yStrong: ArrayLike<number>;
}

export interface GateOptions {
  /** Strong shares to compare at, each in (0, 1). */
  shares: readonly number[];
  resamples: number;
  seed: number;
  /** Two-sided interval level, e.g. 0.95. */
  level: number;
}

export interface GateAtShare {
  share: number;
  champion: number;
  challenger: number;
  /** challenger - champion. */
  diff: number;
  lo: number;
  hi: number;
}

export interface GateDecision {
  promote: boolean;
  /** Why, in one sentence a release note can carry. */
  reason: string;
  atShare: GateAtShare[];
  n: number;
  seed: number;
  resamples: number;
  level: number;
}

/** Mean quality when the `k` highest-scoring of the queries `idx` go to strong (stable on ties: earlier index first). */
function qualityAtK(
  scores: ArrayLike<number>,
  yWeak: ArrayLike<number>,
  yStrong: ArrayLike<number>,
  idx: Int32Array,
  k: number,
): number {
  const order = Array.from(idx.keys()).sort((a, b) => scores[idx[b]!]! - scores[idx[a]!]! || a - b);
  let total = 0;
  for (let r = 0; r < order.length; r++) {
    const q = idx[order[r]!]!;
    total += r < k ? yStrong[q]! : yWeak[q]!;
  }
  return total / idx.length;
}

function percentile(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function promotionGate(input: GateInput, o: GateOptions): GateDecision {
  const n = input.yWeak.length;
  if (n === 0) throw new Error("promotion gate: no held-out queries");
  for (const [name, a] of [
    ["champion", input.champion],
    ["challenger", input.challenger],
    ["yStrong", input.yStrong],
  ] as const)
    if (a.length !== n) throw new Error(`promotion gate: ${name} has ${a.length} values, yWeak ${n}`);
  if (o.shares.length === 0 || o.shares.some((s) => !(s > 0 && s < 1)))
    throw new Error("promotion gate: shares must be in (0, 1)");
  if (!(o.level > 0 && o.level < 1) || o.resamples < 1)
    throw new Error("promotion gate: bad level or resamples");
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const rng = createRng(o.seed);
  const samples = Array.from({ length: o.resamples }, () => Int32Array.from({ length: n }, () => rng.int(n)));
  const atShare = o.shares.map((share): GateAtShare => {
    const k = Math.round(share * n);
    const champion = qualityAtK(input.champion, input.yWeak, input.yStrong, all, k);
    const challenger = qualityAtK(input.challenger, input.yWeak, input.yStrong, all, k);
    const diffs = new Float64Array(samples.length);
    samples.forEach((idx, b) => {
      diffs[b] =
        qualityAtK(input.challenger, input.yWeak, input.yStrong, idx, k) -
        qualityAtK(input.champion, input.yWeak, input.yStrong, idx, k);
    });
    diffs.sort();
    const a = (1 - o.level) / 2;
    return {
      share,
      champion,
      challenger,
      diff: challenger - champion,
      lo: percentile(diffs, a),
      hi: percentile(diffs, 1 - a),
    };
  });
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const fmt = (g: GateAtShare) =>
    `${g.diff >= 0 ? "+" : ""}${g.diff.toFixed(4)} [${g.lo.toFixed(4)}, ${g.hi.toFixed(4)}] at ${pct(g.share)} strong`;
  const failing = atShare.filter((g) => !(g.lo > 0));
  const promote = failing.length === 0;
  const reason = promote
    ? `promote: the challenger's quality is higher at every compared share (${atShare.map(fmt).join("; ")}; ${o.level * 100}% paired bootstrap, n = ${n})`
    : `keep the champion: ${failing
        .map((g) =>
          g.hi < 0 ? `the challenger is worse, ${fmt(g)}` : `the interval includes zero, ${fmt(g)}`,
        )
        .join("; ")} (${o.level * 100}% paired bootstrap, n = ${n})`;
  return { promote, reason, atShare, n, seed: o.seed, resamples: o.resamples, level: o.level };
}
