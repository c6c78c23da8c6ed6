/** Synthetic, seeded data for the MLP/MF router tests: Gaussian clusters, one per class, unit-normalised rows. */
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { createRng } from "../../lib/util/random";

export function clusters(
  rows: number,
  dim: number,
  classes: number,
  seed: number,
  spread = 0.35,
): { X: EmbeddingMatrix; labels: Int32Array } {
  const rng = createRng(seed);
  const centres = Array.from({ length: classes }, () =>
    Float64Array.from({ length: dim }, () => rng.normal()),
  );
  const data = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = rng.int(classes);
    labels[r] = c;
    let n2 = 0;
    const v = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      v[d] = centres[c]![d]! + spread * rng.normal() * Math.sqrt(dim) * 0.2;
      n2 += v[d]! * v[d]!;
    }
    for (let d = 0; d < dim; d++) data[r * dim + d] = v[d]! / Math.sqrt(n2);
  }
  return { X: { data, rows, dim }, labels };
}

export function randomProbes(rows: number, dim: number, seed: number): EmbeddingMatrix {
  const rng = createRng(seed);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let n2 = 0;
    for (let d = 0; d < dim; d++) {
      const v = rng.normal();
      data[r * dim + d] = v;
      n2 += v * v;
    }
    for (let d = 0; d < dim; d++) data[r * dim + d] = data[r * dim + d]! / Math.sqrt(n2);
  }
  return { data, rows, dim };
}

export function accuracy(pred: readonly string[], labels: Int32Array, models: readonly string[]): number {
  let ok = 0;
  pred.forEach((p, i) => {
    if (p === models[labels[i]!]) ok++;
  });
  return ok / pred.length;
}

export function subset(X: EmbeddingMatrix, from: number, to: number): EmbeddingMatrix {
  return { data: X.data.slice(from * X.dim, to * X.dim), rows: to - from, dim: X.dim };
}
