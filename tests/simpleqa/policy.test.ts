import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simpleqaFromCounts } from "../../lib/eval/simpleqa";
import { randomArm, randomRoutes, routerCurve, scoreArm } from "../../lib/simpleqa/arms";
import type { QuestionOutcome } from "../../lib/simpleqa/arms";
import { EvalSimpleQaConfigSchema } from "../../lib/simpleqa/config";
import {
  applyLayer,
  budgetRoutes,
  keywordRoutes,
  PolicyLayerSchema,
  scoreBandPolicy,
  staticRoutes,
  thresholdRoutes,
} from "../../lib/simpleqa/policy";
import type { RoutedQuestion } from "../../lib/simpleqa/policy";
import { resolveThreshold, scoreQuestions } from "../../lib/simpleqa/route";
import type { LoadedRouter } from "../../lib/simpleqa/route";
import { createRouter } from "../../lib/routers/registry";
import type { Router } from "../../lib/routers/types";
import { parseYamlConfig } from "../../lib/util/config";
import { RouterlabError } from "../../lib/util/errors";

const q = (text: string, score: number, policy: string, strongCostUsd = 1): RoutedQuestion => ({
  text,
  score,
  policy,
  strongCostUsd,
});

describe("policy-mapping layers", () => {
  const qs = [
    q("Who wrote Hamlet?", 0.1, "Standard_Query", 2),
    q("In what year did the bridge open?", 0.9, "Complex_Query", 3),
    q("Which river flows through Vienna?", 0.55, "Ambiguous_Query", 4),
    q("What is the capital of France?", 0.5, "Complex_Query", 5),
  ];

  it("threshold: strong iff score >= t", () => {
    assert.deepEqual(thresholdRoutes(qs, 0.5), ["weak", "strong", "strong", "strong"]);
    assert.deepEqual(thresholdRoutes(qs, 0.51), ["weak", "strong", "strong", "weak"]);
    assert.deepEqual(thresholdRoutes(qs, Infinity), ["weak", "weak", "weak", "weak"]);
  });

  it("score bands label near-threshold scores Ambiguous_Query", () => {
    assert.equal(scoreBandPolicy(0.1, 0.5, 0.1), "Standard_Query");
    assert.equal(scoreBandPolicy(0.45, 0.5, 0.1), "Ambiguous_Query");
    assert.equal(scoreBandPolicy(0.65, 0.5, 0.1), "Complex_Query");
    assert.equal(scoreBandPolicy(0.5, 0.5, 0), "Complex_Query");
  });

  it("static: policy -> model table, and an unknown policy names the layer", () => {
    const table = { Standard_Query: "weak", Complex_Query: "strong", Ambiguous_Query: "strong" } as const;
    assert.deepEqual(staticRoutes(qs, table), ["weak", "strong", "strong", "strong"]);
    assert.throws(
      () => staticRoutes(qs, { Standard_Query: "weak", Complex_Query: "strong" }, "policy layer 'x'"),
      (e: unknown) =>
        e instanceof RouterlabError &&
        /Ambiguous_Query/.test(e.message) &&
        /policy layer 'x'/.test(e.message),
    );
  });

  it("budget: keeps strong calls in arrival order while they fit, later cheaper ones may still fit", () => {
    const base = ["strong", "strong", "strong", "strong"] as const;
    // costs 2, 3, 4, 5: budget 6 keeps #0 (2) and #1 (5 total); #2 (9) and #3 (10) do not fit.
    assert.deepEqual(budgetRoutes(qs, base, 6), {
      routes: ["strong", "strong", "weak", "weak"],
      spentUsd: 5,
      downgraded: 2,
    });
    // budget 7: #0, #1 (5), #2 would be 9 > 7, #3 would be 10 > 7.
    assert.equal(budgetRoutes(qs, base, 7).spentUsd, 5);
    // weak decisions cost nothing and are never changed; a cheaper later call still fits.
    const r = budgetRoutes(qs, ["weak", "strong", "strong", "weak"], 4);
    assert.deepEqual(r.routes, ["weak", "strong", "weak", "weak"]);
    const cheapLater = budgetRoutes([q("a", 1, "x", 5), q("b", 1, "x", 1)], ["strong", "strong"], 2);
    assert.deepEqual(cheapLater.routes, ["weak", "strong"]);
    assert.deepEqual(budgetRoutes(qs, base, 0).routes, ["weak", "weak", "weak", "weak"]);
  });

  it("keyword: the first matching rule forces the route, the rest follow the base routes", () => {
    const rules = [
      { pattern: "\\byear\\b", flags: "i", route: "strong" as const },
      { pattern: "capital", flags: "i", route: "weak" as const },
      { pattern: "YEAR", flags: "", route: "weak" as const },
    ];
    assert.deepEqual(keywordRoutes(qs, rules, ["weak", "weak", "strong", "strong"]), [
      "weak",
      "strong",
      "strong",
      "weak",
    ]);
    assert.throws(
      () => keywordRoutes(qs, [{ pattern: "(", flags: "", route: "weak" }], ["weak", "weak", "weak", "weak"]),
      (e: unknown) => e instanceof RouterlabError && /rules\[0\]\.pattern/.test(e.message),
    );
  });

  it("hybrid: keyword, then router (threshold or table), then budget", () => {
    const layer = PolicyLayerSchema.parse({
      kind: "hybrid",
      rules: [{ pattern: "Hamlet", route: "strong" }],
      budgetUsd: 6,
    });
    // keyword forces #0 strong (2); router sends #1 (3) #2 (4) #3 (5) strong at t=0.5; budget 6 keeps #0, #1.
    assert.deepEqual(applyLayer(qs, layer, 0.5), ["strong", "strong", "weak", "weak"]);
    const withTable = PolicyLayerSchema.parse({
      kind: "hybrid",
      table: { Standard_Query: "weak", Complex_Query: "strong", Ambiguous_Query: "weak" },
    });
    assert.deepEqual(applyLayer(qs, withTable, 0.5), ["weak", "strong", "weak", "strong"]);
    assert.equal(withTable.name, "hybrid");
  });

  it("budget and keyword layers start from the router's threshold decision", () => {
    const budget = PolicyLayerSchema.parse({ kind: "budget", budgetUsd: 3.5 });
    assert.deepEqual(applyLayer(qs, budget, 0.5), ["weak", "strong", "weak", "weak"]);
    const kw = PolicyLayerSchema.parse({ kind: "keyword", rules: [{ pattern: "france", route: "weak" }] });
    assert.deepEqual(applyLayer(qs, kw, 0.5), ["weak", "strong", "strong", "weak"]);
  });

  it("config errors name the file, line and field", () => {
    const text = "router:\n  file: x\npolicies:\n  - kind: budget\n    budgetUsd: -1\n";
    assert.throws(
      () => parseYamlConfig(text, "eval.yaml", EvalSimpleQaConfigSchema),
      (e: unknown) =>
        e instanceof RouterlabError && /eval\.yaml:5 field 'policies\.0\.budgetUsd'/.test(e.message),
    );
    const ok = parseYamlConfig("router: {file: x}\n", "eval.yaml", EvalSimpleQaConfigSchema);
    assert.equal(ok.data.split.seed, 42);
    assert.equal(ok.answer.template, "{question}");
  });

  it("threshold from a strong share is the (1 - share) quantile of the scores", () => {
    const scores = Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
    const t = resolveThreshold({ kind: "share", value: 0.3 }, scores);
    assert.equal(scores.filter((s) => s >= t).length, 3);
    assert.equal(resolveThreshold({ kind: "share", value: 1 }, scores), 0);
    assert.equal(scores.filter((s) => s >= resolveThreshold({ kind: "share", value: 0 }, scores)).length, 0);
    assert.equal(resolveThreshold({ kind: "value", value: 0.25 }, scores), 0.25);
  });
});

describe("arms: SimpleQA metrics, cost, savings, strong share, per policy", () => {
  // Four questions: weak A,B,C,A (cost 1 each), strong A,A,B,A (cost 10 each).
  const outcomes: QuestionOutcome[] = [
    {
      weak: { grade: "A", costUsd: 1 },
      strong: { grade: "A", costUsd: 10 },
      score: 0.1,
      policy: "Standard_Query",
    },
    {
      weak: { grade: "B", costUsd: 1 },
      strong: { grade: "A", costUsd: 10 },
      score: 0.9,
      policy: "Complex_Query",
    },
    {
      weak: { grade: "C", costUsd: 1 },
      strong: { grade: "B", costUsd: 10 },
      score: 0.6,
      policy: "Complex_Query",
    },
    {
      weak: { grade: "A", costUsd: 1 },
      strong: { grade: "A", costUsd: 10 },
      score: 0.2,
      policy: "Standard_Query",
    },
  ];

  it("scores an arm by picking each question's routed answer", () => {
    const arm = scoreArm("router", "router", outcomes, ["weak", "strong", "strong", "weak"]);
    // grades A, A, B, A
    assert.deepEqual(arm.metrics, simpleqaFromCounts(3, 1, 0));
    assert.equal(arm.strongShare, 0.5);
    assert.equal(arm.costUsd, 22);
    assert.equal(arm.costPerQuestionUsd, 5.5);
    assert.equal(arm.savingsVsStrong, 1 - 22 / 40);
    // Q_weak = 0.5, Q_strong = 0.75, Q = 0.75 -> PGR 1
    assert.equal(arm.pgr, 1);
    assert.deepEqual(arm.perPolicy.Standard_Query, simpleqaFromCounts(2, 0, 0));
    assert.deepEqual(arm.perPolicy.Complex_Query, simpleqaFromCounts(1, 1, 0));
    const weak = scoreArm("w", "baseline", outcomes, ["weak", "weak", "weak", "weak"]);
    assert.deepEqual(weak.metrics, simpleqaFromCounts(2, 1, 1));
    assert.equal(weak.savingsVsStrong, 0.9);
    assert.equal(weak.pgr, 0);
  });

  it("random at equal strong share: exactly round(x n) strong calls per seed, averaged, deterministic", () => {
    for (const s of [0, 1, 2]) assert.equal(randomRoutes(10, 3, s).filter((r) => r === "strong").length, 3);
    assert.deepEqual(randomRoutes(10, 3, 7), randomRoutes(10, 3, 7));
    const r = randomArm("random", outcomes, 0.5, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(r.strongShare, 0.5);
    // Each draw costs 2 * 10 + 2 * 1.
    assert.equal(r.costUsd, 22);
    const draws = [0, 1, 2, 3, 4, 5, 6, 7].map((s) =>
      scoreArm("d", "random", outcomes, randomRoutes(4, 2, s)),
    );
    const meanCorrect = draws.reduce((a, d) => a + d.metrics.correct, 0) / draws.length;
    assert.ok(Math.abs(r.metrics.correct - meanCorrect) < 1e-12);
    assert.deepEqual(r.seeds, [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("the router curve spans 0..100% strong and gives APGR over the gap", () => {
    const c = routerCurve(outcomes);
    assert.equal(c.qWeak, 0.5);
    assert.equal(c.qStrong, 0.75);
    assert.equal(c.points[0]!.x, 0);
    assert.equal(c.points.at(-1)!.x, 1);
    // scores desc: 0.9 (w B, s A: +1), 0.6 (w C, s B: 0), 0.2 (0), 0.1 (0): Q = .5, .75, .75, .75, .75 at x = 0..1.
    // AUC = 0.25 * (0.625 + 0.75 * 3) = 0.71875; APGR = (0.71875 - 0.5) / 0.25 = 0.875.
    assert.ok(Math.abs(c.apgr! - 0.875) < 1e-12);
    const flat = routerCurve(outcomes.map((o) => ({ ...o, strong: o.weak })));
    assert.equal(flat.apgr, null);
  });
});

describe("router scores of test questions", () => {
  // Eight 2-d points: the first four near (1, 0), the last four near (0, 1).
  const X = {
    rows: 8,
    dim: 2,
    data: Float32Array.from([1, 0, 0.9, 0.1, 0.95, 0.05, 0.8, 0.2, 0, 1, 0.1, 0.9, 0.05, 0.95, 0.2, 0.8]),
  };
  const loaded = (router: Router, mode: "binary" | "policy", labels: string[]): LoadedRouter => ({
    router,
    file: "test.router.json",
    kind: "knn",
    mode,
    labels,
    precision: "fp32",
  });

  it("binary router: score = P(strong), policy = score band around the threshold", async () => {
    const r = createRouter("knn", { k: 4 });
    await r.fit(
      { X },
      {
        kind: "binary",
        models: ["weak", "strong"],
        labels: Int32Array.from([0, 0, 0, 1, 1, 1, 1, 0]),
      },
    );
    const v = await scoreQuestions(loaded(r, "binary", ["weak", "strong"]), X, {
      strongPolicies: ["Complex_Query"],
      ambiguousMargin: 0.1,
      threshold: () => 0.5,
    });
    assert.deepEqual(Array.from(v.scores), Array.from((await r.score({ X })).strongProbability!));
    assert.equal(v.threshold, 0.5);
    v.scores.forEach((s, i) => assert.equal(v.policies[i], scoreBandPolicy(s, 0.5, 0.1)));
    assert.ok(v.policies.includes("Standard_Query") && v.policies.includes("Complex_Query"));
  });

  it("policy classifier: score = summed probability of the strong policies, policy = argmax", async () => {
    const labels = ["Standard_Query", "Complex_Query", "Ambiguous_Query"];
    const r = createRouter("knn", { k: 3 });
    await r.fit({ X }, { kind: "multi", models: labels, labels: Int32Array.from([0, 0, 0, 2, 1, 1, 1, 2]) });
    const s = await r.score({ X });
    const v = await scoreQuestions(loaded(r, "policy", labels), X, {
      strongPolicies: ["Complex_Query", "Ambiguous_Query"],
      ambiguousMargin: 0.1,
      threshold: (scores) => resolveThreshold({ kind: "share", value: 0.5 }, scores),
    });
    for (let i = 0; i < 8; i++) {
      assert.ok(Math.abs(v.scores[i]! - (s.perModel[i * 3 + 1]! + s.perModel[i * 3 + 2]!)) < 1e-12);
      const row = [0, 1, 2].map((j) => s.perModel[i * 3 + j]!);
      assert.equal(v.policies[i], labels[row.indexOf(Math.max(...row))]);
    }
    assert.equal(v.policies[0], "Standard_Query");
    assert.equal(v.policies[5], "Complex_Query");
    await assert.rejects(
      () =>
        scoreQuestions(loaded(r, "policy", labels), X, {
          strongPolicies: ["Hard"],
          ambiguousMargin: 0,
          threshold: () => 0.5,
        }),
      (e: unknown) => e instanceof RouterlabError && /router\.strongPolicies/.test(e.message),
    );
  });
});
