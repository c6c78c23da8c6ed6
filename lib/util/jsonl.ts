import { readFileSync } from "node:fs";
import type { z } from "zod";
import { RouterlabError } from "./errors";

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
    const res = schema.safeParse(value);
    if (!res.success) {
      const issue = res.error.issues[0]!;
      throw new RouterlabError(issue.message, { file, line: i + 1, field: issue.path.join(".") || "(line)" });
    }
    out.push({ line: i + 1, value: res.data });
  });
  return out;
}

export function readJsonl<S extends z.ZodType>(file: string, schema: S, what?: string): z.infer<S>[] {
  return readJsonlLines(file, schema, what).map((l) => l.value);
}
