import type { z } from "zod";
import type { InputLocation } from "./errors";
import { RouterlabError } from "./errors";

/** Where a value checked by a schema came from. */
export interface SchemaWhere {
  file: string;
  /** The line of the whole value (a JSONL line), or a line map from a key path to its line (YAML). */
  line?: number | ((keyPath: readonly (string | number)[]) => number | undefined);
  /** JSON path of the value inside the file (`$`, `$.meta.embedding`); when set, errors carry a JSON path. */
  jsonPath?: string;
  /** Put before the schema's message: "invalid embedding spec", "mlp". */
  what?: string;
  /** How a key path is named as the field (default: joined with dots), e.g. `--token-env` for command options. */
  fieldName?: (keyPath: readonly (string | number)[]) => string;
  /** What to do about it (the CLI prints it under the error). */
  hint?: string;
}

type Issue = z.core.$ZodIssue;

/** The key path of an issue; for an unknown key it ends with that key, so the line and field point at it. */
export function issueKeyPath(issue: Issue): (string | number)[] {
  const p = issue.path.map((k) => (typeof k === "number" ? k : String(k)));
  if (issue.code === "unrecognized_keys" && issue.keys.length > 0) p.push(issue.keys[0]!);
  return p;
}

/** `$.a[3].b` from a base path and a key path. */
export function jsonPathOf(base: string, keyPath: readonly (string | number)[]): string {
  return (
    base +
    keyPath
      .map((k) =>
        typeof k === "number" ? `[${k}]` : /^[A-Za-z_][\w-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`,
      )
      .join("")
  );
}

/** The first issue of a zod error as a RouterlabError naming file, line (or JSON path) and field. */
export function schemaError(error: z.ZodError, where: SchemaWhere): RouterlabError {
  const issue = error.issues[0]!;
  const keyPath = issueKeyPath(issue);
  const loc: InputLocation = { file: where.file };
  const line = typeof where.line === "function" ? where.line(keyPath) : where.line;
  if (line !== undefined) loc.line = line;
  if (where.jsonPath !== undefined) {
    // the JSON path gives the position; the field is the name of the key that failed
    loc.path = jsonPathOf(where.jsonPath, keyPath);
    const name = [...keyPath].reverse().find((k): k is string => typeof k === "string");
    if (name !== undefined) loc.field = name;
  } else {
    loc.field =
      keyPath.length === 0
        ? "(root)"
        : where.fieldName
          ? where.fieldName(keyPath)
          : keyPath.map(String).join(".");
  }
  return new RouterlabError(where.what ? `${where.what}: ${issue.message}` : issue.message, loc, where.hint);
}

/** Parses `value` with `schema`; a failure is a located RouterlabError (see `schemaError`). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: SchemaWhere): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw schemaError(r.error, where);
}
