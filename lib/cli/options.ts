import type { z } from "zod";
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
