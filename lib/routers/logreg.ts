/**
 * Logistic regression on the query embedding alone (binary setting): P(strong) = σ(w·e + b), fitted by L-BFGS on the
 * mean log-loss plus `l2/2 · ‖w‖²` (intercept not penalised), from zero, so the fit is deterministic.
 *
 * The gateway serves it as an MLP with no hidden layer (`hidden_layer_sizes: []`, contract §6.2/§6.5): two outputs,
 * strong at index 0 with logit `w·e + b`, weak at index 1 with logit 0, so the gateway's argmax (ties to index 0) is
 * `P(strong) >= 0.5`. Scores are computed from the float32 weights the export writes.
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { minimizeLbfgs } from "../util/lbfgs";
import type { FittedMeta } from "./common";
import { checkQueries, fittedMeta, parseFittedMeta, requireFitted, requireTensor, tensor } from "./common";
import type { RegisteredRouter } from "./define";
import { defineRouter } from "./define";
import type { MlpWeights } from "./nn/gateway";
import type { Router, RouterScores, RouterState, RoutingTask } from "./types";
import { validateTask } from "./validate";

export const LogregHyperparametersSchema = z.strictObject({
  /** L2 strength on the weights (the objective is the mean log-loss + l2/2 · ‖w‖²). */
  l2: z.number().nonnegative().default(1e-3),
  maxIterations: z.int().positive().default(500),
  gradientTolerance: z.number().positive().default(1e-7),
});
export type LogregHyperparameters = z.infer<typeof LogregHyperparametersSchema>;

interface Fitted {
  meta: FittedMeta;
  /** float32, as exported. */
  coef: Float32Array;
  intercept: number;
  iterations: number;
  converged: boolean;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export class LogregRouter implements Router {
  readonly kind = "logreg";
  readonly hp: LogregHyperparameters;
  private fitted: Fitted | undefined;

  constructor(hp: Partial<LogregHyperparameters> = {}) {
    this.hp = LogregHyperparametersSchema.parse(hp);
  }

  get hyperparameters(): Record<string, unknown> {
    return { ...this.hp };
  }

  fit(X: EmbeddingMatrix, task: RoutingTask): Promise<void> {
    if (task.kind !== "binary")
      throw new RouterlabError(
        "the logreg router is binary only (strong/weak); use mlp for a multi-model task",
        { file: "training data", field: "routing.setting" },
      );
    validateTask(X, task);
    const n = X.rows;
    const d = X.dim;
    const l2 = this.hp.l2;
    const y = task.labels;
    // x[0..d-1] = w, x[d] = b.
    const objective = (x: Float64Array, g: Float64Array): number => {
      g.fill(0);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        let z = x[d]!;
        const off = i * d;
        for (let j = 0; j < d; j++) z += x[j]! * X.data[off + j]!;
        // log(1 + e^z) - y z, computed stably.
        loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z;
        const r = sigmoid(z) - y[i]!;
        for (let j = 0; j < d; j++) g[j] = g[j]! + r * X.data[off + j]!;
        g[d] = g[d]! + r;
      }
      let pen = 0;
      for (let j = 0; j <= d; j++) g[j] = g[j]! / n;
      for (let j = 0; j < d; j++) {
        pen += x[j]! * x[j]!;
        g[j] = g[j]! + l2 * x[j]!;
      }
      return loss / n + (l2 / 2) * pen;
    };
    const res = minimizeLbfgs(objective, new Float64Array(d + 1), {
      maxIterations: this.hp.maxIterations,
      gradientTolerance: this.hp.gradientTolerance,
    });
    this.fitted = {
      meta: fittedMeta(X, task),
      coef: Float32Array.from(res.x.subarray(0, d)),
      intercept: Math.fround(res.x[d]!),
      iterations: res.iterations,
      converged: res.converged,
    };
    return Promise.resolve();
  }

  private need(): Fitted {
    return requireFitted(this.fitted, this.kind);
  }

  /** The logit w·e + b per query, in float64 over the float32 weights (the gateway's sum). */
  logits(X: EmbeddingMatrix): Float64Array {
    const f = this.need();
    checkQueries(X, f.meta);
    const out = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      let z = f.intercept;
      for (let j = 0; j < X.dim; j++) z += f.coef[j]! * X.data[r * X.dim + j]!;
      out[r] = z;
    }
    return out;
  }

  predict(X: EmbeddingMatrix): string[] {
    const [weak, strong] = this.need().meta.models;
    return Array.from(this.logits(X), (z) => (z >= 0 ? strong! : weak!));
  }

  score(X: EmbeddingMatrix): RouterScores {
    const f = this.need();
    const z = this.logits(X);
    const perModel = new Float64Array(X.rows * 2);
    const strongProbability = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      const p = sigmoid(z[r]!);
      strongProbability[r] = p;
      perModel[r * 2] = 1 - p;
      perModel[r * 2 + 1] = p;
    }
    return { models: f.meta.models, perModel, strongProbability };
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, iterations: f.iterations, converged: f.converged },
      tensors: {
        coef: tensor(f.coef, [f.coef.length]),
        intercept: tensor(new Float32Array([f.intercept]), [1]),
      },
    };
  }

  static fromState(state: RouterState): LogregRouter {
    const r = new LogregRouter(LogregHyperparametersSchema.parse(state.hyperparameters));
    const meta = parseFittedMeta(state);
    if (meta.setting !== "binary" || meta.models.length !== 2)
      throw new RouterlabError("a logreg router state must be binary with [weak, strong] models", {
        file: "model file",
        path: "$.meta.setting",
      });
    const coef = requireTensor(state, "coef");
    const intercept = requireTensor(state, "intercept");
    if (coef.data.length !== meta.dim || intercept.data.length !== 1)
      throw new RouterlabError(`logreg state: coef must be [${meta.dim}] and intercept [1]`, {
        file: "model file",
        field: "coef",
      });
    r.fitted = {
      meta,
      coef: coef.data,
      intercept: intercept.data[0]!,
      iterations: Number(state.meta.iterations ?? 0),
      converged: Boolean(state.meta.converged),
    };
    return r;
  }
}

/**
 * The gateway MLP that computes this logistic regression (no hidden layer): strong at index 0 with logit w·e + b,
 * weak at index 1 with logit 0. Labels are [strong, weak].
 */
export function logregAsMlp(state: RouterState): MlpWeights & {
  inputDim: number;
  hiddenLayerSizes: number[];
  labels: string[];
} {
  LogregRouter.fromState(state); // validates the state
  const meta = parseFittedMeta(state);
  const coef = requireTensor(state, "coef").data;
  const d = coef.length;
  const weight = new Float32Array(2 * d);
  weight.set(coef, 0);
  const bias = new Float32Array([requireTensor(state, "intercept").data[0]!, 0]);
  return {
    inputDim: d,
    hiddenLayerSizes: [],
    activation: "identity",
    layers: [{ inDim: d, outDim: 2, weight, bias }],
    labels: [meta.models[1]!, meta.models[0]!],
  };
}

export const logregEntry: RegisteredRouter = defineRouter({
  kind: "logreg",
  description:
    "Logistic regression on the embedding alone (binary, L-BFGS, L2); served by the gateway as an MLP with no hidden layer",
  hyperparameters: LogregHyperparametersSchema,
  create: (hp) => new LogregRouter(hp),
  fromState: (state) => LogregRouter.fromState(state),
});
