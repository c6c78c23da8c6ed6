import { readFileSync } from "node:fs";
import path from "node:path";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { rowOf } from "../embed/types";
import { routerFromState } from "../routers/registry";
import { embeddingSpecOf, trainingDataOf } from "../routers/model-file";
import type { RouterState } from "../routers/types";
import { RouterlabError } from "../util/errors";
import type { BundleFile, ExportKind, JsonValue } from "./artifacts";
import { activationOf, eloBundle, mfBundle, mlpBundle } from "./artifacts";
import type { Manifest, SigningKey } from "./manifest";
import { writeBundleDir } from "./bundle";
import { assertSameDecisions } from "./gateway-check";
import type { LinearLayer, MfWeights, MlpWeights } from "./gateway-scoring";
import { eloDecide, mfDecide, mlpDecide } from "./gateway-scoring";
import type { GatewayModels } from "./safety";
import { checkEmbeddingSpec, checkLabels } from "./safety";
import type { SklearnVersions } from "./sklearn-step";
import { runSklearnExport } from "./sklearn-step";

/** Gateway environment per router type (§3, §9), printed on export and promotion. */
export function gatewayEnv(
  kind: ExportKind,
  servedPath: string,
  manifestPath: string,
  signed: boolean,
): string[] {
  const env = [
    `ROUTEIQ_ROUTING_STRATEGY=llmrouter-${kind}`,
    `LLMROUTER_MODEL_PATH=${servedPath}`,
    `LLMROUTER_MODEL_MANIFEST_PATH=${manifestPath}`,
  ];
  if (kind === "knn" || kind === "svm") {
    env.push("LLMROUTER_ALLOW_PICKLE_MODELS=true", "LLMROUTER_ENFORCE_SIGNED_MODELS=true");
    if (signed) env.push("LLMROUTER_STRICT_PICKLE_MODE=true");
  } else {
    env.push("LLMROUTER_ENFORCE_SIGNED_MODELS=true");
  }
  if (kind !== "elo") env.push("# image: prod-ml (torch / scikit-learn / sentence-transformers)");
  return env;
}

export interface ExportOptions {
  outDir: string;
  /** routerlab's evaluation embeddings: the exported files must make routerlab's decisions on every one. */
  evalX: EmbeddingMatrix;
  gatewayModels: GatewayModels;
  gatewayModelsFile?: string;
  group?: string;
  /** Overrides the spec recorded in the model file (`meta.embedding`); export refuses when neither is known. */
  embeddingSpec?: EmbeddingSpec;
  /** Where `embeddingSpec` was read from (errors about it name this file, not the router). */
  embeddingSpecFile?: string;
  routerFile?: string;
  key?: SigningKey;
  stem?: string;
  metadata?: Record<string, JsonValue>;
  /** SVM only: training rows, when the model file keeps none (`routerlab train` stores them for SVMs). */
  train?: { X: EmbeddingMatrix; labels: readonly string[] };
  sklearnVersions?: SklearnVersions;
  log?: (msg: string) => void;
}

export interface ExportResult {
  kind: ExportKind;
  dir: string;
  files: string[];
  served: string;
  manifest: Manifest;
  warnings: string[];
  agreement: { queries: number; equal: number };
}

function tensor(state: RouterState, name: string): Float32Array {
  const t = state.tensors[name];
  if (!t)
    throw new RouterlabError(`router state has no tensor '${name}'`, { file: "model file", field: name });
  return t.data;
}

function labelsOf(meta: Record<string, unknown>, n: number): string[] {
  const m = meta.idx_to_model as Record<string, string> | undefined;
  if (!m)
    throw new RouterlabError("router state has no idx_to_model", {
      file: "model file",
      field: "idx_to_model",
    });
  return Array.from({ length: n }, (_, i) => {
    const l = m[String(i)];
    if (typeof l !== "string")
      throw new RouterlabError(`idx_to_model has no label for index ${i}`, { file: "model file" });
    return l;
  });
}

export function mlpFromState(state: RouterState): MlpWeights {
  const meta = state.meta;
  const hidden = (meta.hidden_layer_sizes as number[] | undefined) ?? [];
  const inputDim = Number(meta.input_dim);
  const labels = labelsOf(meta, Number(meta.num_classes));
  const widths = [inputDim, ...hidden, labels.length];
  const layers: LinearLayer[] = widths.slice(0, -1).map((inDim, i) => ({
    inDim,
    outDim: widths[i + 1]!,
    weight: tensor(state, `layers.${i}.weight`),
    bias: tensor(state, `layers.${i}.bias`),
  }));
  return {
    inputDim,
    hiddenLayerSizes: hidden,
    activation: activationOf(String(meta.activation)),
    layers,
    labels,
  };
}

export function mfFromState(state: RouterState): MfWeights {
  const meta = state.meta;
  return {
    textDim: Number(meta.text_dim),
    latentDim: Number(meta.latent_dim),
    P: tensor(state, "P.weight"),
    textProj: tensor(state, "text_proj.weight"),
    classifier: tensor(state, "classifier.weight"),
    labels: labelsOf(meta, Number(meta.num_models)),
  };
}

function decisionsOf(n: number, f: (i: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

/**
 * Exports a trained router (its RouterState) to gateway files in `outDir`, after the safety checks, and only if the
 * exported files make routerlab's decisions on every evaluation query.
 */
export function exportRouterState(state: RouterState, o: ExportOptions): ExportResult {
  const where = o.routerFile ?? `${state.kind} router`;
  checkEmbeddingSpec(
    o.embeddingSpec ?? embeddingSpecOf(state, where),
    o.embeddingSpec ? (o.embeddingSpecFile ?? "embedding spec") : where,
  );
  const router = routerFromState(state);
  const expected = router.predict(o.evalX);
  const stem = o.stem ?? "router";
  const meta: Record<string, JsonValue> = { router_kind: state.kind, ...(o.metadata ?? {}) };
  let kind: ExportKind;
  let files: BundleFile[];
  let labels: string[];
  let actual: string[];
  if (state.kind === "mlp") {
    kind = "mlp";
    const m = mlpFromState(state);
    labels = [...m.labels];
    files = mlpBundle(m, stem, meta);
    actual = decisionsOf(o.evalX.rows, (i) => mlpDecide(m, rowOf(o.evalX, i)));
  } else if (state.kind === "mf") {
    kind = "mf";
    const m = mfFromState(state);
    labels = [...m.labels];
    files = mfBundle(m, stem, meta);
    actual = decisionsOf(o.evalX.rows, (i) => mfDecide(m, rowOf(o.evalX, i)));
  } else if (state.kind === "elo") {
    kind = "elo";
    const ratings = Object.entries(state.meta.ratings as Record<string, number>);
    labels = ratings.map(([l]) => l);
    files = eloBundle(ratings, `${stem}.json`);
    actual = decisionsOf(o.evalX.rows, () => eloDecide(ratings));
  } else if (state.kind === "knn" || state.kind === "svm") {
    kind = state.kind;
    const models = (state.meta.models as string[] | undefined) ?? [];
    let train: { X: EmbeddingMatrix; labels: readonly string[] };
    let hp: Record<string, unknown>;
    if (state.kind === "knn") {
      const X = state.tensors.X;
      const y = state.tensors.y;
      if (!X || !y) throw new RouterlabError("knn state has no stored points", { file: where });
      train = {
        X: { data: X.data, rows: X.shape[0]!, dim: X.shape[1]! },
        labels: Array.from(y.data, (v) => models[v]!),
      };
      const h = state.hyperparameters as { k?: number; weights?: "uniform" | "distance" };
      hp = { n_neighbors: h.k ?? 10, weights: h.weights ?? "uniform", metric: "cosine", algorithm: "brute" };
    } else {
      const t = o.train ?? trainingDataOf(state);
      if (!t)
        throw new RouterlabError(
          "an SVM export needs the training rows (scikit-learn refits the SVC), and this model file keeps none",
          { file: where, field: "training.X" },
          "retrain with `routerlab train` (it stores them for SVMs), or pass --train <embeddings.f32> --train-labels <labels.json>",
        );
      if (t.X.rows !== t.labels.length)
        throw new RouterlabError(`${t.X.rows} training embeddings but ${t.labels.length} labels`, {
          file: where,
        });
      train = t;
      const h = state.hyperparameters as { C?: number; kernel?: string };
      hp = { C: h.C ?? 1, kernel: h.kernel ?? "rbf", gamma: Number(state.meta.gamma) || "scale" };
    }
    labels = [...new Set(train.labels)];
    checkLabels(labels, o.gatewayModels, { group: o.group, file: o.gatewayModelsFile });
    const out = path.join(o.outDir, `${stem}.pkl`);
    runSklearnExport({
      kind,
      train: train.X,
      labels: train.labels,
      hyperparameters: hp,
      probes: o.evalX,
      expected,
      classOrder: models,
      out,
      versions: o.sklearnVersions,
      log: o.log,
    });
    files = [];
    actual = expected; // checked inside the step, against the reloaded pickle
    files.push({ name: `${stem}.pkl`, bytes: readFileSync(out), served: true });
  } else {
    throw new RouterlabError(`router kind '${state.kind}' has no gateway export (mlp, mf, elo, knn, svm)`, {
      file: where,
    });
  }
  const { warnings } = checkLabels(labels, o.gatewayModels, { group: o.group, file: o.gatewayModelsFile });
  assertSameDecisions(expected, actual, `${kind} export`);
  const manifest = writeBundleDir(o.outDir, files, {
    kind,
    key: o.key,
    description: `routerlab ${kind} router`,
    metadata: { router_kind: state.kind },
  });
  return {
    kind,
    dir: o.outDir,
    files: files.map((f) => f.name),
    served: files.find((f) => f.served)!.name,
    manifest,
    warnings,
    agreement: { queries: expected.length, equal: expected.length },
  };
}
