import { readFileSync } from "node:fs";
import YAML from "yaml";
import type { z } from "zod";
import { RouterlabError } from "./errors";

/**
 * Parses a YAML config file once, at the edge, with a zod schema. Errors name the file, the line
 * and the field, so a user can fix the file without reading routerlab's code.
 */
export function loadYamlConfig<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read config: ${(e as Error).message}`, { file });
  }
  return parseYamlConfig(text, file, schema);
}

export function parseYamlConfig<S extends z.ZodType>(text: string, file: string, schema: S): z.infer<S> {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    throw new RouterlabError(`invalid YAML: ${err.message.split("\n")[0]}`, {
      file,
      line: err.linePos?.[0]?.line,
    });
  }
  const value: unknown = doc.toJS();
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keyPath = issue.path.map(String);
  const node = keyPath.length > 0 ? doc.getIn(keyPath, true) : undefined;
  const line = lineOfNode(text, node);
  throw new RouterlabError(issue.message, { file, line, field: keyPath.join(".") || "(root)" });
}

function lineOfNode(text: string, node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (!range) return undefined;
  return text.slice(0, range[0]).split("\n").length;
}
