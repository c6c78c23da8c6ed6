import type { SpawnSyncReturns } from "node:child_process";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { RoutingData } from "../../lib/data/routing";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { projectRoot } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

/** A small RoutingData with the given quality/cost rows (query-major). */
export function routingData(models: string[], quality: number[][], cost?: number[][]): RoutingData {
  const n = quality.length;
  return {
    name: "test-data",
    queryIds: quality.map((_, i) => `q${i}`),
    queries: quality.map((_, i) => `query ${i}`),
    models,
    quality: Float64Array.from(quality.flat()),
    cost: Float64Array.from(cost ? cost.flat() : new Array<number>(n * models.length).fill(NaN)),
  };
}

/**
 * Seeded unit-norm float32 vectors with cluster structure: `nClusters` random centres, each point a
 * centre plus noise, normalised; labels = cluster index mod nClasses with some label noise.
 */
export function clustered(
  n: number,
  dim: number,
  nClusters: number,
  nClasses: number,
  seed: number,
  noise = 0.5,
): { X: EmbeddingMatrix; labels: Int32Array } {
  const rng = createRng(seed);
  const centres = Array.from({ length: nClusters }, () => Array.from({ length: dim }, () => rng.normal()));
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(nClusters);
    let norm = 0;
    const v = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      v[d] = centres[c]![d]! + noise * rng.normal();
      norm += v[d]! * v[d]!;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) data[i * dim + d] = v[d]! / norm;
    labels[i] = rng.next() < 0.1 ? rng.int(nClasses) : c % nClasses;
  }
  return { X: { data, rows: n, dim }, labels };
}

/**
 * Writes `<dir>/<name>.yaml`: a `routerlab train` config on bundled MT-Bench (binary Mixtral vs GPT-4, seed 1, no
 * tracking) for the given `router:` YAML, saving the model as `<dir>/models/<name>.router.json`. Returns the file.
 */
export function mtBenchTrainConfig(dir: string, name: string, router: string): string {
  const cfg = path.join(dir, `${name}.yaml`);
  writeFileSync(
    cfg,
    [
      "data: { dataset: mt-bench, split: { testFraction: 0.2, stratifyBy: none } }",
      "routing: { setting: binary, weak: mistralai/Mixtral-8x7B-Instruct-v0.1, strong: gpt-4-1106-preview }",
      `router: ${router}`,
      "seed: 1",
      `output: { dir: ${JSON.stringify(path.join(dir, "models"))}, name: ${name} }`,
      "tracking: { enabled: false }",
      "",
    ].join("\n"),
  );
  return cfg;
}

/** Runs the routerlab CLI (bin/routerlab.js) in a child process. */
export function runCli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    timeout: 600_000,
  });
}
