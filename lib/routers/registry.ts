import { RouterlabError } from "../util/errors";
import { baselineEntries } from "./baselines";
import { featureScoreEntry } from "./feature-score";
import { irtEntry } from "./irt";
import { knnEntry } from "./knn";
import { logregEmbFeaturesEntry } from "./logreg-emb-features";
import { mfEntry } from "./mf";
import { centroidEntry } from "./centroid";
import { clusterEntry } from "./cluster";
import { eloEntry } from "./elo";
import { encoderEntry } from "./encoder";
import { groupKnnEntry } from "./group-knn";
import { logregEntry } from "./logreg";
import { mlpEntry } from "./mlp";
import { loadRouterState } from "./model-file";
import { svmEntry } from "./svm";
import { swRankingEntry } from "./sw-ranking";
import type { RegisteredRouter } from "./define";
import type { Router, RouterState } from "./types";

export type { RegisteredRouter, RouterEntry, RouterTraits } from "./define";
export { defineRouter } from "./define";

/** Every router kind, one line each. */
const ENTRIES: RegisteredRouter[] = [
  knnEntry,
  svmEntry,
  mlpEntry,
  mfEntry,
  irtEntry,
  logregEntry,
  eloEntry,
  swRankingEntry,
  centroidEntry,
  clusterEntry,
  groupKnnEntry,
  logregEmbFeaturesEntry,
  featureScoreEntry,
  encoderEntry,
  ...baselineEntries,
];

/** Every registered kind's entry (traits included), in registry order. */
export function routerEntries(): readonly RegisteredRouter[] {
  return ENTRIES;
}

export function routerKinds(): string[] {
  return ENTRIES.map((e) => e.kind);
}

export function routerEntry(kind: string): RegisteredRouter {
  const e = ENTRIES.find((x) => x.kind === kind);
  if (!e)
    throw new RouterlabError(`unknown router kind '${kind}'; known: ${routerKinds().join(", ")}`, {
      file: "router",
      field: "kind",
    });
  return e;
}

/** Creates an unfitted router; hyperparameters are validated by the kind's zod schema. */
export function createRouter(kind: string, hyperparameters: unknown = {}, where?: string): Router {
  return routerEntry(kind).create(hyperparameters, where);
}

/** Rebuilds a fitted router from its state (e.g. from a model file). */
export function routerFromState(state: RouterState): Router {
  return routerEntry(state.kind).fromState(state);
}

/** Loads a fitted router from `<name>.router.json` (+ `.router.bin`). */
export function loadRouter(file: string): Router {
  return routerFromState(loadRouterState(file));
}
