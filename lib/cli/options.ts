import type { z } from "zod";
import { RouterlabError } from "../util/errors";
import { parseWith } from "../util/zod-error";

const flag = (keyPath: readonly (string | number)[]): string =>
  `--${keyPath
    .map(String)
    .join(".")
    .replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Parses a command's options (commander's camelCase object) with `schema`; an error names the `--flag`. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  return parseWith(schema, raw, { file: "(command line)", fieldName: flag });
}

/** A commander argument parser for a finite number; the error names the option. */
export const numberArg =
  (name: string) =>
  (v: string): number => {
    const x = Number(v);
    if (!Number.isFinite(x)) throw new RouterlabError(`${name} must be a number, got '${v}'`);
    return x;
  };

/** A commander argument parser for a positive integer; the error names the option. */
export const positiveIntArg =
  (name: string) =>
  (v: string): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x <= 0)
      throw new RouterlabError(`${name} must be a positive integer, got '${v}'`);
    return x;
  };
