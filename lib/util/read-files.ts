import { existsSync, readFileSync } from "node:fs";
import type { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "./errors";
import { parseWith } from "./zod-error";

/** A whole JSON file checked by `schema`; errors name the file and JSON path (and `what` the file holds). */
export function readJson<S extends z.ZodType>(file: string, schema: S, what = "JSON"): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new RouterlabError(`cannot read ${what}: ${(e as Error).message}`, { file });
  }
  return parseWith(schema, raw, { file, jsonPath: "$" });
}

/** Raw little-endian float32 rows (`.f32`), `dim` wide. */
export function readF32(file: string, dim = 384): EmbeddingMatrix {
  if (!existsSync(file)) throw new RouterlabError("file not found", { file });
  const b = readFileSync(file);
  if (b.length % (dim * 4) !== 0)
    throw new RouterlabError(`size ${b.length} is not a multiple of ${dim} float32 values`, { file });
  const data = new Float32Array(b.length / 4);
  for (let i = 0; i < data.length; i++) {
    const v = b.readFloatLE(i * 4);
    if (!Number.isFinite(v))
      throw new RouterlabError(`non-finite value ${v} at row ${Math.floor(i / dim)}, column ${i % dim}`, {
        file,
        field: `row ${Math.floor(i / dim)}`,
      });
    data[i] = v;
  }
  return { data, rows: data.length / dim, dim };
}
