import { rowOf } from "../../embed/types";
import { mfBundle } from "../artifacts";
import { mfDecide } from "../gateway-scoring";
import { mfWeightsOf } from "./state";
import type { ExportFormat } from "./types";

/** The gateway's MF router: `<stem>.pt` (P, text_proj, classifier) + `<stem>.json` companion (contract §6.3). */
export const torchMfFormat: ExportFormat = {
  id: "torch-mf",
  gatewayKind: "mf",
  description: "torch .pt state dict + companion JSON (llmrouter-mf)",
  writes: (stem) => [`${stem}.pt`, `${stem}.json`],
  env: () => ["LLMROUTER_ENFORCE_SIGNED_MODELS=true"],
  needsMlImage: true,
  build(state, ctx) {
    const m = mfWeightsOf(state, ctx.where);
    return {
      files: mfBundle(m, ctx.stem, ctx.metadata),
      labels: [...m.labels],
      decisions: Array.from({ length: ctx.evalX.rows }, (_, i) => mfDecide(m, rowOf(ctx.evalX, i))),
    };
  },
};
