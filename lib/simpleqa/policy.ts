/**
 * Policy-mapping layers for the binary (weak/strong) SimpleQA evaluation. Pure functions: each takes the
 * router's view of every test question (score, policy label, text, strong-call cost) in arrival order and
 * returns one route per question, so every layer is evaluated on the same answers.
 *
 * - router:  strong iff score >= threshold (metrics spec §4).
 * - static:  policy label -> model table (Standard_Query -> weak, Complex_Query -> strong, ...).
 * - budget:  the router's decision, with strong calls capped to a USD budget (in arrival order).
 * - keyword: regex rules force strong or weak; unmatched questions follow the router.
 * - hybrid:  keyword rules, then the router (or the static table), then the budget cap.
 */
import { z } from "zod";
import { RouterlabError } from "../util/errors";

export type Route = "weak" | "strong";

export const STANDARD_QUERY = "Standard_Query";
export const COMPLEX_QUERY = "Complex_Query";
export const AMBIGUOUS_QUERY = "Ambiguous_Query";
export const DEFAULT_POLICIES: readonly string[] = [STANDARD_QUERY, COMPLEX_QUERY, AMBIGUOUS_QUERY];

/** What the layers see of one question. */
export interface RoutedQuestion {
  readonly text: string;
  /** The router's P(strong needed), in [0, 1]. */
  readonly score: number;
  /** The router's policy label (a policy classifier's argmax, or the score band). */
  readonly policy: string;
  /** USD the strong model's answer costs (known after the call in evaluation; an estimate when live). */
  readonly strongCostUsd: number;
}

const RouteSchema = z.enum(["weak", "strong"]);

export const KeywordRuleSchema = z.strictObject({
  /** A JavaScript regular expression, matched against the question text. */
  pattern: z.string().min(1),
  /** Regex flags; default "i" (case-insensitive). */
  flags: z
    .string()
    .regex(/^[imsu]*$/, "flags from i, m, s, u only")
    .default("i"),
  route: RouteSchema,
});
export type KeywordRule = z.infer<typeof KeywordRuleSchema>;

const StaticTableSchema = z.record(z.string().min(1), RouteSchema);

export const PolicyLayerSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("static"),
    name: z.string().min(1).default("static"),
    /** Policy label -> weak | strong. Every label the router emits must be listed. */
    table: StaticTableSchema,
  }),
  z.strictObject({
    kind: z.literal("budget"),
    name: z.string().min(1).default("budget"),
    /** The most USD the strong model's answers may cost over the whole run. */
    budgetUsd: z.number().nonnegative(),
  }),
  z.strictObject({
    kind: z.literal("keyword"),
    name: z.string().min(1).default("keyword"),
    rules: z.array(KeywordRuleSchema).min(1),
  }),
  z.strictObject({
    kind: z.literal("hybrid"),
    name: z.string().min(1).default("hybrid"),
    rules: z.array(KeywordRuleSchema).default([]),
    /** Use this policy table instead of the threshold for the router step (optional). */
    table: StaticTableSchema.optional(),
    budgetUsd: z.number().nonnegative().optional(),
  }),
]);
export type PolicyLayer = z.infer<typeof PolicyLayerSchema>;

/** The routed decision: strong iff score >= threshold. */
export function thresholdRoutes(questions: readonly RoutedQuestion[], threshold: number): Route[] {
  return questions.map((q) => (q.score >= threshold ? "strong" : "weak"));
}

/** Policy label from a binary score: within `margin` of the threshold is Ambiguous_Query. */
export function scoreBandPolicy(score: number, threshold: number, margin: number): string {
  if (margin > 0 && Math.abs(score - threshold) < margin) return AMBIGUOUS_QUERY;
  return score >= threshold ? COMPLEX_QUERY : STANDARD_QUERY;
}

export function staticRoutes(
  questions: readonly RoutedQuestion[],
  table: Readonly<Record<string, Route>>,
  where = "static table",
): Route[] {
  return questions.map((q, i) => {
    const r = table[q.policy];
    if (r === undefined)
      throw new RouterlabError(
        `policy '${q.policy}' (question ${i}) is not in the table; it has: ${Object.keys(table).join(", ")}`,
        { file: where, field: "table" },
      );
    return r;
  });
}

/** The first matching rule's route per question, or null when no rule matches. */
export function keywordMatches(
  questions: readonly RoutedQuestion[],
  rules: readonly KeywordRule[],
): (Route | null)[] {
  const compiled = rules.map((r, i) => {
    try {
      return { re: new RegExp(r.pattern, r.flags), route: r.route };
    } catch (e) {
      throw new RouterlabError(`invalid regular expression: ${(e as Error).message}`, {
        file: "keyword rules",
        path: `rules[${i}].pattern`,
      });
    }
  });
  return questions.map((q) => compiled.find((c) => c.re.test(q.text))?.route ?? null);
}

/** Keyword overrides on top of base routes. */
export function keywordRoutes(
  questions: readonly RoutedQuestion[],
  rules: readonly KeywordRule[],
  base: readonly Route[],
): Route[] {
  return keywordMatches(questions, rules).map((m, i) => m ?? base[i]!);
}

/**
 * Caps strong spend: in arrival order, a strong decision is kept only while the strong answers so far plus this
 * one stay within the budget; otherwise the question goes to weak. A later, cheaper strong call may still fit.
 */
export function budgetRoutes(
  questions: readonly RoutedQuestion[],
  base: readonly Route[],
  budgetUsd: number,
): { routes: Route[]; spentUsd: number; downgraded: number } {
  let spent = 0;
  let downgraded = 0;
  const routes = base.map((r, i): Route => {
    if (r !== "strong") return r;
    const c = questions[i]!.strongCostUsd;
    if (spent + c <= budgetUsd + 1e-15) {
      spent += c;
      return "strong";
    }
    downgraded++;
    return "weak";
  });
  return { routes, spentUsd: spent, downgraded };
}

/** Routes of one configured layer; `threshold` gives the router step. */
export function applyLayer(
  questions: readonly RoutedQuestion[],
  layer: PolicyLayer,
  threshold: number,
): Route[] {
  const routed = thresholdRoutes(questions, threshold);
  switch (layer.kind) {
    case "static":
      return staticRoutes(questions, layer.table, `policy layer '${layer.name}'`);
    case "budget":
      return budgetRoutes(questions, routed, layer.budgetUsd).routes;
    case "keyword":
      return keywordRoutes(questions, layer.rules, routed);
    case "hybrid": {
      const base = layer.table
        ? staticRoutes(questions, layer.table, `policy layer '${layer.name}'`)
        : routed;
      const withRules = keywordRoutes(questions, layer.rules, base);
      return layer.budgetUsd === undefined
        ? withRules
        : budgetRoutes(questions, withRules, layer.budgetUsd).routes;
    }
  }
}
