/**
 * Load-and-re-score before publishing (issue 17 item 5): a manifest whose hashes match proves nothing about a file
 * that was truncated and re-hashed. Before promote, rollback, or a publish into the gateway's folder, every bundle is
 * loaded with its format's decoder and decided on a fixed set of seeded probe embeddings with the gateway-exact
 * scorer; the digest of those decisions must equal the one `routerlab export` recorded in the manifest metadata
 * (`probe_check`).
 *
 * Each export format decodes its own files (`rescore`, decoders in lib/export/bundle-decode.ts).
 */
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import { createRng } from "../util/random";
import type { BundleFile, ExportKind } from "./artifacts";
import { GATEWAY_DIM } from "./artifacts";
import { MANIFEST_NAME } from "./bundle";
import { formatForGatewayKind } from "./formats";
import { parseManifest } from "./manifest";

export const PROBE_SEED = 20260217;
export const PROBE_ROWS = 64;

/** Seeded unit-norm probe embeddings (the same on every machine). */
export function probeMatrix(rows = PROBE_ROWS, dim = GATEWAY_DIM, seed = PROBE_SEED): EmbeddingMatrix {
  const rng = createRng(seed);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let nn = 0;
    for (let j = 0; j < dim; j++) nn += (data[r * dim + j] = rng.normal()) ** 2;
    const n = Math.sqrt(nn);
    for (let j = 0; j < dim; j++) data[r * dim + j] = data[r * dim + j]! / n;
  }
  return { data, rows, dim };
}

/**
 * Loads a bundle with its format's decoder and decides `X` with the gateway-exact scorer: one line per row, the
 * decision followed (MLP/MF) by the scores behind it; ELO and centroid lines carry the decoded parameters' digest.
 * `kind` is the manifest's tag, the format's `gatewayKind`.
 */
export function rescoreBundle(kind: ExportKind, files: readonly BundleFile[], X = probeMatrix()): string[] {
  if (!files.some((f) => f.served)) throw new RouterlabError("bundle has no served file");
  const format = formatForGatewayKind(kind);
  if (!format) throw new RouterlabError(`no export format serves the gateway strategy llmrouter-${kind}`);
  return format.rescore(files, X);
}

export function decisionsDigest(decisions: readonly string[]): string {
  return sha256Hex(decisions.join("\n"));
}

/** What export records: the digest of the gateway-exact decisions on the seeded probes. */
export function probeCheck(
  kind: ExportKind,
  files: readonly BundleFile[],
): { seed: number; rows: number; sha256: string } {
  return { seed: PROBE_SEED, rows: PROBE_ROWS, sha256: decisionsDigest(rescoreBundle(kind, files)) };
}

const ProbeCheckSchema = z.object({ seed: z.int(), rows: z.int().positive(), sha256: z.string() });

/**
 * Refuses to publish a bundle whose files do not load, or whose re-scored probe decisions differ from those recorded
 * at export. Bundles exported before `probe_check` existed are still loaded and scored.
 */
export function assertRescores(files: readonly BundleFile[], manifestBytes: Buffer, where: string): void {
  const m = parseManifest(manifestBytes.toString("utf8"), `${where}/${MANIFEST_NAME}`);
  const tag = m.artifacts[0]?.tags?.[0];
  if (!tag || !formatForGatewayKind(tag))
    throw new RouterlabError(`manifest does not name the router type (tag '${tag}')`, {
      file: `${where}/${MANIFEST_NAME}`,
    });
  const recorded = ProbeCheckSchema.safeParse(
    (m.metadata as Record<string, unknown> | undefined)?.probe_check,
  );
  const X = recorded.success
    ? probeMatrix(recorded.data.rows, GATEWAY_DIM, recorded.data.seed)
    : probeMatrix();
  let decisions: string[];
  try {
    decisions = rescoreBundle(tag, files, X);
  } catch (e) {
    throw new RouterlabError(
      `refusing to publish ${where}: its ${tag} artifact does not load: ${(e as Error).message}`,
    );
  }
  if (recorded.success && decisionsDigest(decisions) !== recorded.data.sha256)
    throw new RouterlabError(
      `refusing to publish ${where}: its ${tag} artifact, re-scored on the export's probes, decides differently than when it was exported`,
    );
}
