/**
 * Logistic regression on the query embedding alone (binary setting): P(strong) = σ(w·e + b), fitted by L-BFGS on the
 * mean log-loss plus `l2/2 · ‖w‖²` (intercept not penalised), from zero, so the fit is deterministic.
 *
 * The gateway serves it as an MLP with no hidden layer (`hidden_layer_sizes: []`, contract §6.2/§6.5): two outputs,
 * strong at index 0 with logit `w·e + b`, weak at index 1 with logit 0, so the gateway's argmax (ties to index 0) is
 * `P(strong) >= 0.5`. The state is kept in that very layout (`layers.0.weight` / `layers.0.bias`, companion fields
 * in meta), so the torch-mlp export format serves it as it serves an MLP; scores use the float32 weights it writes.
 */
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { minimizeLbfgs } from "../util/lbfgs";
import { checkQueries, checkTraining } from "./checks";
import type { FittedMeta } from "./common";
import { fittedMeta, parseFittedMeta, parseStateMeta, requireTensor, strongScores, tensor } from "./common";
import type { RegisteredRouter } from "./define";
import { Estimator, defineRouter, parseHyperparameters } from "./define";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";
import { sigmoid } from "../util/logistic";

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

export class LogregRouter extends Estimator<LogregHyperparameters, Fitted> implements Router {
  constructor(hp: z.input<typeof LogregHyperparametersSchema> = {}) {
    super("logreg", LogregHyperparametersSchema, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    checkTraining(queries, task, { binaryOnly: this.kind });
    const X = queries.X;
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
    await Promise.resolve();
  }

  /** The logit w·e + b per query, in float64 over the float32 weights (the gateway's sum). */
  logits(queries: Queries): Float64Array {
    const f = this.need();
    checkQueries(queries, f.meta.dim);
    const X = queries.X;
    const out = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      let z = f.intercept;
      for (let j = 0; j < X.dim; j++) z += f.coef[j]! * X.data[r * X.dim + j]!;
      out[r] = z;
    }
    return out;
  }

  predict(queries: Queries): string[] {
    const [weak, strong] = this.need().meta.models;
    return Array.from(this.logits(queries), (z) => (z >= 0 ? strong! : weak!));
  }

  score(queries: Queries): RouterScores {
    const f = this.need();
    return strongScores(f.meta.models, this.logits(queries).map(sigmoid));
  }

  /** The gateway MLP layout (see the file comment): strong row = [w, b], weak row = [0, 0]; labels [strong, weak]. */
  state(): RouterState {
    const f = this.need();
    const [weak, strong] = f.meta.models as [string, string];
    const d = f.coef.length;
    const weight = new Float32Array(2 * d);
    weight.set(f.coef, 0);
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: {
        ...f.meta,
        input_dim: d,
        hidden_layer_sizes: [],
        num_classes: 2,
        activation: "identity",
        idx_to_model: { "0": strong, "1": weak },
        iterations: f.iterations,
        converged: f.converged,
      },
      tensors: {
        "layers.0.weight": tensor(weight, [2, d]),
        "layers.0.bias": tensor(new Float32Array([f.intercept, 0]), [2]),
      },
    };
  }

  static fromState(state: RouterState): LogregRouter {
    const r = new LogregRouter(
      parseHyperparameters("logreg", LogregHyperparametersSchema, state.hyperparameters),
    );
    const meta = parseFittedMeta(state);
    const extra = parseStateMeta(state, LogregMetaSchema);
    if (meta.setting !== "binary" || meta.models.length !== 2)
      throw new RouterlabError("a logreg router state must be binary with [weak, strong] models", {
        file: "model file",
        path: "$.meta.setting",
      });
    if (extra.idx_to_model["0"] !== meta.models[1] || extra.idx_to_model["1"] !== meta.models[0])
      throw new RouterlabError("a logreg router state maps index 0 to strong and 1 to weak", {
        file: "model file",
        path: "$.meta.idx_to_model",
      });
    const d = meta.dim;
    const weight = requireTensor(state, "layers.0.weight").data;
    const bias = requireTensor(state, "layers.0.bias").data;
    if (weight.length !== 2 * d || bias.length !== 2 || extra.input_dim !== d)
      throw new RouterlabError(`logreg state: layers.0.weight must be [2, ${d}] and layers.0.bias [2]`, {
        file: "model file",
        field: "layers.0.weight",
      });
    if (bias[1] !== 0 || weight.subarray(d).some((v) => v !== 0))
      throw new RouterlabError("logreg state: the weak row of layers.0 must be zero (logit 0)", {
        file: "model file",
        field: "layers.0.weight",
      });
    r.fitted = {
      meta,
      coef: weight.slice(0, d),
      intercept: bias[0]!,
      iterations: extra.iterations,
      converged: extra.converged,
    };
    return r;
  }
}

const LogregMetaSchema = z.object({
  input_dim: z.int().positive(),
  hidden_layer_sizes: z.array(z.int()).length(0),
  num_classes: z.literal(2),
  activation: z.literal("identity"),
  idx_to_model: z.record(z.string(), z.string()),
  iterations: z.int().nonnegative(),
  converged: z.boolean(),
});

export const logregEntry: RegisteredRouter = defineRouter({
  kind: "logreg",
  description:
    "Logistic regression on the embedding alone (binary, L-BFGS, L2); served by the gateway as an MLP with no hidden layer",
  hyperparameters: LogregHyperparametersSchema,
  create: (hp) => new LogregRouter(hp),
  settings: ["binary"],
  gatewayFormat: "torch-mlp",
  fromState: (state) => LogregRouter.fromState(state),
});
