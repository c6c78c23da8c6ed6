import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { createRng } from "../util/random";
import { checkQueries, checkTraining, requireFitted } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, scoresFromProba } from "./common";
import type { RegisteredRouter } from "./define";
import { defineRouter, parseHyperparameters } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

/**
 * Baselines. They ignore the embeddings (apart from checking them) and always produce the same
 * answers for the same inputs:
 * - random: binary: strong with probability `strongShare` (score = a seeded uniform draw per row,
 *   strong iff draw < strongShare); multi: a seeded uniform choice among the models.
 * - always-weak / always-strong: binary: models[0] / models[1]; multi: the model with the lowest
 *   mean cost / the highest mean quality on the training task.
 * - single-model: always `model`.
 * - oracle: the task's own labels (true outcomes), see `OracleRouter.withOutcomes`.
 */
abstract class ConstantLikeRouter implements Router {
  abstract readonly kind: string;
  abstract readonly hyperparameters: Record<string, unknown>;
  protected meta: (FittedMeta & { choice?: number }) | undefined;

  protected abstract choose(task: RoutingTask): number | undefined;

  /** Baselines learn no boundary, so a single-class training set is fine. */
  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { minClasses: 1 });
    this.meta = { ...fittedMeta(queries.X, task), choice: this.choose(task) };
    await Promise.resolve();
  }

  /** Per-row choice (index into models). */
  protected choices(X: EmbeddingMatrix): Int32Array {
    const meta = requireFitted(this.meta, this.kind);
    checkQueries({ X }, meta.dim);
    return new Int32Array(X.rows).fill(meta.choice ?? 0);
  }

  predict(queries: Queries): string[] {
    const meta = requireFitted(this.meta, this.kind);
    return Array.from(this.choices(queries.X), (c) => meta.models[c]!);
  }

  score(queries: Queries): RouterScores {
    const X = queries.X;
    const meta = requireFitted(this.meta, this.kind);
    const m = meta.models.length;
    const c = this.choices(X);
    const proba = new Float64Array(X.rows * m);
    c.forEach((j, i) => (proba[i * m + j] = 1));
    return scoresFromProba(meta, proba);
  }

  state(): RouterState {
    const meta = requireFitted(this.meta, this.kind);
    return { kind: this.kind, hyperparameters: this.hyperparameters, meta, tensors: {} };
  }

  restore(state: RouterState): this {
    const base = parseFittedMeta(state);
    const choice = state.meta["choice"];
    this.meta = { ...base, choice: typeof choice === "number" ? choice : undefined };
    return this;
  }
}

function meanColumn(arr: Float64Array | undefined, m: number, j: number): number {
  if (!arr) return NaN;
  let s = 0;
  let n = 0;
  for (let i = j; i < arr.length; i += m) {
    if (!Number.isNaN(arr[i]!)) {
      s += arr[i]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

function argBest(task: RoutingTask, which: "cheapest" | "best"): number {
  const m = task.models.length;
  let best = -1;
  let bestV = NaN;
  for (let j = 0; j < m; j++) {
    const v = which === "cheapest" ? meanColumn(task.cost, m, j) : meanColumn(task.quality, m, j);
    if (Number.isNaN(v)) continue;
    if (best < 0 || (which === "cheapest" ? v < bestV : v > bestV)) {
      best = j;
      bestV = v;
    }
  }
  if (best < 0) {
    throw new RouterlabError(
      `always-${which === "cheapest" ? "weak" : "strong"} in the multi-model setting needs the task's ${which === "cheapest" ? "cost" : "quality"} matrix`,
      { file: "training task", field: which === "cheapest" ? "cost" : "quality" },
    );
  }
  return best;
}

const NoHyper = z.strictObject({});

export class AlwaysRouter extends ConstantLikeRouter {
  readonly hyperparameters: Record<string, unknown> = {};
  constructor(readonly kind: "always-weak" | "always-strong") {
    super();
  }
  protected choose(task: RoutingTask): number {
    if (task.kind === "binary") return this.kind === "always-weak" ? 0 : 1;
    return argBest(task, this.kind === "always-weak" ? "cheapest" : "best");
  }
}

export const SingleModelHyper = z.strictObject({ model: z.string().min(1) });
export class SingleModelRouter extends ConstantLikeRouter {
  readonly kind = "single-model";
  readonly hyperparameters: z.infer<typeof SingleModelHyper>;
  constructor(hp: z.input<typeof SingleModelHyper>) {
    super();
    this.hyperparameters = parseHyperparameters(this.kind, SingleModelHyper, hp);
  }
  protected choose(task: RoutingTask): number {
    const j = task.models.indexOf(this.hyperparameters.model);
    if (j < 0) {
      throw new RouterlabError(
        `unknown model '${this.hyperparameters.model}'; the task has: ${task.models.join(", ")}`,
        {
          file: "hyperparameters",
          field: "model",
        },
      );
    }
    return j;
  }
}

export const RandomHyper = z.strictObject({
  seed: z.number().int().nonnegative().default(0),
  strongShare: z.number().min(0).max(1).default(0.5),
});
export class RandomRouter extends ConstantLikeRouter {
  readonly kind = "random";
  readonly hyperparameters: z.infer<typeof RandomHyper>;
  constructor(hp: z.input<typeof RandomHyper> = {}) {
    super();
    this.hyperparameters = parseHyperparameters(this.kind, RandomHyper, hp);
  }
  protected choose(): undefined {
    return undefined;
  }
  /** One seeded uniform draw per row (the same for the same seed and row count). */
  private draws(rows: number): Float64Array {
    const rng = createRng(this.hyperparameters.seed);
    const u = new Float64Array(rows);
    for (let i = 0; i < rows; i++) u[i] = rng.next();
    return u;
  }
  protected override choices(X: EmbeddingMatrix): Int32Array {
    const meta = requireFitted(this.meta, this.kind);
    checkQueries({ X }, meta.dim);
    const u = this.draws(X.rows);
    const m = meta.models.length;
    return Int32Array.from(u, (x) =>
      meta.setting === "binary"
        ? x < this.hyperparameters.strongShare
          ? 1
          : 0
        : Math.min(m - 1, Math.floor(x * m)),
    );
  }
  override score(queries: Queries): RouterScores {
    const X = queries.X;
    const meta = requireFitted(this.meta, this.kind);
    if (meta.setting !== "binary") return super.score(queries);
    checkQueries({ X }, meta.dim);
    // P(strong) such that thresholding at 1 - strongShare... keep it simple: strong iff draw < share,
    // so the score 1 - draw is >= 1 - share exactly for the strong rows.
    const u = this.draws(X.rows);
    const proba = new Float64Array(X.rows * 2);
    const p = new Float64Array(X.rows);
    u.forEach((x, i) => {
      p[i] = 1 - x;
      proba[i * 2] = x;
      proba[i * 2 + 1] = 1 - x;
    });
    return { models: meta.models, perModel: proba, strongProbability: p };
  }
}

/** Routes with the true outcomes: fit on anything, then `withOutcomes(task)` for the rows to route. */
export class OracleRouter extends ConstantLikeRouter {
  readonly kind = "oracle";
  readonly hyperparameters: Record<string, unknown> = {};
  private outcomes: RoutingTask | undefined;
  protected choose(): undefined {
    return undefined;
  }
  /** Binds the true outcomes of the rows that will be routed (same row order as X in predict/score). */
  withOutcomes(task: RoutingTask): this {
    const meta = requireFitted(this.meta, this.kind);
    if (task.models.join("\u0000") !== meta.models.join("\u0000")) {
      throw new RouterlabError(
        `oracle outcomes have models [${task.models.join(", ")}], expected [${meta.models.join(", ")}]`,
        {
          file: "oracle outcomes",
          field: "models",
        },
      );
    }
    this.outcomes = task;
    return this;
  }
  protected override choices(X: EmbeddingMatrix): Int32Array {
    const meta = requireFitted(this.meta, this.kind);
    checkQueries({ X }, meta.dim);
    const t = this.outcomes;
    if (!t)
      throw new RouterlabError(
        "the oracle needs the true outcomes: call withOutcomes(task) before predict/score",
      );
    if (t.labels.length !== X.rows) {
      throw new RouterlabError(
        `dimension mismatch: ${X.rows} query rows but ${t.labels.length} oracle outcomes`,
        {
          file: "oracle outcomes",
        },
      );
    }
    return Int32Array.from(t.labels);
  }
}

const CONSTANT_CHOICE = "a constant choice: point the gateway at the model itself";

export const baselineEntries: RegisteredRouter[] = [
  defineRouter({
    kind: "random",
    description: "seeded random routing; binary: strong with probability strongShare",
    hyperparameters: RandomHyper,
    seeded: true,
    gatewayFormat: null,
    notServableReason: "a baseline for evaluation; the gateway has no random strategy",
    create: (hp) => new RandomRouter(hp),
    fromState: (s) => new RandomRouter(RandomHyper.parse(s.hyperparameters)).restore(s),
  }),
  ...(
    [
      ["always-weak", "always the weak model (multi: lowest mean training cost)"],
      ["always-strong", "always the strong model (multi: highest mean training quality)"],
    ] as const
  ).map(([kind, description]) =>
    defineRouter({
      kind,
      description,
      hyperparameters: NoHyper,
      gatewayFormat: null,
      notServableReason: CONSTANT_CHOICE,
      create: () => new AlwaysRouter(kind),
      fromState: (s) => new AlwaysRouter(kind).restore(s),
    }),
  ),
  defineRouter({
    kind: "single-model",
    description: "always the given model",
    hyperparameters: SingleModelHyper,
    gatewayFormat: null,
    notServableReason: CONSTANT_CHOICE,
    create: (hp) => new SingleModelRouter(hp),
    fromState: (s) => new SingleModelRouter(SingleModelHyper.parse(s.hyperparameters)).restore(s),
  }),
  defineRouter({
    kind: "oracle",
    description: "the true best model per query (needs the outcomes; an upper bound, not deployable)",
    hyperparameters: NoHyper,
    gatewayFormat: null,
    notServableReason: "needs the true outcomes of each query, which no gateway has",
    create: () => new OracleRouter(),
    fromState: (s) => new OracleRouter().restore(s),
  }),
];
