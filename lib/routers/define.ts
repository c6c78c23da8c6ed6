import type { z } from "zod";
import { RouterlabError } from "../util/errors";
import type { Router, RouterState } from "./types";

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
      const parsed = entry.hyperparameters.safeParse(raw ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new RouterlabError(`${entry.kind}: ${issue.message}`, {
          file: where,
          field: issue.path.map(String).join(".") || "(root)",
        });
      }
      return entry.create(parsed.data);
    },
    fromState: (state) => entry.fromState(state),
  };
}
