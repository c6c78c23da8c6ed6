import { z } from "zod";
import { RouterlabError } from "../../util/errors";
import { eloBundle } from "../artifacts";
import { eloDecide } from "../gateway-scoring";
import type { ExportFormat } from "./types";

const EloMeta = z.object({ ratings: z.record(z.string(), z.number()) });

/** The gateway's ELO router: one JSON object of ratings; the highest rating wins every query. */
export const eloJsonFormat: ExportFormat = {
  id: "elo-json",
  gatewayKind: "elo",
  description: "ELO ratings JSON (llmrouter-elo)",
  writes: (stem) => [`${stem}.json`],
  env: () => ["LLMROUTER_ENFORCE_SIGNED_MODELS=true"],
  needsMlImage: false,
  build(state, ctx) {
    const meta = EloMeta.safeParse(state.meta);
    if (!meta.success)
      throw new RouterlabError("an ELO export needs meta.ratings (model -> rating)", {
        file: ctx.where,
        field: "meta.ratings",
      });
    const ratings = Object.entries(meta.data.ratings);
    const winner = eloDecide(ratings);
    return {
      files: eloBundle(ratings, `${ctx.stem}.json`),
      labels: ratings.map(([l]) => l),
      decisions: Array.from({ length: ctx.evalX.rows }, () => winner),
    };
  },
};
