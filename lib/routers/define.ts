import type { z } from "zod";
import type { Router, RouterState } from "./types";
import { parseWith } from "../util/zod-error";

/**
 * One router kind: a zod schema for its hyperparameters (defaults included), a constructor, and a
 * way back from saved state. Each router file exports its entry; this file lists them.
 */
export interface RouterEntry<H> {
  readonly kind: string;
  readonly description: string;
  readonly hyperparameters: z.ZodType<H>;
  create(hp: H): Router;
  fromState(state: RouterState): Router;
}

/** A registry row with the hyperparameter type erased (parsed at the edge by the entry's schema). */
export interface RegisteredRouter {
  readonly kind: string;
  readonly description: string;
  create(raw: unknown, where?: string): Router;
  fromState(state: RouterState): Router;
}

export function defineRouter<H>(entry: RouterEntry<H>): RegisteredRouter {
  return {
    kind: entry.kind,
    description: entry.description,
    create(raw: unknown, where = "hyperparameters"): Router {
      return entry.create(parseWith(entry.hyperparameters, raw ?? {}, { file: where, what: entry.kind }));
    },
    fromState: (state) => entry.fromState(state),
  };
}
