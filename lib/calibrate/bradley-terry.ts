/**
 * Bradley-Terry ratings by maximum likelihood: the LMSYS Chatbot Arena method (`compute_mle_elo`). A battle between
 * models a and b has P(a wins) = 1 / (1 + 10^((R_b − R_a) / 400)); the ratings maximise the likelihood of the
 * observed outcomes, a tie counting as half a win for each side (LMSYS weights a decisive battle twice and a tie once
 * per side: the same optimum). Ratings are R = 400·β + 1000 with Σβ = 0: the likelihood only sees differences, and
 * Σβ = 0 is the point scikit-learn's unpenalised, intercept-free LogisticRegression reaches from zero (its gradient
 * never leaves that subspace).
 *
 * Fitted by Newton's method on the battles aggregated per pair (the model's first rating fixed during the solve,
 * then centred), so the optimum is found to ~1e-12. Bootstrap intervals resample battles with a seeded RNG.
 */
import { createRng } from "../util/random";
import { percentileInterval } from "./calibrate";
import { sigmoid } from "../util/logistic";

export const ELO_SCALE = 400;
export const ELO_BASE = 10;
export const ELO_INITIAL = 1000;

/** Battles between models (indices into `models`); `outcome` 1 = a wins, 0 = b wins, 0.5 = tie. */
export interface Battles {
  readonly models: readonly string[];
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly outcome: Float64Array;
  /** Optional: the training query each battle came from (battlesFromOutcomes fills it). */
  readonly query?: Int32Array;
}

export class BradleyTerryError extends Error {}

/** Per ordered pair (a < b): battles n and a's points (wins + half ties), each battle counted `weights[i]` times. */
function aggregate(
  K: number,
  bt: Battles,
  weights?: ArrayLike<number>,
): { n: Float64Array; wa: Float64Array } {
  const n = new Float64Array(K * K);
  const wa = new Float64Array(K * K);
  for (let i = 0; i < bt.a.length; i++) {
    const w = weights ? weights[i]! : 1;
    if (w === 0) continue;
    let a = bt.a[i]!;
    let b = bt.b[i]!;
    let y = bt.outcome[i]!;
    if (a === b) continue;
    if (a > b) {
      [a, b] = [b, a];
      y = 1 - y;
    }
    n[a * K + b] = n[a * K + b]! + w;
    wa[a * K + b] = wa[a * K + b]! + w * y;
  }
  return { n, wa };
}

/** Why the MLE does not exist (the "scored a point against" graph is not strongly connected), or null. */
function mleProblem(K: number, n: Float64Array, wa: Float64Array, models: readonly string[]): string | null {
  // Edge i -> j when i scored points against j.
  const beats = (i: number, j: number): boolean => {
    if (i < j) return wa[i * K + j]! > 0;
    return n[j * K + i]! - wa[j * K + i]! > 0;
  };
  const reach = (forward: boolean): boolean[] => {
    const seen = new Array<boolean>(K).fill(false);
    seen[0] = true;
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (let j = 0; j < K; j++)
        if (!seen[j] && j !== i && (forward ? beats(i, j) : beats(j, i))) {
          seen[j] = true;
          stack.push(j);
        }
    }
    return seen;
  };
  const named = (set: boolean[], v: boolean): string =>
    models
      .filter((_, k) => set[k] === v)
      .map((m) => `'${m}'`)
      .join(", ");
  // Nothing in F (what model 0 transitively scores against) scores against the rest, and nothing outside R (what
  // transitively scores against model 0) scores against R: either way a group's rating would be infinite.
  const f = reach(true);
  if (f.includes(false))
    return `no maximum-likelihood rating exists: ${named(f, true)} never score a point against ${named(f, false)}; add battles or drop models`;
  const r = reach(false);
  if (r.includes(false))
    return `no maximum-likelihood rating exists: ${named(r, false)} never score a point against ${named(r, true)}; add battles or drop models`;
  return null;
}

/** Solves A x = y (A symmetric positive definite, row-major, m x m) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, y: Float64Array, m: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(y);
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(M[r * m + c]!) > Math.abs(M[p * m + c]!)) p = r;
    if (p !== c) {
      for (let k = 0; k < m; k++) [M[c * m + k], M[p * m + k]] = [M[p * m + k]!, M[c * m + k]!];
      [x[c], x[p]] = [x[p]!, x[c]!];
    }
    const d = M[c * m + c]!;
    for (let r = c + 1; r < m; r++) {
      const f = M[r * m + c]! / d;
      if (f === 0) continue;
      for (let k = c; k < m; k++) M[r * m + k] = M[r * m + k]! - f * M[c * m + k]!;
      x[r] = x[r]! - f * x[c]!;
    }
  }
  for (let c = m - 1; c >= 0; c--) {
    let s = x[c]!;
    for (let k = c + 1; k < m; k++) s -= M[c * m + k]! * x[k]!;
    x[c] = s / M[c * m + c]!;
  }
  return x;
}

const LN = Math.log(ELO_BASE);
const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** β (Σβ = 0) maximising the likelihood of the aggregated battles. Throws BradleyTerryError when none exists. */
function fitBeta(K: number, n: Float64Array, wa: Float64Array, models: readonly string[]): Float64Array {
  const problem = mleProblem(K, n, wa, models);
  if (problem) throw new BradleyTerryError(problem);
  const beta = new Float64Array(K);
  const nll = (bt: Float64Array): number => {
    let s = 0;
    for (let a = 0; a < K; a++)
      for (let b = a + 1; b < K; b++) {
        const nn = n[a * K + b]!;
        if (nn === 0) continue;
        const z = LN * (bt[a]! - bt[b]!);
        s += nn * softplus(z) - wa[a * K + b]! * z;
      }
    return s;
  };
  let f = nll(beta);
  const m = K - 1; // free parameters: β_1..β_{K-1} (β_0 = 0 during the solve)
  for (let it = 0; it < 200 && m > 0; it++) {
    const g = new Float64Array(K);
    const H = new Float64Array(K * K);
    for (let a = 0; a < K; a++)
      for (let b = a + 1; b < K; b++) {
        const nn = n[a * K + b]!;
        if (nn === 0) continue;
        const p = sigmoid(LN * (beta[a]! - beta[b]!));
        const r = LN * (nn * p - wa[a * K + b]!);
        g[a] = g[a]! + r;
        g[b] = g[b]! - r;
        const h = LN * LN * nn * p * (1 - p);
        H[a * K + a] = H[a * K + a]! + h;
        H[b * K + b] = H[b * K + b]! + h;
        H[a * K + b] = H[a * K + b]! - h;
        H[b * K + a] = H[b * K + a]! - h;
      }
    let gmax = 0;
    for (let k = 1; k < K; k++) gmax = Math.max(gmax, Math.abs(g[k]!));
    if (gmax < 1e-13) break;
    const Hr = new Float64Array(m * m);
    const gr = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      gr[i] = g[i + 1]!;
      for (let j = 0; j < m; j++) Hr[i * m + j] = H[(i + 1) * K + (j + 1)]!;
    }
    const step = solve(Hr, gr, m);
    let t = 1;
    let next = beta;
    let fNext = f;
    for (let h = 0; h < 60; h++) {
      next = Float64Array.from(beta);
      for (let i = 0; i < m; i++) next[i + 1] = next[i + 1]! - t * step[i]!;
      fNext = nll(next);
      // Near the optimum f is flat to rounding (~1e-16 |f|): accept the Newton step unless it clearly goes uphill.
      if (fNext <= f + 1e-12 * Math.abs(f)) break;
      t /= 2;
    }
    let moved = 0;
    for (let k = 0; k < K; k++) moved = Math.max(moved, Math.abs(next[k]! - beta[k]!));
    beta.set(next);
    f = fNext;
    if (moved < 1e-15) break;
  }
  let mean = 0;
  for (let k = 0; k < K; k++) mean += beta[k]! / K;
  for (let k = 0; k < K; k++) beta[k] = beta[k]! - mean;
  return beta;
}

export interface EloFit {
  readonly models: readonly string[];
  /** Per model, in `models` order. */
  readonly ratings: Float64Array;
  readonly battles: number;
  readonly intervals?: {
    readonly level: number;
    readonly lo: Float64Array;
    readonly hi: Float64Array;
    readonly resamples: number;
    /** Resamples with no maximum-likelihood rating (a model unbeaten or never winning), left out. */
    readonly skipped: number;
    readonly seed: number;
  };
}

function checkBattles(bt: Battles): void {
  const K = bt.models.length;
  if (K < 2) throw new BradleyTerryError(`ELO needs at least 2 models, got ${K}`);
  if (bt.a.length !== bt.b.length || bt.a.length !== bt.outcome.length)
    throw new BradleyTerryError("battles: a, b and outcome differ in length");
  if (bt.a.length === 0) throw new BradleyTerryError("no battles");
  for (let i = 0; i < bt.a.length; i++) {
    const a = bt.a[i]!;
    const b = bt.b[i]!;
    const y = bt.outcome[i]!;
    if (!(a >= 0 && a < K && b >= 0 && b < K) || a === b)
      throw new BradleyTerryError(`battle ${i}: model indices ${a}, ${b} are invalid`);
    if (y !== 0 && y !== 0.5 && y !== 1)
      throw new BradleyTerryError(`battle ${i}: outcome ${y} is not 0, 0.5 or 1`);
  }
}

/** Maximum-likelihood ELO ratings, with percentile bootstrap intervals when `resamples` > 0. */
export function fitElo(
  bt: Battles,
  opts: { resamples?: number; seed?: number; level?: number } = {},
): EloFit {
  checkBattles(bt);
  const K = bt.models.length;
  const toRating = (beta: Float64Array): Float64Array =>
    Float64Array.from(beta, (v) => ELO_SCALE * v + ELO_INITIAL);
  const { n, wa } = aggregate(K, bt);
  const ratings = toRating(fitBeta(K, n, wa, bt.models));
  const B = opts.resamples ?? 0;
  if (B <= 0) return { models: bt.models, ratings, battles: bt.a.length };
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  const rng = createRng(seed);
  const N = bt.a.length;
  const draws = Array.from({ length: K }, () => new Float64Array(B).fill(NaN));
  const counts = new Int32Array(N);
  let skipped = 0;
  for (let r = 0; r < B; r++) {
    counts.fill(0);
    for (let i = 0; i < N; i++) counts[rng.int(N)]!++;
    const agg = aggregate(K, bt, counts);
    try {
      const rr = toRating(fitBeta(K, agg.n, agg.wa, bt.models));
      for (let k = 0; k < K; k++) draws[k]![r] = rr[k]!;
    } catch (e) {
      if (!(e instanceof BradleyTerryError)) throw e;
      skipped++;
    }
  }
  const lo = new Float64Array(K);
  const hi = new Float64Array(K);
  draws.forEach((d, k) => {
    const iv = percentileInterval(d, level);
    lo[k] = iv.lo;
    hi[k] = iv.hi;
  });
  return {
    models: bt.models,
    ratings,
    battles: N,
    intervals: { level, lo, hi, resamples: B, skipped, seed },
  };
}

/**
 * Maximum-likelihood ratings with a non-negative weight per battle (a battle of weight w counts as w battles: the
 * weighted likelihood scikit-learn maximises with `sample_weight`). No intervals: callers refit per query.
 */
export function fitEloWeighted(bt: Battles, weights: ArrayLike<number>): Float64Array {
  checkBattles(bt);
  if (weights.length !== bt.a.length)
    throw new BradleyTerryError(`${weights.length} weights for ${bt.a.length} battles`);
  for (let i = 0; i < weights.length; i++)
    if (!(Number.isFinite(weights[i]) && weights[i]! >= 0))
      throw new BradleyTerryError(`battle ${i}: weight ${weights[i]} is not a finite non-negative number`);
  const K = bt.models.length;
  const { n, wa } = aggregate(K, bt, weights);
  return Float64Array.from(fitBeta(K, n, wa, bt.models), (v) => ELO_SCALE * v + ELO_INITIAL);
}

/**
 * Battles from per-query outcomes of several models (N x M quality, row-major, NaN = not observed): every pair of
 * observed models on a query is one battle, the higher quality wins, equal quality is a tie.
 */
export function battlesFromOutcomes(models: readonly string[], quality: ArrayLike<number>): Battles {
  const M = models.length;
  const N = quality.length / M;
  const a: number[] = [];
  const b: number[] = [];
  const y: number[] = [];
  const from: number[] = [];
  for (let q = 0; q < N; q++)
    for (let i = 0; i < M; i++) {
      const qi = quality[q * M + i]!;
      if (Number.isNaN(qi)) continue;
      for (let j = i + 1; j < M; j++) {
        const qj = quality[q * M + j]!;
        if (Number.isNaN(qj)) continue;
        a.push(i);
        b.push(j);
        y.push(qi > qj ? 1 : qi < qj ? 0 : 0.5);
        from.push(q);
      }
    }
  return {
    models,
    a: Int32Array.from(a),
    b: Int32Array.from(b),
    outcome: Float64Array.from(y),
    query: Int32Array.from(from),
  };
}

/**
 * Battles from MT-Bench single-answer judgements (score 1-10 per question, model and turn): on each (question, turn)
 * every pair of judged models is one battle, the higher score wins, equal scores tie.
 */
export function battlesFromJudgements(
  judgements: readonly { questionId: number; model: string; turn: number; score: number }[],
): Battles {
  const models = [...new Set(judgements.map((j) => j.model))].sort();
  const byKey = new Map<string, Map<number, number>>();
  for (const j of judgements) {
    const key = `${j.questionId}\u0000${j.turn}`;
    let m = byKey.get(key);
    if (!m) byKey.set(key, (m = new Map()));
    m.set(models.indexOf(j.model), j.score);
  }
  const a: number[] = [];
  const b: number[] = [];
  const y: number[] = [];
  for (const m of byKey.values()) {
    const idx = [...m.keys()].sort((x, z) => x - z);
    for (let i = 0; i < idx.length; i++)
      for (let j = i + 1; j < idx.length; j++) {
        const si = m.get(idx[i]!)!;
        const sj = m.get(idx[j]!)!;
        a.push(idx[i]!);
        b.push(idx[j]!);
        y.push(si > sj ? 1 : si < sj ? 0 : 0.5);
      }
  }
  return { models, a: Int32Array.from(a), b: Int32Array.from(b), outcome: Float64Array.from(y) };
}
