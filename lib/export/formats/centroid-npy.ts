/**
 * The gateway's centroid files (contract §6.6): `simple_centroid.npy` and `complex_centroid.npy`, 1-D float64 arrays
 * of shape (384,), unit norm, NumPy format 1.0 without pickle. They go into the directory the gateway's
 * `CentroidClassifier` reads (default `<gateway root>/models/centroids/`; no environment variable sets it).
 */
import type { EmbeddingMatrix } from "../../embed/types";
import { CentroidRouter, centroidIsComplex } from "../../routers/centroid";
import { RouterlabError } from "../../util/errors";
import { sha256Hex } from "../../util/hash";
import type { BundleFile } from "../artifacts";
import { GATEWAY_DIM } from "../artifacts";
import { npyBytes, readNpy } from "../npy";
import { bakeCentroidOperatingPoint } from "../operating-point";
import type { ExportFormat, FormatContext, FormatOutput } from "./types";

export const SIMPLE_CENTROID = "simple_centroid.npy";
export const COMPLEX_CENTROID = "complex_centroid.npy";

function check(v: ArrayLike<number>, name: string): void {
  if (v.length !== GATEWAY_DIM)
    throw new RouterlabError(`${name}: ${v.length} values, the gateway requires shape (${GATEWAY_DIM},)`);
  let nn = 0;
  for (let j = 0; j < v.length; j++) nn += v[j]! * v[j]!;
  if (Math.abs(Math.sqrt(nn) - 1) > 1e-9) throw new RouterlabError(`${name}: norm ${Math.sqrt(nn)} is not 1`);
}

/** The two centroid files; the complex one is listed first in the manifest (a bundle names one file first). */
export function centroidBundle(c: { complex: ArrayLike<number>; simple: ArrayLike<number> }): BundleFile[] {
  check(c.simple, SIMPLE_CENTROID);
  check(c.complex, COMPLEX_CENTROID);
  return [
    { name: COMPLEX_CENTROID, bytes: npyBytes(c.complex, "<f8"), served: true },
    { name: SIMPLE_CENTROID, bytes: npyBytes(c.simple, "<f8"), served: false },
  ];
}

/** Re-reads the centroid files and decides each row with the gateway's rule: true = complex. */
export function centroidFilesDecide(
  files: readonly { name: string; bytes: Buffer }[],
  X: { data: Float32Array; rows: number; dim: number },
): boolean[] {
  const get = (name: string): Float64Array => {
    const f = files.find((x) => x.name === name);
    if (!f) throw new RouterlabError(`centroid bundle has no ${name}`);
    const v = readNpy(f.bytes, name);
    check(v, name);
    return v;
  };
  const complex = get(COMPLEX_CENTROID);
  const simple = get(SIMPLE_CENTROID);
  return Array.from({ length: X.rows }, (_, r) => centroidIsComplex(X.data, complex, simple, r * X.dim));
}

/** Re-scoring for the publish-time probe check: complex/simple per row, then the digest of both files. */
export function decideCentroidFiles(files: readonly BundleFile[], X: EmbeddingMatrix): string[] {
  const digest = sha256Hex(files.map((f) => `${f.name} ${sha256Hex(f.bytes)}`).join("\n"));
  return centroidFilesDecide(files, X).map((c) => `${c ? "complex" : "simple"} ${digest}`);
}

/** What to set on the gateway: the strategy only; the files are copied, not named by a variable. */
export function centroidGatewayEnv(): string[] {
  return [
    "ROUTEIQ_ROUTING_STRATEGY=llmrouter-nadirclaw-centroid",
    `# copy ${SIMPLE_CENTROID} and ${COMPLEX_CENTROID} into <gateway root>/models/centroids/ (no variable sets the directory)`,
  ];
}

/**
 * The gateway answers complex or simple; routerlab's router names its [weak, strong] models. The manifest records
 * which model each tier stands for (`centroid_tiers`), so a check on the installed files can name the decisions.
 */
function centroidOutput(router: CentroidRouter, ctx: FormatContext): FormatOutput {
  const [weak, strong] = router.state().meta.models as [string, string];
  const files = centroidBundle(router.centroids());
  return {
    files,
    labels: [weak, strong],
    decisions: centroidFilesDecide(files, ctx.evalX).map((c) => (c ? strong : weak)),
    metadata: { centroid_tiers: { complex: strong, simple: weak } },
  };
}

/** The centroid router's files (contract §6.6); a calibrated threshold moves the router along its family. */
export const centroidNpyFormat: ExportFormat = {
  id: "centroid-npy",
  gatewayKind: "centroid",
  description: "simple/complex centroid .npy files (llmrouter-nadirclaw-centroid)",
  writes: () => [COMPLEX_CENTROID, SIMPLE_CENTROID],
  env: () => [],
  needsMlImage: false,
  build: (state, ctx) => centroidOutput(CentroidRouter.fromState(state), ctx),
  operatingPoint: {
    bake(state, ctx, scores) {
      const router = CentroidRouter.fromState(state);
      const [weak, strong] = router.state().meta.models as [string, string];
      const op = bakeCentroidOperatingPoint(router, scores.calibration, { strong, weak });
      return {
        output: centroidOutput(op.value, ctx),
        expected: op.decide(scores.strongOnEval),
        operatingPoint: op.metadata,
        warnings: op.warnings,
      };
    },
  },
  rescore: decideCentroidFiles,
  gatewayEnv: () => centroidGatewayEnv(),
};
