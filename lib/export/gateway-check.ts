import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { venvPython } from "../util/paths";
import type { ExportKind } from "./artifacts";
import { runPythonStep } from "./python-step";

/**
 * Runs python/steps/gateway_load_check.py in the project's Python environment: it loads an artifact exactly the way the
 * gateway does (torch.load(weights_only=True) + strict load_state_dict, pickle.load + predict, json.load) and
 * returns its decisions. Used by tests and `routerlab verify --load`; exports of MLP/MF/ELO never need it.
 */

const DecideOut = z.object({ decisions: z.array(z.string()), load: z.record(z.string(), z.unknown()) });
const ManifestOut = z.object({ ok: z.boolean(), error: z.string().nullable() });
const ErrorOut = z.strictObject({ error: z.string() });

function runScript(input: object, python = venvPython()): unknown {
  const parsed = runPythonStep(python, "gateway_load_check.py", [], {
    input: JSON.stringify(input),
    maxBuffer: 1 << 28,
    hint: "create the project's Python environment with scripts/setup-python.sh (or set ROUTERLAB_PYTHON)",
  });
  const err = ErrorOut.safeParse(parsed);
  if (err.success) throw new RouterlabError(`gateway_load_check.py: ${err.data.error}`);
  return parsed;
}

/**
 * Writes probe rows for a Python child. Only into a private `mkdtemp` folder that the caller removes: no other reader
 * and no symlink can be there, so the atomic writer's rename and fsyncs would buy nothing.
 */
export function writeProbes(file: string, X: EmbeddingMatrix): void {
  const n = X.rows * X.dim;
  if (os.endianness() === "LE") {
    writeFileSync(file, new Uint8Array(X.data.buffer, X.data.byteOffset, n * 4));
    return;
  }
  const b = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) b.writeFloatLE(X.data[i]!, i * 4);
  writeFileSync(file, b);
}

export function gatewayDecisions(kind: ExportKind, artifact: string, X: EmbeddingMatrix): string[] {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-probes-"));
  try {
    const probes = path.join(tmp, "probes.f32");
    writeProbes(probes, X);
    const out = DecideOut.parse(runScript({ mode: "decide", kind, artifact, probes, dim: X.dim }));
    if (out.decisions.length !== X.rows)
      throw new RouterlabError("gateway_load_check.py returned the wrong count");
    return out.decisions;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function gatewayVerifyManifest(
  manifest: string,
  served: string,
  keys: { publicKeyB64?: string; hmacSecret?: string } = {},
): { ok: boolean; error: string | null } {
  return ManifestOut.parse(
    runScript({
      mode: "manifest",
      manifest,
      served,
      public_key_b64: keys.publicKeyB64 ?? null,
      hmac_secret: keys.hmacSecret ?? null,
    }),
  );
}

/** Refuses unless `actual` equals `expected` everywhere (decisions must survive export). */
export function assertSameDecisions(
  expected: readonly string[],
  actual: readonly string[],
  what: string,
): void {
  if (expected.length !== actual.length) {
    throw new RouterlabError(`${what}: ${actual.length} decisions for ${expected.length} queries`);
  }
  const bad: number[] = [];
  for (let i = 0; i < expected.length; i++) if (expected[i] !== actual[i]) bad.push(i);
  if (bad.length > 0) {
    const i = bad[0]!;
    throw new RouterlabError(
      `${what}: the exported router disagrees with routerlab on ${bad.length} of ${expected.length} evaluation queries ` +
        `(first: query ${i}, routerlab '${expected[i]}', exported '${actual[i]}'); refusing to export a different router`,
    );
  }
}
