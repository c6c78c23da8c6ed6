import { RouterlabError } from "../util/errors";
import type { Activation, LinearLayer, MfWeights, MlpWeights } from "./gateway-scoring";
import { ACTIVATIONS } from "./gateway-scoring";
import type { StateDict } from "./torch-zip";
import { writeTorchStateDict } from "./torch-zip";

/** The embedding width the gateway computes (§4); companions must say so explicitly (the gateway default is 768). */
export const GATEWAY_DIM = 384;

export type JsonValue = string | number | boolean | JsonValue[] | { [k: string]: JsonValue };

function idxToModel(labels: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  labels.forEach((l, i) => (out[String(i)] = l));
  return out;
}

function modelToIdx(labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  labels.forEach((l, i) => (out[l] = i));
  return out;
}

function checkLabels(labels: readonly string[], what: string): void {
  if (labels.length === 0) throw new RouterlabError(`${what}: no labels`);
  const seen = new Set<string>();
  for (const l of labels) {
    if (typeof l !== "string" || l.length === 0) throw new RouterlabError(`${what}: empty label`);
    if (seen.has(l)) throw new RouterlabError(`${what}: duplicate label '${l}'`);
    seen.add(l);
  }
}

/** Rejects null, undefined, NaN and Infinity anywhere in companion metadata (a present null breaks the gateway). */
export function assertNoNull(value: unknown, where = "$"): void {
  if (value === null || value === undefined)
    throw new RouterlabError(`companion JSON value at ${where} is null`);
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RouterlabError(`companion JSON value at ${where} is not a finite number`);
  }
  if (Array.isArray(value)) value.forEach((v, i) => assertNoNull(v, `${where}[${i}]`));
  else if (typeof value === "object")
    for (const [k, v] of Object.entries(value)) assertNoNull(v, `${where}.${k}`);
}

function finalJson(obj: Record<string, unknown>): Buffer {
  assertNoNull(obj);
  // UTF-8, no BOM, trailing newline.
  return Buffer.from(JSON.stringify(obj, null, 2) + "\n", "utf8");
}

// ---------------- MLP ----------------

export function validateMlp(m: MlpWeights): void {
  checkLabels(m.labels, "MLP export");
  if (m.inputDim !== GATEWAY_DIM) {
    throw new RouterlabError(
      `MLP input_dim is ${m.inputDim}; the gateway embeds queries in ${GATEWAY_DIM} dimensions`,
    );
  }
  if (!ACTIVATIONS.includes(m.activation)) {
    throw new RouterlabError(
      `MLP activation '${String(m.activation)}' is not one of ${ACTIVATIONS.join(", ")}`,
    );
  }
  const widths = [m.inputDim, ...m.hiddenLayerSizes, m.labels.length];
  if (m.layers.length !== widths.length - 1) {
    throw new RouterlabError(
      `MLP has ${m.layers.length} layers but hidden_layer_sizes [${m.hiddenLayerSizes.join(", ")}] needs ${widths.length - 1}`,
    );
  }
  m.layers.forEach((l, i) => {
    const inD = widths[i]!;
    const outD = widths[i + 1]!;
    if (l.inDim !== inD || l.outDim !== outD || l.weight.length !== inD * outD || l.bias.length !== outD) {
      throw new RouterlabError(
        `MLP layer ${i} must be weight [${outD}, ${inD}] and bias [${outD}]; got [${l.outDim}, ${l.inDim}] with ${l.weight.length} + ${l.bias.length} values`,
      );
    }
    for (const arr of [l.weight, l.bias]) {
      if (!arr.every(Number.isFinite)) throw new RouterlabError(`MLP layer ${i} has a non-finite weight`);
    }
  });
}

export function mlpStateDict(m: MlpWeights): StateDict {
  validateMlp(m);
  const out: [string, { shape: number[]; data: Float32Array }][] = [];
  m.layers.forEach((l, i) => {
    out.push([`layers.${i}.weight`, { shape: [l.outDim, l.inDim], data: l.weight }]);
    out.push([`layers.${i}.bias`, { shape: [l.outDim], data: l.bias }]);
  });
  return out;
}

export function mlpCompanion(m: MlpWeights, metadata: Record<string, JsonValue> = {}): Buffer {
  validateMlp(m);
  return finalJson({
    input_dim: m.inputDim,
    hidden_layer_sizes: [...m.hiddenLayerSizes],
    num_classes: m.labels.length,
    activation: m.activation,
    idx_to_model: idxToModel(m.labels),
    model_to_idx: modelToIdx(m.labels),
    routerlab: metadata,
  });
}

/**
 * Bakes a binary threshold into the output layer (§6.5). The router's rule is "strong iff P(strong) >= t".
 * - two outputs, P(strong) = σ(z_strong − z_weak): subtract ln(t/(1−t)) from b[strong] and put strong at index 0;
 * - one output, P(strong) = σ(z): becomes two outputs [z − ln(t/(1−t)), 0] with strong at index 0.
 * Argmax ties go to index 0, which reproduces `score >= t`.
 */
export function bakeBinaryThreshold(
  m: Omit<MlpWeights, "labels">,
  opts: { strong: string; weak: string; threshold: number; strongIndex?: number },
): MlpWeights {
  const t = opts.threshold;
  if (!(t > 0 && t < 1)) throw new RouterlabError(`threshold ${t} must be strictly between 0 and 1`);
  const shift = Math.log(t / (1 - t));
  const last = m.layers[m.layers.length - 1]!;
  const inD = last.inDim;
  let weight: Float32Array;
  let bias: Float32Array;
  if (last.outDim === 1) {
    weight = new Float32Array(2 * inD);
    weight.set(last.weight, 0);
    bias = new Float32Array([last.bias[0]! - shift, 0]);
  } else if (last.outDim === 2) {
    const s = opts.strongIndex ?? 1;
    const w = 1 - s;
    weight = new Float32Array(2 * inD);
    weight.set(last.weight.subarray(s * inD, (s + 1) * inD), 0);
    weight.set(last.weight.subarray(w * inD, (w + 1) * inD), inD);
    bias = new Float32Array([last.bias[s]! - shift, last.bias[w]!]);
  } else {
    throw new RouterlabError(`a binary threshold needs 1 or 2 outputs, the MLP has ${last.outDim}`);
  }
  const baked: LinearLayer = { inDim: inD, outDim: 2, weight, bias };
  return { ...m, layers: [...m.layers.slice(0, -1), baked], labels: [opts.strong, opts.weak] };
}

// ---------------- MF ----------------

export function validateMf(m: MfWeights): void {
  checkLabels(m.labels, "MF export");
  if (m.textDim !== GATEWAY_DIM) {
    throw new RouterlabError(
      `MF text_dim is ${m.textDim}; the gateway embeds queries in ${GATEWAY_DIM} dimensions`,
    );
  }
  const n = m.labels.length;
  if (m.P.length !== n * m.latentDim) throw new RouterlabError(`MF P.weight must be [${n}, ${m.latentDim}]`);
  if (m.textProj.length !== m.latentDim * m.textDim) {
    throw new RouterlabError(`MF text_proj.weight must be [${m.latentDim}, ${m.textDim}]`);
  }
  if (m.classifier.length !== m.latentDim)
    throw new RouterlabError(`MF classifier.weight must be [1, ${m.latentDim}]`);
  for (const arr of [m.P, m.textProj, m.classifier]) {
    if (!arr.every(Number.isFinite)) throw new RouterlabError(`MF has a non-finite weight`);
  }
}

export function mfStateDict(m: MfWeights): StateDict {
  validateMf(m);
  return [
    ["P.weight", { shape: [m.labels.length, m.latentDim], data: m.P }],
    ["text_proj.weight", { shape: [m.latentDim, m.textDim], data: m.textProj }],
    ["classifier.weight", { shape: [1, m.latentDim], data: m.classifier }],
  ];
}

export function mfCompanion(m: MfWeights, metadata: Record<string, JsonValue> = {}): Buffer {
  validateMf(m);
  return finalJson({
    latent_dim: m.latentDim,
    text_dim: m.textDim,
    num_models: m.labels.length,
    idx_to_model: idxToModel(m.labels),
    model_to_idx: modelToIdx(m.labels),
    routerlab: metadata,
  });
}

// ---------------- ELO ----------------

/** ELO ratings in the file order the gateway will see (ties go to the first key). */
export function eloJson(ratings: ReadonlyArray<readonly [string, number]>): Buffer {
  if (ratings.length === 0)
    throw new RouterlabError("ELO export: no ratings (the gateway refuses an empty object)");
  checkLabels(
    ratings.map(([l]) => l),
    "ELO export",
  );
  for (const [l, r] of ratings) {
    if (typeof r !== "number" || !Number.isFinite(r))
      throw new RouterlabError(`ELO rating of '${l}' is not finite`);
  }
  const parts = ratings.map(([l, r]) => `  ${JSON.stringify(l)}: ${JSON.stringify(r)}`);
  return Buffer.from(`{\n${parts.join(",\n")}\n}\n`, "utf8");
}

// ---------------- bundles ----------------

/** A gateway strategy suffix (`llmrouter-<kind>`), declared by an export format (lib/export/formats). */
export type ExportKind = string;

export interface BundleFile {
  /** Bare file name inside the bundle. */
  readonly name: string;
  readonly bytes: Buffer;
  /** The file `LLMROUTER_MODEL_PATH` names. */
  readonly served: boolean;
}

/** A torch bundle: the companion JSON beside the served `.pt` it describes. */
function torchBundle(stem: string, companion: Buffer, state: StateDict): BundleFile[] {
  return [
    { name: `${stem}.json`, bytes: companion, served: false },
    { name: `${stem}.pt`, bytes: writeTorchStateDict(state), served: true },
  ];
}

export function mlpBundle(
  m: MlpWeights,
  stem = "router",
  metadata: Record<string, JsonValue> = {},
): BundleFile[] {
  return torchBundle(stem, mlpCompanion(m, metadata), mlpStateDict(m));
}

export function mfBundle(
  m: MfWeights,
  stem = "router",
  metadata: Record<string, JsonValue> = {},
): BundleFile[] {
  return torchBundle(stem, mfCompanion(m, metadata), mfStateDict(m));
}

export function eloBundle(
  ratings: ReadonlyArray<readonly [string, number]>,
  name = "elo.json",
): BundleFile[] {
  return [{ name, bytes: eloJson(ratings), served: true }];
}

export function activationOf(s: string): Activation {
  const a = s.toLowerCase() === "sigmoid" ? "logistic" : s.toLowerCase();
  if (!(ACTIVATIONS as readonly string[]).includes(a)) {
    throw new RouterlabError(`activation '${s}' has no gateway equivalent (use ${ACTIVATIONS.join(", ")})`);
  }
  return a as Activation;
}
