/**
 * Labels from production answers: the judge grades the answer the gateway actually returned (when
 * the span carried it), and optionally one counterfactual answer from the other tier, judged
 * pairwise in both orders (position bias cancelled as in lib/oracle/judge.ts). Each row records
 * what its label is based on. Every model call goes through the LLM client, so its spend ledger,
 * limits, retries and response cache apply (a re-run pays for nothing twice).
 */
import type { LlmClient } from "../llm/types";
import type { PairJudgement, PositionBiasReport } from "../oracle/judge";
import { judgePair, judgeQuality, positionBias } from "../oracle/judge";
import type { Side } from "../oracle/judge";

export interface ProductionRow {
  /** Unique row id, e.g. `<traceId>/<spanId>`. */
  id: string;
  /** The query text as the gateway builds it. */
  query: string;
  /** The model that answered. */
  servedModel: string;
  /** The answer the gateway returned; null when the span did not carry it. */
  response: string | null;
}

export interface ProductionLabelOptions {
  judge: string;
  /** Model names of the two tiers, as the client knows them (used for counterfactual answers). */
  weak: string;
  strong: string;
  /** Which tier served a row; null: neither (the row is left unlabelled). */
  tierOf: (servedModel: string) => Side | null;
  /** Ask the other tier for one answer and judge the pair. */
  counterfactual: boolean;
  /** A served answer scoring at least this (0-1) was good enough. */
  goodEnough: number;
  seed: number;
  concurrency: number;
  temperature?: number;
  maxTokens?: number;
  onRow?: () => void;
}

export type LabelBasis =
  /** Only the served answer was judged. */
  | "served-answer"
  /** The served answer and a counterfactual answer from the other tier, judged pairwise in both orders. */
  | "served-vs-counterfactual"
  /** No answer on the span (content capture off for completions): nothing to judge. */
  | "no-served-answer"
  /** The served model is neither tier. */
  | "unknown-tier";

export interface ProductionLabel {
  id: string;
  query: string;
  servedModel: string;
  servedTier: Side | null;
  basis: LabelBasis;
  /** Judge quality of the served answer in [0, 1]; null when not judged or unparsed. */
  servedScore: number | null;
  /** "the served model was good enough" (servedScore >= goodEnough); null when unknown. */
  goodEnough: boolean | null;
  counterfactual: {
    model: string;
    answer: string;
    costUsd: number;
    pair: Pick<PairJudgement, "firstShown" | "verdicts" | "winner" | "consistent">;
  } | null;
  /**
   * The tier that should serve this query: with a counterfactual the pairwise winner (a tie goes
   * to weak: it was as good, for less); without one, "weak" only when weak served a good-enough
   * answer (strong serving well says nothing about weak), else null.
   */
  label: Side | null;
  /** What the label rests on, in words. */
  because: string;
  costUsd: number;
}

export interface ProductionLabelResult {
  rows: ProductionLabel[];
  positionBias: PositionBiasReport;
  byBasis: Record<LabelBasis, number>;
  labelled: number;
  costUsd: number;
}

async function pool<T, R>(items: readonly T[], concurrency: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/** Labels production rows (see ProductionLabel for the rule). */
export async function labelProductionRows(
  client: LlmClient,
  rows: readonly ProductionRow[],
  o: ProductionLabelOptions,
): Promise<ProductionLabelResult> {
  const jopts = {
    temperature: o.temperature ?? 0,
    ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
  };
  const labelled = await pool(rows, o.concurrency, async (r): Promise<ProductionLabel> => {
    const tier = o.tierOf(r.servedModel);
    const base = { id: r.id, query: r.query, servedModel: r.servedModel, servedTier: tier };
    const empty = { servedScore: null, goodEnough: null, counterfactual: null, label: null, costUsd: 0 };
    try {
      if (tier === null)
        return {
          ...base,
          ...empty,
          basis: "unknown-tier",
          because: `served model ${r.servedModel} is neither tier`,
        };
      if (r.response === null)
        return {
          ...base,
          ...empty,
          basis: "no-served-answer",
          because: "the span carried no answer (turn on completion content capture)",
        };
      const q = await judgeQuality(client, o.judge, r.query, r.response, jopts);
      const good = q.score === null ? null : q.score >= o.goodEnough;
      let cost = q.costUsd;
      if (!o.counterfactual) {
        const label: Side | null = tier === "weak" && good === true ? "weak" : null;
        return {
          ...base,
          basis: "served-answer",
          servedScore: q.score,
          goodEnough: good,
          counterfactual: null,
          label,
          because:
            q.score === null
              ? "the judge's quality reply did not parse"
              : `served ${tier} answer scored ${q.score.toFixed(1)} (${good ? "good enough" : "not good enough"})` +
                (label === null ? "; the other tier was not asked, so no routing label" : ""),
          costUsd: cost,
        };
      }
      const otherModel = tier === "weak" ? o.strong : o.weak;
      const other = await client.chat({
        model: otherModel,
        messages: [{ role: "user", content: r.query }],
        ...jopts,
      });
      cost += other.originalCostUsd;
      const answers =
        tier === "weak" ? { weak: r.response, strong: other.text } : { weak: other.text, strong: r.response };
      const pair = await judgePair(
        client,
        o.judge,
        { rowId: r.id, question: r.query, ...answers },
        o.seed,
        jopts,
      );
      cost += pair.costUsd;
      const label: Side = pair.winner === "strong" ? "strong" : "weak";
      return {
        ...base,
        basis: "served-vs-counterfactual",
        servedScore: q.score,
        goodEnough: good,
        counterfactual: {
          model: otherModel,
          answer: other.text,
          costUsd: other.originalCostUsd,
          pair: {
            firstShown: pair.firstShown,
            verdicts: pair.verdicts,
            winner: pair.winner,
            consistent: pair.consistent,
          },
        },
        label,
        because:
          `pairwise judge, both orders: ${pair.consistent ? `${pair.winner} wins` : "orders disagree (tie)"}` +
          `${pair.winner === "tie" ? "; a tie goes to weak" : ""}; served ${tier} answer scored ${q.score?.toFixed(1) ?? "unparsed"}`,
        costUsd: cost,
      };
    } finally {
      o.onRow?.();
    }
  });
  const pairs = labelled
    .filter((l) => l.counterfactual !== null)
    .map((l) => ({
      verdicts: l.counterfactual!.pair.verdicts,
      consistent: l.counterfactual!.pair.consistent,
    }));
  const byBasis: Record<LabelBasis, number> = {
    "served-answer": 0,
    "served-vs-counterfactual": 0,
    "no-served-answer": 0,
    "unknown-tier": 0,
  };
  for (const l of labelled) byBasis[l.basis]++;
  return {
    rows: labelled,
    positionBias: positionBias(pairs),
    byBasis,
    labelled: labelled.filter((l) => l.label !== null).length,
    costUsd: labelled.reduce((s, l) => s + l.costUsd, 0),
  };
}

/**
 * A tier lookup from model-name lists: a served name matches a listed name exactly or as `<name>-<suffix>`
 * (dated response models such as `gpt-4o-2024-08-06`); the longest listed match wins, so `gpt-4o-mini-2024-07-18`
 * is the `gpt-4o-mini` tier even when `gpt-4o` is listed too.
 */
export function tierLookup(tiers: {
  weak: readonly string[];
  strong: readonly string[];
}): (served: string) => Side | null {
  const longest = (names: readonly string[], m: string) =>
    names.filter((n) => m === n || m.startsWith(n + "-")).reduce((a, n) => Math.max(a, n.length), -1);
  return (m) => {
    const w = longest(tiers.weak, m);
    const s = longest(tiers.strong, m);
    if (w < 0 && s < 0) return null;
    return w >= s ? "weak" : "strong";
  };
}
