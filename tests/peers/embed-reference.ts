import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot, venvPython } from "../../lib/util/paths";
import type { EmbeddingMatrix } from "../../lib/embed/types";

const ReferenceOutput = z.object({
  rows: z.number().int(),
  dim: z.number().int(),
  seconds: z.number(),
  threads: z.number().int(),
  maxSeqLength: z.number().int(),
  latenciesMs: z.array(z.number()),
});

export interface ReferenceResult {
  matrix: EmbeddingMatrix;
  /** Wall time of SentenceTransformer.encode over all texts (model load excluded). */
  seconds: number;
  threads: number;
  latenciesMs: number[];
}

/**
 * The Python peer: sentence-transformers with the same model, offline, in the project's .venv
 * (python/peers/embed_reference.py). Used by the parity test and the benchmark.
 */
export async function pythonReference(
  texts: readonly string[],
  opts: { batchSize?: number; threads?: number; latencyRuns?: number } = {},
): Promise<ReferenceResult> {
  const script = path.join(projectRoot(), "python", "peers", "embed_reference.py");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-embref-"));
  const out = path.join(tmp, "ref.f32");
  try {
    const args = [script, "--out", out, "--batch-size", String(opts.batchSize ?? 32)];
    if (opts.threads) args.push("--threads", String(opts.threads));
    if (opts.latencyRuns) args.push("--latency", String(opts.latencyRuns));
    const child = spawn(venvPython(), args, {
      env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    child.stdin.on("error", () => {});
    child.stdin.end(texts.map((t) => JSON.stringify(t)).join("\n") + "\n");
    const code = await done;
    if (code !== 0) {
      throw new RouterlabError(
        `python reference failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
        {
          file: script,
        },
      );
    }
    const lines = stdout.trim().split("\n");
    const meta = ReferenceOutput.parse(JSON.parse(lines[lines.length - 1] ?? "null"));
    const buf = readFileSync(out);
    if (meta.rows !== texts.length || buf.length !== meta.rows * meta.dim * 4) {
      throw new RouterlabError(
        `python reference returned ${meta.rows}x${meta.dim} for ${texts.length} texts`,
        {
          file: script,
        },
      );
    }
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    return {
      matrix: { data, rows: meta.rows, dim: meta.dim },
      seconds: meta.seconds,
      threads: meta.threads,
      latenciesMs: meta.latenciesMs,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Cosine of row i of a with row i of b, for every row. */
export function rowCosines(a: EmbeddingMatrix, b: EmbeddingMatrix): Float64Array {
  if (a.rows !== b.rows || a.dim !== b.dim)
    throw new Error(`shape mismatch ${a.rows}x${a.dim} vs ${b.rows}x${b.dim}`);
  const out = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < a.dim; j++) {
      const x = a.data[i * a.dim + j]!;
      const y = b.data[i * b.dim + j]!;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    out[i] = dot / Math.sqrt(na * nb);
  }
  return out;
}
