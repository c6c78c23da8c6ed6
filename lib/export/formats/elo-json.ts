import { z } from "zod";
import { eloBundle } from "../artifacts";
import { decideEloFiles } from "../bundle-decode";
import { eloDecide } from "../gateway-scoring";
import { requireMeta } from "./state";
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
  operatingPoint: {
    refusal:
      "an ELO router ignores the query and always serves the highest-rated model: no threshold gives a share " +
      "strictly between 0% and 100%",
  },
  rescore: decideEloFiles,
  build(state, ctx) {
    const meta = requireMeta(
      state,
      EloMeta,
      ctx.where,
      "meta.ratings",
      "an ELO export needs meta.ratings (model -> rating)",
    );
    const ratings = Object.entries(meta.ratings);
    const winner = eloDecide(ratings);
    return {
      files: eloBundle(ratings, `${ctx.stem}.json`),
      labels: ratings.map(([l]) => l),
      decisions: Array.from({ length: ctx.evalX.rows }, () => winner),
    };
  },
};
