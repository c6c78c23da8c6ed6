/**
 * Quality of a router's own P(strong needed) scores against the binary labels (1 = strong needed), independent of
 * any threshold: AUROC (ranking), Brier score and expected calibration error (probabilities). Pure functions; the
 * definitions are in docs/evaluation.md and match scikit-learn's roc_auc_score and brier_score_loss.
 */
import { RouterlabError } from "../util/errors";

function check(p: ArrayLike<number>, y: ArrayLike<number>, probabilities: boolean): void {
  if (p.length !== y.length)
    throw new RouterlabError(`${p.length} scores but ${y.length} labels`, {
      file: "scores",
      field: "labels",
    });
  if (p.length === 0) throw new RouterlabError("no scores to evaluate", { file: "scores" });
  for (let i = 0; i < p.length; i++) {
    if (y[i] !== 0 && y[i] !== 1)
      throw new RouterlabError(`label ${y[i]} is not 0 or 1`, { file: "scores", path: `labels[${i}]` });
    const v = p[i]!;
    if (!Number.isFinite(v) || (probabilities && (v < 0 || v > 1)))
      throw new RouterlabError(`score ${v} is not ${probabilities ? "a probability in [0, 1]" : "finite"}`, {
        file: "scores",
        path: `scores[${i}]`,
      });
  }
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative, ties counting
 * one half (Mann-Whitney U / (n+ n-), computed with mid-ranks). Null when one class is absent.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  check(scores, labels, false);
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const mid = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[order[k]!] === 1) {
        pos++;
        rankSum += mid;
      }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Brier score: mean of (p - y)^2. */
export function brier(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  check(p, labels, true);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - labels[i]!) ** 2;
  return s / p.length;
}

/**
 * Expected calibration error over `bins` equal-width bins of [0, 1] (bin b holds b/B <= p < (b+1)/B, p = 1 in the
 * last): sum over non-empty bins of (n_b / n) * |mean label in b - mean p in b|.
 */
export function ece(p: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): number {
  check(p, labels, true);
  if (!Number.isInteger(bins) || bins < 1)
    throw new RouterlabError(`ECE needs a positive integer bin count, got ${bins}`, {
      file: "config",
      field: "bins",
    });
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const b = Math.min(bins - 1, Math.floor(p[i]! * bins));
    count[b]!++;
    sumP[b]! += p[i]!;
    sumY[b]! += labels[i]!;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) e += Math.abs(sumY[b]! - sumP[b]!) / p.length;
  return e;
}

export interface ScoreCalibration {
  readonly auroc: number | null;
  readonly brier: number | null;
  readonly ece: number | null;
  /** Brier and ECE need probabilities; null (with this note) when the scores leave [0, 1]. */
  readonly note?: string;
}

/** AUROC always; Brier and ECE only when every score is a probability. */
export function scoreCalibration(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): ScoreCalibration {
  const a = auroc(scores, labels);
  for (let i = 0; i < scores.length; i++)
    if (!(scores[i]! >= 0 && scores[i]! <= 1))
      return { auroc: a, brier: null, ece: null, note: "scores are not probabilities in [0, 1]" };
  return { auroc: a, brier: brier(scores, labels), ece: ece(scores, labels, bins) };
}
