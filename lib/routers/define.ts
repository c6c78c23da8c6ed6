import type { z } from "zod";
import type { Router, RouterState } from "./types";
import { parseWith } from "../util/zod-error";
import { requireFitted } from "./checks";

/**
 * What other layers need to know about a kind, declared once here instead of guessed elsewhere (the job
 * pipeline, the fold workers, `routerlab train` and `routerlab export` read these; none lists kinds).
 */
export interface RouterTraits {
  /** Has a `seed` hyperparameter; the job's seed fills it when the config leaves it unset (so it is logged). */
  readonly seeded: boolean;
  /** Trains on one thread (tfjs-wasm): k folds fit faster side by side in worker threads. */
  readonly singleThreadTraining: boolean;
  /**
   * `routerlab train` saves the training rows beside the learned state, because the gateway format refits from
   * them (scikit-learn's SVC). KNN's state already is its training rows, so it does not need this.
   */
  readonly keepsTrainingRows: boolean;
  /** Reads `Queries.texts` (and `groups` when given), not only the embeddings. */
  readonly readsTexts: boolean;
  /** The routing settings it learns (default both); others are refused before training. */
  readonly settings: readonly ("binary" | "multi")[];
}

/** Where a kind is served: an export-format id from lib/export/formats, or null with the reason. */
export type GatewayServing =
  | { readonly gatewayFormat: string; readonly notServableReason?: undefined }
  | { readonly gatewayFormat: null; readonly notServableReason: string };

/**
 * One router kind: a zod schema for its hyperparameters (defaults included), a constructor taking the parsed
 * hyperparameters, a way back from saved state, its traits and its gateway format. Each router file exports its
 * entry; registry.ts lists them.
 */
export type RouterEntry<H> = {
  readonly kind: string;
  readonly description: string;
  readonly hyperparameters: z.ZodType<H>;
  create(hp: H): Router;
  fromState(state: RouterState): Router;
} & Partial<RouterTraits> &
  GatewayServing;

/** A registry row with the hyperparameter type erased (parsed at the edge by the entry's schema). */
export type RegisteredRouter = {
  readonly kind: string;
  readonly description: string;
  create(raw: unknown, where?: string): Router;
  fromState(state: RouterState): Router;
} & RouterTraits &
  GatewayServing;

/** Parses raw hyperparameters with a kind's schema; a bad value is a RouterlabError naming the field. */
export function parseHyperparameters<H>(
  kind: string,
  schema: z.ZodType<H>,
  raw: unknown,
  where = "hyperparameters",
): H {
  return parseWith(schema, raw ?? {}, { file: where, what: kind });
}

export function defineRouter<H>(entry: RouterEntry<H>): RegisteredRouter {
  const serving: GatewayServing =
    entry.gatewayFormat === null
      ? { gatewayFormat: null, notServableReason: entry.notServableReason }
      : { gatewayFormat: entry.gatewayFormat };
  return {
    kind: entry.kind,
    description: entry.description,
    seeded: entry.seeded ?? false,
    singleThreadTraining: entry.singleThreadTraining ?? false,
    keepsTrainingRows: entry.keepsTrainingRows ?? false,
    readsTexts: entry.readsTexts ?? false,
    settings: entry.settings ?? ["binary", "multi"],
    ...serving,
    create: (raw, where) => entry.create(parseHyperparameters(entry.kind, entry.hyperparameters, raw, where)),
    fromState: (state) => entry.fromState(state),
  };
}

/**
 * The part every estimator-style router shares: its kind, hyperparameters validated by the kind's schema at
 * construction, and the fitted state `fit` sets (undefined until then; `need()` turns that into the one not-fitted
 * error of checks.ts).
 */
export abstract class Estimator<H extends Record<string, unknown>, F> {
  readonly kind: string;
  readonly hp: H;
  protected fitted: F | undefined;

  protected constructor(kind: string, schema: z.ZodType<H>, raw: unknown) {
    this.kind = kind;
    this.hp = parseHyperparameters(kind, schema, raw);
  }

  /** The fitted state, or the not-fitted error. */
  protected need(): F {
    return requireFitted(this.fitted, this.kind);
  }

  get hyperparameters(): Record<string, unknown> {
    return { ...this.hp };
  }
}
