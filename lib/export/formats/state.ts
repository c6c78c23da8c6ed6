import type { RouterState } from "../../routers/types";
import { RouterlabError } from "../../util/errors";
import { activationOf } from "../artifacts";
import type { LinearLayer, MfWeights, MlpWeights } from "../gateway-scoring";

function tensor(state: RouterState, name: string, where: string): Float32Array {
  const t = state.tensors[name];
  if (!t) throw new RouterlabError(`router state has no tensor '${name}'`, { file: where, field: name });
  return t.data;
}

function labelsOf(meta: Record<string, unknown>, n: number, where: string): string[] {
  const m = meta.idx_to_model as Record<string, string> | undefined;
  if (!m)
    throw new RouterlabError("router state has no idx_to_model", { file: where, field: "idx_to_model" });
  return Array.from({ length: n }, (_, i) => {
    const l = m[String(i)];
    if (typeof l !== "string")
      throw new RouterlabError(`idx_to_model has no label for index ${i}`, {
        file: where,
        field: "idx_to_model",
      });
    return l;
  });
}

/** The gateway MLP's weights from an MLP router's state (layers.<i>.weight / .bias, companion fields in meta). */
export function mlpWeightsOf(state: RouterState, where = "model file"): MlpWeights {
  const meta = state.meta;
  const hidden = (meta.hidden_layer_sizes as number[] | undefined) ?? [];
  const inputDim = Number(meta.input_dim);
  const labels = labelsOf(meta, Number(meta.num_classes), where);
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
    activation: activationOf(String(meta.activation)),
    layers,
    labels,
  };
}

/** The gateway MF's weights from an MF router's state (P, text_proj, classifier). */
export function mfWeightsOf(state: RouterState, where = "model file"): MfWeights {
  const meta = state.meta;
  return {
    textDim: Number(meta.text_dim),
    latentDim: Number(meta.latent_dim),
    P: tensor(state, "P.weight", where),
    textProj: tensor(state, "text_proj.weight", where),
    classifier: tensor(state, "classifier.weight", where),
    labels: labelsOf(meta, Number(meta.num_models), where),
  };
}
