import { readFileSync } from "node:fs";
import type { z } from "zod";
import { RouterlabError } from "./errors";
import { parseWith } from "./zod-error";

export interface JsonlLine<T> {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly value: T;
}

/**
 * Reads a JSONL file, parsing every non-blank line with `schema`. Errors name the file, the line and the
 * field: `what` says what the file was meant to hold ("oracle routing data", "facts").
 */
export function readJsonlLines<S extends z.ZodType>(
  file: string,
  schema: S,
  what = "JSONL",
): JsonlLine<z.infer<S>>[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read ${what}: ${(e as Error).message}`, { file });
  }
  const out: JsonlLine<z.infer<S>>[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new RouterlabError(`invalid JSON: ${(e as Error).message}`, { file, line: i + 1 });
    }
    out.push({ line: i + 1, value: parseWith(schema, value, { file, line: i + 1 }) });
  });
  return out;
}

export function readJsonl<S extends z.ZodType>(file: string, schema: S, what?: string): z.infer<S>[] {
  return readJsonlLines(file, schema, what).map((l) => l.value);
}
