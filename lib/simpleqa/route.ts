/**
 * The router's view of the test questions: embeddings (lib/embed, the precision the router was trained on) ->
 * router scores -> P(strong needed) and a policy label per question -> threshold.
 */
import { loadRecord } from "../calibrate/record";
import { quantileSorted } from "../util/quantile";
import type { EmbeddingMatrix } from "../embed/types";
import { embeddingSpecOf, loadRouterState } from "../routers/model-file";
import { routerFromState } from "../routers/registry";
import type { Router } from "../routers/types";
import { RouterlabError } from "../util/errors";
import type { ThresholdSpec } from "./config";
import { resolveFromRoot } from "./config";
import { scoreBandPolicy } from "./policy";

export interface LoadedRouter {
  readonly router: Router;
  readonly file: string;
  readonly kind: string;
  /** "binary": scores are P(strong needed); "policy": a classifier over policy labels. */
  readonly mode: "binary" | "policy";
  readonly labels: readonly string[];
  readonly precision: "fp32" | "int8";
}

export function loadEvalRouter(file: string): LoadedRouter {
  const state = loadRouterState(file);
  const router = routerFromState(state);
  const setting = state.meta.setting;
  const labels = Array.isArray(state.meta.models) ? state.meta.models.map(String) : [];
  const spec = embeddingSpecOf(state, file);
  return {
    router,
    file,
    kind: state.kind,
    mode: setting === "binary" ? "binary" : "policy",
    labels,
    precision: spec?.precision ?? "fp32",
  };
}

export interface RouterView {
  /** P(strong needed) per question. */
  readonly scores: Float64Array;
  /** Policy label per question: the classifier's argmax, or the score band (binary routers). */
  readonly policies: string[];
}

/**
 * Scores embedded questions. A policy classifier's strong score is the summed probability of `strongPolicies`
 * (which must be among its labels); its policy is the argmax (ties to the earlier label).
 */
export async function scoreQuestions(
  r: LoadedRouter,
  X: EmbeddingMatrix,
  opts: {
    strongPolicies: readonly string[];
    threshold: (scores: Float64Array) => number;
    ambiguousMargin: number;
  },
): Promise<RouterView & { threshold: number }> {
  const s = await r.router.score({ X });
  const n = X.rows;
  const m = s.models.length;
  if (r.mode === "binary") {
    if (!s.strongProbability)
      throw new RouterlabError("binary router returned no strong probability", { file: r.file });
    const scores = Float64Array.from(s.strongProbability);
    const threshold = opts.threshold(scores);
    return {
      scores,
      threshold,
      policies: Array.from(scores, (x) => scoreBandPolicy(x, threshold, opts.ambiguousMargin)),
    };
  }
  const cols = opts.strongPolicies.map((p) => {
    const j = s.models.indexOf(p);
    if (j < 0)
      throw new RouterlabError(
        `strong policy '${p}' is not a label of the router; it has: ${s.models.join(", ")}`,
        {
          file: r.file,
          field: "router.strongPolicies",
        },
      );
    return j;
  });
  const scores = new Float64Array(n);
  const policies: string[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < m; j++) if (s.perModel[i * m + j]! > s.perModel[i * m + best]!) best = j;
    policies.push(s.models[best]!);
    let p = 0;
    for (const j of cols) p += s.perModel[i * m + j]!;
    scores[i] = Math.min(1, Math.max(0, p));
  }
  return { scores, policies, threshold: opts.threshold(scores) };
}

/** The threshold from config: a value, a strong-share quantile of the given scores, or a calibration record. */
export function resolveThreshold(spec: ThresholdSpec, scores: Float64Array): number {
  switch (spec.kind) {
    case "value":
      return spec.value;
    case "share": {
      // Scores are in [0, 1]: 0 sends everything to strong, +Infinity nothing.
      if (spec.value >= 1) return 0;
      if (spec.value <= 0) return Infinity;
      return quantileSorted(Float64Array.from(scores).sort(), 1 - spec.value);
    }
    case "record":
      return loadRecord(resolveFromRoot(spec.file)).threshold;
  }
}
