import { readFileSync } from "node:fs";
import YAML from "yaml";
import type { z } from "zod";
import { RouterlabError } from "./errors";
import { parseWith } from "./zod-error";

/**
 * At most this many alias dereferences per document: a YAML "billion laughs" (anchors of aliases of anchors)
 * is refused instead of expanding exponentially. Configs written by hand use a handful.
 */
export const MAX_YAML_ALIASES = 100;

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

/** A parsed YAML document with a line map: the 1-based line of the key (or value) at a key path. */
export interface YamlWithLines {
  value: unknown;
  lineOf: (keyPath: readonly (string | number)[]) => number | undefined;
}

/** Parses YAML text; syntax errors and alias bombs are RouterlabErrors naming file and line. */
export function parseYamlWithLines(text: string, file: string): YamlWithLines {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    throw new RouterlabError(`invalid YAML: ${err.message.split("\n")[0]}`, {
      file,
      line: err.linePos?.[0]?.line,
    });
  }
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    let firstAlias: number | undefined;
    YAML.visit(doc, {
      Alias(_k, node) {
        firstAlias = node.range?.[0];
        return YAML.visit.BREAK;
      },
    });
    throw new RouterlabError(
      `YAML aliases expand too much (${(e as Error).message.split("\n")[0]}); at most ${MAX_YAML_ALIASES} alias uses are allowed`,
      { file, line: firstAlias === undefined ? undefined : lineAt(firstAlias) },
    );
  }
  return { value, lineOf: (keyPath) => lineOfPath(doc, keyPath, lineAt) };
}

export function parseYamlConfig<S extends z.ZodType>(text: string, file: string, schema: S): z.infer<S> {
  const { value, lineOf } = parseYamlWithLines(text, file);
  return parseWith(schema, value ?? {}, { file, line: lineOf });
}

/** Line of the key at `keyPath` (of its value for list items), or of the deepest existing parent. */
function lineOfPath(
  doc: YAML.Document,
  keyPath: readonly (string | number)[],
  lineAt: (offset: number) => number,
): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const k of keyPath) {
    if (YAML.isMap(node)) {
      const pair = node.items.find((p) => {
        const key: unknown = p.key;
        return (
          (YAML.isScalar(key) ? key.value : key) === k ||
          String(YAML.isScalar(key) ? key.value : key) === String(k)
        );
      });
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
      if (keyRange) line = lineAt(keyRange[0]);
      node = pair.value;
    } else if (YAML.isSeq(node) && typeof k === "number") {
      node = node.items[k];
      const r = (node as { range?: [number, number, number] } | undefined)?.range;
      if (!r) break;
      line = lineAt(r[0]);
    } else {
      break;
    }
  }
  if (line === undefined) {
    const r = (doc.contents as { range?: [number, number, number] } | null)?.range;
    if (r) line = lineAt(r[0]);
  }
  return line;
}
