import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot, venvPython } from "../../lib/util/paths";

/** Runs python/peers/sklearn_peer.py (scikit-learn KNeighborsClassifier / SVC) on the same data, for parity checks and benchmarks. */
export const PeerOutputSchema = z.object({
  sklearn: z.string(),
  numpy: z.string(),
  fit_seconds: z.number(),
  predict_seconds: z.number(),
  classes: z.array(z.number().int()),
  n_support: z.array(z.number().int()).optional(),
  gamma: z.number().optional(),
  intercept: z.array(z.number()).optional(),
  single_p99_ms: z.number().optional(),
});
export type PeerOutput = z.infer<typeof PeerOutputSchema>;

export interface PeerRequest {
  estimator: "knn" | "svc";
  params: Record<string, unknown>;
  train: EmbeddingMatrix;
  labels: Int32Array;
  test: EmbeddingMatrix;
  singleQueries?: number;
  repeat?: number;
}

export interface PeerResult extends PeerOutput {
  pred: Int32Array;
  decision?: Float64Array;
}

function f32Bytes(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function runSklearnPeer(req: PeerRequest): PeerResult {
  const dir = mkdtempSync(path.join(tmpdir(), "routerlab-sk-"));
  try {
    writeFileSync(path.join(dir, "X_train.f32"), f32Bytes(req.train.data));
    writeFileSync(path.join(dir, "y_train.i32"), f32Bytes(req.labels));
    writeFileSync(path.join(dir, "X_test.f32"), f32Bytes(req.test.data));
    const cfg = {
      estimator: req.estimator,
      params: req.params,
      dir,
      n_train: req.train.rows,
      n_test: req.test.rows,
      dim: req.train.dim,
      single_queries: req.singleQueries ?? 0,
      repeat: req.repeat ?? 1,
    };
    const script = path.join(projectRoot(), "python", "peers", "sklearn_peer.py");
    const r = spawnSync(venvPython(), [script], {
      input: JSON.stringify(cfg),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "2" },
    });
    if (r.status !== 0) {
      throw new RouterlabError(
        `sklearn peer failed (exit ${r.status}): ${r.stderr.slice(-2000)} ${r.stdout.slice(-500)}`,
        {
          file: script,
        },
      );
    }
    const lines = r.stdout.trim().split("\n");
    const parsed = PeerOutputSchema.safeParse(JSON.parse(lines[lines.length - 1]!));
    if (!parsed.success)
      throw new RouterlabError(`unexpected sklearn peer output: ${parsed.error.message}`, { file: script });
    const predBuf = readFileSync(path.join(dir, "pred.i32"));
    const pred = new Int32Array(
      predBuf.buffer.slice(predBuf.byteOffset, predBuf.byteOffset + predBuf.byteLength),
    );
    let decision: Float64Array | undefined;
    if (req.estimator === "svc") {
      const b = readFileSync(path.join(dir, "decision.f64"));
      decision = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    return { ...parsed.data, pred, decision };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
