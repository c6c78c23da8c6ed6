import { z } from "zod";
import { parseStateMeta } from "../../routers/common";
import type { RouterState } from "../../routers/types";
import { RouterlabError } from "../../util/errors";
import { activationOf } from "../artifacts";
import type { LinearLayer, MfWeights, MlpWeights } from "../gateway-scoring";

/** `state.meta` checked by `schema`; otherwise `message`, naming the model file and the meta `field` it needs. */
export function requireMeta<T>(
  state: RouterState,
  schema: z.ZodType<T>,
  where: string,
  field: string,
  message: string,
): T {
  const meta = schema.safeParse(state.meta);
  if (!meta.success) throw new RouterlabError(message, { file: where, field });
  return meta.data;
}

function tensor(state: RouterState, name: string, where: string): Float32Array {
  const t = state.tensors[name];
  if (!t) throw new RouterlabError(`router state has no tensor '${name}'`, { file: where, field: name });
  return t.data;
}

const IdxToModel = z.record(z.string(), z.string());
const MlpMeta = z.object({
  input_dim: z.int().positive(),
  hidden_layer_sizes: z.array(z.int().positive()),
  num_classes: z.int().positive(),
  activation: z.string(),
  idx_to_model: IdxToModel,
});
const MfMeta = z.object({
  text_dim: z.int().positive(),
  latent_dim: z.int().positive(),
  num_models: z.int().positive(),
  idx_to_model: IdxToModel,
});

function labelsOf(idxToModel: Record<string, string>, n: number, where: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const l = idxToModel[String(i)];
    if (l === undefined)
      throw new RouterlabError(`idx_to_model has no label for index ${i}`, {
        file: where,
        field: "idx_to_model",
      });
    return l;
  });
}

/** The gateway MLP's weights from an MLP router's state (layers.<i>.weight / .bias, companion fields in meta). */
export function mlpWeightsOf(state: RouterState, where = "model file"): MlpWeights {
  const meta = parseStateMeta(state, MlpMeta, where);
  const hidden = meta.hidden_layer_sizes;
  const inputDim = meta.input_dim;
  const labels = labelsOf(meta.idx_to_model, meta.num_classes, where);
  const widths = [inputDim, ...hidden, labels.length];
  const layers: LinearLayer[] = widths.slice(0, -1).map((inDim, i) => ({
    inDim,
    outDim: widths[i + 1]!,
    weight: tensor(state, `layers.${i}.weight`, where),
    bias: tensor(state, `layers.${i}.bias`, where),
  }));
  return {
    inputDim,
    hiddenLayerSizes: hidden,
    activation: activationOf(meta.activation),
    layers,
    labels,
  };
}

/** The gateway MF's weights from an MF router's state (P, text_proj, classifier). */
export function mfWeightsOf(state: RouterState, where = "model file"): MfWeights {
  const meta = parseStateMeta(state, MfMeta, where);
  return {
    textDim: meta.text_dim,
    latentDim: meta.latent_dim,
    P: tensor(state, "P.weight", where),
    textProj: tensor(state, "text_proj.weight", where),
    classifier: tensor(state, "classifier.weight", where),
    labels: labelsOf(meta.idx_to_model, meta.num_models, where),
  };
}
