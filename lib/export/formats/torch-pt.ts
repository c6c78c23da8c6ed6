import { rowOf } from "../../embed/types";
import type { RouterState } from "../../routers/types";
import type { BundleFile, JsonValue } from "../artifacts";
import { mfBundle, mlpBundle } from "../artifacts";
import type { MfWeights, MlpWeights } from "../gateway-scoring";
import { mfDecide, mlpDecide } from "../gateway-scoring";
import { mfWeightsOf, mlpWeightsOf } from "./state";
import type { ExportFormat } from "./types";

/**
 * The gateway's torch routers: `<stem>.pt` (a torch state dict the gateway loads with weights_only=True and a strict
 * load_state_dict) + `<stem>.json` companion. One flavour per gateway strategy: MLP (contract §6.2), MF (§6.3).
 */
interface TorchFlavour<W extends { labels: readonly string[] }> {
  readonly id: string;
  readonly gatewayKind: string;
  readonly description: string;
  weightsOf(state: RouterState, where: string): W;
  bundle(w: W, stem: string, metadata: Record<string, JsonValue>): BundleFile[];
  /** The gateway's decision for one embedding row. */
  decide(w: W, row: Float32Array): string;
}

function torchFormat<W extends { labels: readonly string[] }>(f: TorchFlavour<W>): ExportFormat {
  return {
    id: f.id,
    gatewayKind: f.gatewayKind,
    description: f.description,
    writes: (stem) => [`${stem}.pt`, `${stem}.json`],
    env: () => ["LLMROUTER_ENFORCE_SIGNED_MODELS=true"],
    needsMlImage: true,
    build(state, ctx) {
      const w = f.weightsOf(state, ctx.where);
      const X = ctx.evalX;
      return {
        files: f.bundle(w, ctx.stem, ctx.metadata),
        labels: [...w.labels],
        decisions: Array.from({ length: X.rows }, (_, i) => f.decide(w, rowOf(X, i))),
      };
    },
  };
}

export const torchMlpFormat = torchFormat<MlpWeights>({
  id: "torch-mlp",
  gatewayKind: "mlp",
  description: "torch .pt state dict + companion JSON (llmrouter-mlp)",
  weightsOf: mlpWeightsOf,
  bundle: mlpBundle,
  decide: mlpDecide,
});

export const torchMfFormat = torchFormat<MfWeights>({
  id: "torch-mf",
  gatewayKind: "mf",
  description: "torch .pt state dict + companion JSON (llmrouter-mf)",
  weightsOf: mfWeightsOf,
  bundle: mfBundle,
  decide: mfDecide,
});
