import type { EmbeddingMatrix } from "../../lib/embed/types";
import type { RoutingTask } from "../../lib/routers/types";
import { createRng } from "../../lib/util/random";

/**
 * `rows` unit-length 384-wide embeddings drawn from `seed`, with a binary weak/strong task whose label follows the
 * first coordinate (plus noise): the weak model answers the rows labelled 0, the strong one answers every row.
 */
export function binaryExportData(
  seed: number,
  rows: number,
  weak: string,
  strong: string,
): { X: EmbeddingMatrix; task: RoutingTask } {
  const rng = createRng(seed);
  const dim = 384;
  const X = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  const quality = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < dim; j++) n += (X[r * dim + j] = rng.normal()) ** 2;
    for (let j = 0; j < dim; j++) X[r * dim + j] = X[r * dim + j]! / Math.sqrt(n);
    labels[r] = X[r * dim]! + 0.3 * rng.normal() > 0 ? 1 : 0;
    quality[r * 2] = labels[r] === 1 ? 0 : 1;
    quality[r * 2 + 1] = 1;
  }
  return { X: { data: X, rows, dim }, task: { kind: "binary", models: [weak, strong], labels, quality } };
}
