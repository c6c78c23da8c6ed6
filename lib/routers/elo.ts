/**
 * ELO router: Bradley-Terry maximum-likelihood ratings (lib/calibrate/bradley-terry.ts, the LMSYS arena method) fitted
 * from battles between the task's models on the training queries (every pair of models with observed quality on a
 * query is one battle; higher quality wins, equal ties). It ignores the query: every request goes to the top-rated
 * model, ties to the first model in the task's order, exactly as the gateway reads the exported JSON (contract §6.4:
 * the highest value, ties to the first key in file order). A baseline, not a query router.
 */
import { z } from "zod";
import type { Battles } from "../calibrate/bradley-terry";
import { battlesFromOutcomes, BradleyTerryError, fitElo } from "../calibrate/bradley-terry";
import { RouterlabError } from "../util/errors";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, parseStateMeta } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter, parseHyperparameters } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const EloHyperparametersSchema = z.strictObject({
  /** Bootstrap resamples of the battles for the rating intervals (0 = none). */
  resamples: z.int().nonnegative().default(200),
  level: z.number().gt(0).lt(1).default(0.95),
  seed: z.int().default(0),
});
export type EloHyperparameters = z.infer<typeof EloHyperparametersSchema>;

const EloMetaSchema = z.object({
  /** Label -> rating, in the task's model order (the gateway's tie order). */
  ratings: z.record(z.string(), z.number()),
  battles: z.int().nonnegative(),
  intervals: z
    .object({
      level: z.number(),
      lo: z.record(z.string(), z.number()),
      hi: z.record(z.string(), z.number()),
      resamples: z.int(),
      skipped: z.int(),
      seed: z.int(),
    })
    .optional(),
});

/** Expected win rate of model i against each other model, averaged (ELO scale 400, base 10). */
export function expectedWinRates(ratings: ArrayLike<number>): Float64Array {
  const M = ratings.length;
  const out = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let s = 0;
    for (let j = 0; j < M; j++) if (j !== i) s += 1 / (1 + 10 ** ((ratings[j]! - ratings[i]!) / 400));
    out[i] = s / (M - 1);
  }
  return out;
}

/** The battles of a task's observed quality (the ELO-style routers need it; `router` names one in the error). */
export function taskBattles(task: RoutingTask, router: string): Battles {
  if (!task.quality)
    throw new RouterlabError(`the ${router} router needs per-model outcomes (quality) to turn into battles`, {
      file: "training data",
      field: "quality",
    });
  return battlesFromOutcomes(task.models, task.quality);
}

/** Runs a Bradley-Terry fit; its BradleyTerryError becomes a RouterlabError `<prefix>: <message>` at `where`. */
export function bradleyTerryFit<T>(prefix: string, where: { file: string; field: string }, fit: () => T): T {
  try {
    return fit();
  } catch (e) {
    if (e instanceof BradleyTerryError) throw new RouterlabError(`${prefix}: ${e.message}`, where);
    throw e;
  }
}

interface Fitted {
  meta: FittedMeta;
  elo: z.infer<typeof EloMetaSchema>;
}

export class EloRouter extends Estimator<EloHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof EloHyperparametersSchema> = {}) {
    super("elo", EloHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { readsQuality: true });
    const X = queries.X;
    const fit = bradleyTerryFit("ELO", { file: "training data", field: "quality" }, () =>
      fitElo(taskBattles(task, "ELO"), {
        resamples: this.hp.resamples,
        seed: this.hp.seed,
        level: this.hp.level,
      }),
    );
    const byModel = (v: Float64Array): Record<string, number> =>
      Object.fromEntries(task.models.map((m, i) => [m, v[i]!]));
    const iv = fit.intervals;
    this.fitted = {
      meta: fittedMeta(X, task),
      elo: {
        ratings: byModel(fit.ratings),
        battles: fit.battles,
        ...(iv
          ? {
              intervals: {
                level: iv.level,
                lo: byModel(iv.lo),
                hi: byModel(iv.hi),
                resamples: iv.resamples,
                skipped: iv.skipped,
                seed: iv.seed,
              },
            }
          : {}),
      },
    };
    await Promise.resolve();
  }

  /** Ratings in the task's model order. */
  ratings(): [string, number][] {
    const f = this.need();
    return f.meta.models.map((m) => [m, f.elo.ratings[m]!]);
  }

  /** The top-rated model, ties to the first in the task's order. */
  best(): string {
    const r = this.ratings();
    let best = 0;
    for (let i = 1; i < r.length; i++) if (r[i]![1] > r[best]![1]) best = i;
    return r[best]![0];
  }

  predict(queries: Queries): string[] {
    checkQueries(queries, this.need().meta.dim);
    return new Array<string>(queries.X.rows).fill(this.best());
  }

  /** Per model: the expected win rate against the other models (query-independent). */
  score(queries: Queries): RouterScores {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const X = queries.X;
    const win = expectedWinRates(this.ratings().map(([, v]) => v));
    const M = win.length;
    const perModel = new Float64Array(X.rows * M);
    for (let q = 0; q < X.rows; q++) for (let i = 0; i < M; i++) perModel[q * M + i] = win[i]!;
    if (f.meta.setting !== "binary") return { models: f.meta.models, perModel };
    return {
      models: f.meta.models,
      perModel,
      strongProbability: new Float64Array(X.rows).fill(win[1]!),
    };
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, ...f.elo },
      tensors: {},
    };
  }

  static fromState(state: RouterState): EloRouter {
    const r = new EloRouter(parseHyperparameters("elo", EloHyperparametersSchema, state.hyperparameters));
    const meta = parseFittedMeta(state);
    const elo = parseStateMeta(state, EloMetaSchema);
    for (const m of meta.models)
      if (!Number.isFinite(elo.ratings[m]))
        throw new RouterlabError(`no finite rating for '${m}'`, {
          file: "model file",
          path: "$.meta.ratings",
        });
    r.fitted = { meta, elo };
    return r;
  }
}

export const eloEntry: RegisteredRouter = defineRouter({
  kind: "elo",
  description:
    "ELO baseline: Bradley-Terry maximum-likelihood ratings from pairwise battles (LMSYS arena method, bootstrap intervals); routes every query to the top-rated model",
  hyperparameters: EloHyperparametersSchema,
  create: (hp) => new EloRouter(hp),
  seeded: true,
  gatewayFormat: "elo-json",
  fromState: (state) => EloRouter.fromState(state),
});
