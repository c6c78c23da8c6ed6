/**
 * Similarity-weighted ranking router (RouteLLM's `sw_ranking`): for each query, Bradley-Terry ratings are refitted
 * on the training battles with every battle weighted by how similar the query is to the training query the battle
 * came from. With s_r the cosine similarity between the query and training query r and s_max = max_r s_r, a battle
 * from query r weighs base^(s_r / s_max) (RouteLLM: 10 · 10^(s / s_max); the constant factor does not move the
 * optimum). When s_max <= 0 (nothing is similar; a zero query) all weights are equal: the plain ELO fit.
 *
 * Battles come from per-model outcomes on the training queries (lib/calibrate/bradley-terry.ts battlesFromOutcomes:
 * every observed pair of models on a query, higher quality wins, equal ties). Binary: P(strong needed) is the
 * strong model's expected win rate against the weak one under the query's ratings, and the router picks the strong
 * model when it is >= 0.5. Multi: the top-rated model (ties to the first in the task's order); per-model scores are
 * the expected win rates against the other models. Deterministic: no random choice. Cost per query is a KNN-like
 * pass over the training queries plus one small Newton solve.
 */
import { z } from "zod";
import type { Battles } from "../calibrate/bradley-terry";
import { fitElo, fitEloWeighted } from "../calibrate/bradley-terry";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, requireTensor, tensor } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter, parseHyperparameters } from "./define";
import { expectedWinRates, taskBattles, bradleyTerryFit } from "./elo";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const SwRankingHyperparametersSchema = z.strictObject({
  /** Weight of a battle = base^(similarity / max similarity); larger bases concentrate on the nearest queries. */
  base: z.number().gt(1).default(10),
});
export type SwRankingHyperparameters = z.infer<typeof SwRankingHyperparametersSchema>;

interface Fitted {
  meta: FittedMeta;
  /** Training embeddings, N x dim (as given; similarities are cosines, so norms are taken at query time). */
  X: Float32Array;
  n: number;
  /** Norm of each training row (float64). */
  norms: Float64Array;
  battles: Battles & { query: Int32Array };
}

/** Battle weights for one query: base^(s_r / s_max) per training query r, spread to that query's battles. */
export function similarityWeights(
  q: Float32Array,
  X: Float32Array,
  norms: Float64Array,
  base: number,
): Float64Array {
  const dim = q.length;
  const n = norms.length;
  let qn = 0;
  for (let d = 0; d < dim; d++) qn += q[d]! * q[d]!;
  qn = Math.sqrt(qn);
  const sims = new Float64Array(n);
  let max = -Infinity;
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += X[o + d]! * q[d]!;
    const denom = norms[r]! * qn;
    sims[r] = denom > 0 ? s / denom : 0;
    if (sims[r]! > max) max = sims[r]!;
  }
  const w = new Float64Array(n);
  for (let r = 0; r < n; r++) w[r] = max > 0 ? base ** (sims[r]! / max) : 1;
  return w;
}

export class SwRankingRouter extends Estimator<SwRankingHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof SwRankingHyperparametersSchema> = {}) {
    super("sw-ranking", SwRankingHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { readsQuality: true });
    const X = queries.X;
    const battles = taskBattles(task, "sw-ranking");
    // Every weight is positive, so a weighted MLE exists exactly when the unweighted one does: check once here.
    bradleyTerryFit("sw-ranking", { file: "training data", field: "quality" }, () => fitElo(battles));
    this.fitted = this.build(fittedMeta(X, task), Float32Array.from(X.data), X.rows, battles);
    await Promise.resolve();
  }

  private build(meta: FittedMeta, X: Float32Array, n: number, battles: Battles): Fitted {
    const norms = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let d = 0; d < meta.dim; d++) s += X[r * meta.dim + d]! * X[r * meta.dim + d]!;
      norms[r] = Math.sqrt(s);
    }
    return { meta, X, n, norms, battles: { ...battles, query: battles.query! } };
  }

  /** Per query, the ratings refitted on similarity-weighted battles (N x M, row-major, task model order). */
  ratings(queries: Queries): Float64Array {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const X: EmbeddingMatrix = queries.X;
    const M = f.meta.models.length;
    const out = new Float64Array(X.rows * M);
    const bw = new Float64Array(f.battles.a.length);
    for (let q = 0; q < X.rows; q++) {
      const w = similarityWeights(X.data.subarray(q * X.dim, (q + 1) * X.dim), f.X, f.norms, this.hp.base);
      for (let i = 0; i < bw.length; i++) bw[i] = w[f.battles.query[i]!]!;
      out.set(fitEloWeighted(f.battles, bw), q * M);
    }
    return out;
  }

  score(queries: Queries): RouterScores {
    const f = this.need();
    const R = this.ratings(queries);
    const M = f.meta.models.length;
    const rows = R.length / M;
    const perModel = new Float64Array(R.length);
    for (let q = 0; q < rows; q++) perModel.set(expectedWinRates(R.subarray(q * M, (q + 1) * M)), q * M);
    if (f.meta.setting !== "binary") return { models: f.meta.models, perModel };
    const strongProbability = new Float64Array(rows);
    for (let q = 0; q < rows; q++) strongProbability[q] = perModel[q * 2 + 1]!;
    return { models: f.meta.models, perModel, strongProbability };
  }

  predict(queries: Queries): string[] {
    const f = this.need();
    const s = this.score(queries);
    const M = f.meta.models.length;
    const rows = s.perModel.length / M;
    const out: string[] = [];
    for (let q = 0; q < rows; q++) {
      if (s.strongProbability) {
        out.push(f.meta.models[s.strongProbability[q]! >= 0.5 ? 1 : 0]!);
        continue;
      }
      let best = 0;
      for (let i = 1; i < M; i++) if (s.perModel[q * M + i]! > s.perModel[q * M + best]!) best = i;
      out.push(f.meta.models[best]!);
    }
    return out;
  }

  state(): RouterState {
    const f = this.need();
    const bt = f.battles;
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, rows: f.n, battles: bt.a.length },
      tensors: {
        X: tensor(f.X, [f.n, f.meta.dim]),
        battleA: tensor(bt.a, [bt.a.length]),
        battleB: tensor(bt.b, [bt.a.length]),
        battleOutcome: tensor(bt.outcome, [bt.a.length]),
        battleQuery: tensor(bt.query, [bt.a.length]),
      },
    };
  }

  static fromState(state: RouterState): SwRankingRouter {
    const r = new SwRankingRouter(
      parseHyperparameters("sw-ranking", SwRankingHyperparametersSchema, state.hyperparameters),
    );
    const meta = parseFittedMeta(state);
    const X = requireTensor(state, "X");
    const n = X.shape[0] ?? 0;
    if (X.shape.length !== 2 || X.shape[1] !== meta.dim || X.data.length !== n * meta.dim)
      throw new RouterlabError(`tensor X has shape [${X.shape.join(", ")}], expected [rows, ${meta.dim}]`, {
        file: "model file",
        field: "X",
      });
    const parts = ["battleA", "battleB", "battleOutcome", "battleQuery"].map((k) => requireTensor(state, k));
    const nb = parts[0]!.data.length;
    parts.forEach((t, i) => {
      if (t.data.length !== nb)
        throw new RouterlabError(`battle tensors differ in length`, {
          file: "model file",
          field: ["battleA", "battleB", "battleOutcome", "battleQuery"][i]!,
        });
    });
    const toInt = (t: Float32Array, limit: number, field: string): Int32Array => {
      const out = Int32Array.from(t);
      out.forEach((v, i) => {
        if (!(v >= 0 && v < limit && v === t[i]))
          throw new RouterlabError(`${field}[${i}] = ${t[i]} is not an index below ${limit}`, {
            file: "model file",
            field,
          });
      });
      return out;
    };
    const M = meta.models.length;
    const battles: Battles = {
      models: meta.models,
      a: toInt(parts[0]!.data, M, "battleA"),
      b: toInt(parts[1]!.data, M, "battleB"),
      outcome: Float64Array.from(parts[2]!.data),
      query: toInt(parts[3]!.data, n, "battleQuery"),
    };
    bradleyTerryFit("sw-ranking state", { file: "model file", field: "battleOutcome" }, () =>
      fitElo(battles),
    );
    r.fitted = r.build(meta, X.data, n, battles);
    return r;
  }
}

export const swRankingEntry: RegisteredRouter = defineRouter({
  kind: "sw-ranking",
  description:
    "Similarity-weighted ranking (RouteLLM sw_ranking): Bradley-Terry ratings refitted per query on battles weighted by base^(cosine / max cosine); deterministic",
  hyperparameters: SwRankingHyperparametersSchema,
  create: (hp) => new SwRankingRouter(hp),
  gatewayFormat: null,
  notServableReason:
    "the gateway has no per-query rating path: its ELO strategy reads one fixed rating per model, while sw-ranking refits ratings for every query",
  fromState: (state) => SwRankingRouter.fromState(state),
});
