/**
 * Scoring of evaluation arms (routed policy, policy layers, always-weak, always-strong, random at equal strong
 * share) from per-question outcomes of both models. Pure: every arm picks, per question, one of the two answers
 * that were already asked and graded, so all arms are paired on the same questions (metrics spec §1).
 */
import type { CurvePoint } from "../eval/binary";
import { apgr, BinarySweep, pgr } from "../eval/binary";
import type { Grade, SimpleqaMetrics } from "../eval/simpleqa";
import { simpleqaMetrics } from "../eval/simpleqa";
import { createRng, shuffled } from "../util/random";
import type { Route } from "./policy";

/** What both models did on one test question. */
export interface QuestionOutcome {
  readonly weak: { readonly grade: Grade; readonly costUsd: number };
  readonly strong: { readonly grade: Grade; readonly costUsd: number };
  readonly score: number;
  readonly policy: string;
}

export interface ArmResult {
  readonly name: string;
  readonly kind: "baseline" | "router" | "layer" | "random";
  readonly metrics: SimpleqaMetrics;
  /** Share of questions answered by the strong model. */
  readonly strongShare: number;
  /** USD of the answers this arm uses (at configured prices; grading excluded). */
  readonly costUsd: number;
  readonly costPerQuestionUsd: number;
  /** 1 - cost / always-strong cost; null when always-strong costs nothing. */
  readonly savingsVsStrong: number | null;
  /** PGR of `correct` over the weak -> strong gap; null when the gap is 0. */
  readonly pgr: number | null;
  /** SimpleQA metrics per policy label of the router's decision (questions of this arm with that label). */
  readonly perPolicy: Readonly<Record<string, SimpleqaMetrics>>;
  /** Random arm: the seeds averaged over. */
  readonly seeds?: readonly number[];
}

const pick = (o: QuestionOutcome, r: Route) => (r === "strong" ? o.strong : o.weak);

function perPolicy(
  outcomes: readonly QuestionOutcome[],
  routes: readonly Route[],
): Record<string, SimpleqaMetrics> {
  const by = new Map<string, Grade[]>();
  outcomes.forEach((o, i) => {
    const g = by.get(o.policy) ?? [];
    g.push(pick(o, routes[i]!).grade);
    by.set(o.policy, g);
  });
  return Object.fromEntries([...by.keys()].sort().map((k) => [k, simpleqaMetrics(by.get(k)!)]));
}

function totals(outcomes: readonly QuestionOutcome[]): {
  weak: number;
  strong: number;
  qWeak: number;
  qStrong: number;
} {
  let weak = 0;
  let strong = 0;
  let aw = 0;
  let as = 0;
  for (const o of outcomes) {
    weak += o.weak.costUsd;
    strong += o.strong.costUsd;
    if (o.weak.grade === "A") aw++;
    if (o.strong.grade === "A") as++;
  }
  return { weak, strong, qWeak: aw / outcomes.length, qStrong: as / outcomes.length };
}

/** One arm from its routes. */
export function scoreArm(
  name: string,
  kind: ArmResult["kind"],
  outcomes: readonly QuestionOutcome[],
  routes: readonly Route[],
): ArmResult {
  if (routes.length !== outcomes.length)
    throw new Error(`arm '${name}': ${routes.length} routes for ${outcomes.length} questions`);
  const n = outcomes.length;
  const grades: Grade[] = [];
  let cost = 0;
  let strong = 0;
  outcomes.forEach((o, i) => {
    const a = pick(o, routes[i]!);
    grades.push(a.grade);
    cost += a.costUsd;
    if (routes[i] === "strong") strong++;
  });
  const t = totals(outcomes);
  const metrics = simpleqaMetrics(grades);
  return {
    name,
    kind,
    metrics,
    strongShare: strong / n,
    costUsd: cost,
    costPerQuestionUsd: cost / n,
    savingsVsStrong: t.strong > 0 ? 1 - cost / t.strong : null,
    pgr: pgr(metrics.correct, t.qWeak, t.qStrong),
    perPolicy: perPolicy(outcomes, routes),
  };
}

/** Routes that send a seeded random `k` of the questions to strong. */
export function randomRoutes(n: number, k: number, seed: number): Route[] {
  const chosen = new Set(
    shuffled(
      Array.from({ length: n }, (_, i) => i),
      createRng(seed),
    ).slice(0, k),
  );
  return Array.from({ length: n }, (_, i) => (chosen.has(i) ? "strong" : "weak"));
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function meanMetrics(ms: readonly SimpleqaMetrics[]): SimpleqaMetrics {
  const f = (k: keyof SimpleqaMetrics) => mean(ms.map((m) => m[k]));
  return {
    n: ms[0]!.n,
    correct: f("correct"),
    incorrect: f("incorrect"),
    notAttempted: f("notAttempted"),
    attempted: f("attempted"),
    cga: f("cga"),
    f: f("f"),
  };
}

/**
 * The random router at the given strong share (exactly round(share * n) strong calls per draw), its metrics and
 * cost averaged over the seeds. Per-policy metrics are averaged over the draws where the label occurs.
 */
export function randomArm(
  name: string,
  outcomes: readonly QuestionOutcome[],
  strongShare: number,
  seeds: readonly number[],
): ArmResult {
  if (seeds.length === 0) throw new Error("random arm: no seeds");
  const n = outcomes.length;
  const k = Math.round(strongShare * n);
  const draws = seeds.map((s) => scoreArm(name, "random", outcomes, randomRoutes(n, k, s)));
  const labels = [...new Set(draws.flatMap((d) => Object.keys(d.perPolicy)))].sort();
  const t = totals(outcomes);
  const metrics = meanMetrics(draws.map((d) => d.metrics));
  const cost = mean(draws.map((d) => d.costUsd));
  return {
    name,
    kind: "random",
    metrics,
    strongShare: k / n,
    costUsd: cost,
    costPerQuestionUsd: cost / n,
    savingsVsStrong: t.strong > 0 ? 1 - cost / t.strong : null,
    pgr: pgr(metrics.correct, t.qWeak, t.qStrong),
    perPolicy: Object.fromEntries(
      labels.map((l) => [l, meanMetrics(draws.flatMap((d) => d.perPolicy[l] ?? []))]),
    ),
    seeds: [...seeds],
  };
}

export interface RouterCurve {
  readonly points: readonly CurvePoint[];
  /** APGR of `correct` over the weak/strong gap (§6); null when the gap is 0 (then it is not meaningful). */
  readonly apgr: number | null;
  readonly qWeak: number;
  readonly qStrong: number;
}

/** The router's full threshold sweep on the test questions (quality = graded correct, cost = answer USD). */
export function routerCurve(outcomes: readonly QuestionOutcome[]): RouterCurve {
  const y = (g: Grade) => (g === "A" ? 1 : 0);
  const sweep = new BinarySweep(
    outcomes.map((o) => o.score),
    outcomes.map((o) => y(o.weak.grade)),
    outcomes.map((o) => y(o.strong.grade)),
    outcomes.map((o) => o.weak.costUsd),
    outcomes.map((o) => o.strong.costUsd),
  );
  const points = sweep.curve({ mode: "fine" });
  return {
    points,
    apgr: apgr(points, sweep.qWeak, sweep.qStrong),
    qWeak: sweep.qWeak,
    qStrong: sweep.qStrong,
  };
}
