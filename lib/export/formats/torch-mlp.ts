import { rowOf } from "../../embed/types";
import { mlpBundle } from "../artifacts";
import { mlpDecide } from "../gateway-scoring";
import { mlpWeightsOf } from "./state";
import type { ExportFormat } from "./types";

/** The gateway's MLP router: `<stem>.pt` (torch state dict) + `<stem>.json` companion (contract §6.2). */
export const torchMlpFormat: ExportFormat = {
  id: "torch-mlp",
  gatewayKind: "mlp",
  description: "torch .pt state dict + companion JSON (llmrouter-mlp)",
  writes: (stem) => [`${stem}.pt`, `${stem}.json`],
  env: () => ["LLMROUTER_ENFORCE_SIGNED_MODELS=true"],
  needsMlImage: true,
  build(state, ctx) {
    const m = mlpWeightsOf(state, ctx.where);
    return {
      files: mlpBundle(m, ctx.stem, ctx.metadata),
      labels: [...m.labels],
      decisions: Array.from({ length: ctx.evalX.rows }, (_, i) => mlpDecide(m, rowOf(ctx.evalX, i))),
    };
  },
};
