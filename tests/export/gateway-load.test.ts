import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { rowOf } from "../../lib/embed/types";
import { bakeBinaryThreshold, eloBundle, mfBundle, mlpBundle } from "../../lib/export/artifacts";
import { writeBundleDir } from "../../lib/export/bundle";
import { gatewayDecisions, gatewayVerifyManifest } from "../../lib/export/gateway-check";
import type { Activation, LinearLayer, MfWeights, MlpWeights } from "../../lib/export/gateway-scoring";
import { eloDecide, mfDecide, mlpDecide, mlpLogits } from "../../lib/export/gateway-scoring";
import { ed25519PrivateKey, publicKeyB64 } from "../../lib/export/manifest";
import type { Rng } from "../../lib/util/random";
import { createRng } from "../../lib/util/random";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-export-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const LABELS = ["openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku", "groq/llama-3.1-8b"];

function gauss(rng: Rng): number {
  return rng.normal();
}

function unitProbes(rng: Rng, rows: number, dim = 384): EmbeddingMatrix {
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < dim; j++) n += (data[r * dim + j] = gauss(rng)) ** 2;
    n = Math.sqrt(n);
    for (let j = 0; j < dim; j++) data[r * dim + j]! /= n;
  }
  return { data, rows, dim };
}

function randLayer(rng: Rng, inDim: number, outDim: number, scale: number): LinearLayer {
  const weight = new Float32Array(inDim * outDim).map(() => gauss(rng) * scale);
  const bias = new Float32Array(outDim).map(() => gauss(rng) * 0.01);
  return { inDim, outDim, weight, bias };
}

function randMlp(
  rng: Rng,
  hidden: number[],
  activation: Activation,
  outDim: number,
): Omit<MlpWeights, "labels"> {
  const widths = [384, ...hidden, outDim];
  const layers = widths
    .slice(0, -1)
    .map((w, i) => randLayer(rng, w, widths[i + 1]!, i === 0 ? 1 : 2 / Math.sqrt(w)));
  return { inputDim: 384, hiddenLayerSizes: hidden, activation, layers };
}

const probes = unitProbes(createRng(7), 1000);

function tsDecisions(f: (e: Float32Array) => string): string[] {
  return Array.from({ length: probes.rows }, (_, i) => f(rowOf(probes, i)));
}

for (const [activation, hidden] of [
  ["relu", [64, 32]],
  ["tanh", [48]],
  ["logistic", [32]],
  ["identity", []],
] as const) {
  test(`MLP ${activation} [${hidden.join(",")}]: torch.load(weights_only) + strict load gives routerlab's decisions on 1,000 probes`, () => {
    const m: MlpWeights = {
      ...randMlp(createRng(hidden.length + 11), [...hidden], activation, 4),
      labels: LABELS,
    };
    const dir = path.join(tmp, `mlp-${activation}`);
    writeBundleDir(dir, mlpBundle(m), { kind: "mlp" });
    const ours = tsDecisions((e) => mlpDecide(m, e));
    assert.ok(new Set(ours).size >= 2, "probes should exercise more than one label");
    assert.deepEqual(gatewayDecisions("mlp", path.join(dir, "router.pt"), probes), ours);
  });
}

test("MF: gateway scoring of the exported .pt equals routerlab's on 1,000 probes", () => {
  const rng = createRng(3);
  const latent = 32;
  const m: MfWeights = {
    textDim: 384,
    latentDim: latent,
    P: new Float32Array(LABELS.length * latent).map(() => gauss(rng)),
    textProj: new Float32Array(latent * 384).map(() => gauss(rng) / 20),
    classifier: new Float32Array(latent).map(() => gauss(rng)),
    labels: LABELS,
  };
  const dir = path.join(tmp, "mf");
  writeBundleDir(dir, mfBundle(m), { kind: "mf" });
  const companion = JSON.parse(readFileSync(path.join(dir, "router.json"), "utf8")) as Record<
    string,
    unknown
  >;
  assert.equal(companion.text_dim, 384);
  assert.deepEqual(companion.idx_to_model, {
    "0": LABELS[0],
    "1": LABELS[1],
    "2": LABELS[2],
    "3": LABELS[3],
  });
  const ours = tsDecisions((e) => mfDecide(m, e));
  assert.ok(new Set(ours).size >= 2);
  assert.deepEqual(gatewayDecisions("mf", path.join(dir, "router.pt"), probes), ours);
});

test("binary threshold baked into the bias reproduces `P(strong) >= t` in the gateway", () => {
  for (const outDim of [1, 2]) {
    const raw = randMlp(createRng(20 + outDim), [16], "relu", outDim);
    const pStrong = (e: Float32Array) => {
      const z = mlpLogits({ ...raw, labels: outDim === 1 ? ["s"] : ["w", "s"] }, e);
      return 1 / (1 + Math.exp(-(outDim === 1 ? z[0]! : z[1]! - z[0]!)));
    };
    const ps = Array.from({ length: probes.rows }, (_, i) => pStrong(rowOf(probes, i))).sort((a, b) => a - b);
    const t = ps[Math.floor(ps.length * 0.6)]! + 1e-4; // a threshold inside the score range
    const expected = tsDecisions((e) => (pStrong(e) >= t ? "openai/gpt-4o" : "openai/gpt-4o-mini"));
    const baked = bakeBinaryThreshold(raw, {
      strong: "openai/gpt-4o",
      weak: "openai/gpt-4o-mini",
      threshold: t,
    });
    const dir = path.join(tmp, `bin-${outDim}`);
    writeBundleDir(dir, mlpBundle(baked), { kind: "mlp" });
    assert.ok(expected.includes("openai/gpt-4o") && expected.includes("openai/gpt-4o-mini"));
    assert.deepEqual(gatewayDecisions("mlp", path.join(dir, "router.pt"), probes), expected);
  }
});

test("ELO: json.load + max picks routerlab's label, ties to the first key in file order", () => {
  const ratings: [string, number][] = [
    ["openai/gpt-4o-mini", 1500],
    ["openai/gpt-4o", 1650.5],
    ["groq/llama-3.1-8b", 1650.5],
  ];
  const dir = path.join(tmp, "elo");
  writeBundleDir(dir, eloBundle(ratings), { kind: "elo" });
  const small = { data: probes.data.subarray(0, 384 * 3), rows: 3, dim: 384 };
  assert.deepEqual(
    gatewayDecisions("elo", path.join(dir, "elo.json"), small),
    Array(3).fill(eloDecide(ratings)),
  );
  assert.equal(eloDecide(ratings), "openai/gpt-4o");
  assert.throws(() => eloBundle([]), /empty/);
  assert.throws(() => eloBundle([["a", Number.NaN]]), /finite/);
});

test("manifests verify with Python `cryptography` the gateway's way; a flipped byte or wrong key is rejected", () => {
  const m: MlpWeights = { ...randMlp(createRng(5), [8], "relu", 2), labels: LABELS.slice(0, 2) };
  const seed = Buffer.alloc(32, 9);
  const key = ed25519PrivateKey(seed);
  const dir = path.join(tmp, "signed");
  writeBundleDir(dir, mlpBundle(m), {
    kind: "mlp",
    key: { type: "ed25519", key },
    description: "routerlab mlp – test",
  });
  const served = path.join(dir, "router.pt");
  const pub = publicKeyB64(key);
  assert.deepEqual(gatewayVerifyManifest(path.join(dir, "manifest.json"), served, { publicKeyB64: pub }), {
    ok: true,
    error: null,
  });
  const other = publicKeyB64(ed25519PrivateKey(Buffer.alloc(32, 1)));
  assert.equal(
    gatewayVerifyManifest(path.join(dir, "manifest.json"), served, { publicKeyB64: other }).ok,
    false,
  );
  const hdir = path.join(tmp, "hmac");
  writeBundleDir(hdir, mlpBundle(m), {
    kind: "mlp",
    key: { type: "hmac-sha256", secret: Buffer.from("s3cr3t") },
  });
  const hserved = path.join(hdir, "router.pt");
  assert.equal(
    gatewayVerifyManifest(path.join(hdir, "manifest.json"), hserved, { hmacSecret: "s3cr3t" }).ok,
    true,
  );
  assert.equal(
    gatewayVerifyManifest(path.join(hdir, "manifest.json"), hserved, { hmacSecret: "nope" }).ok,
    false,
  );
  const bytes = readFileSync(hserved);
  bytes[bytes.length - 30]! ^= 1;
  writeFileSync(hserved, bytes);
  assert.deepEqual(
    gatewayVerifyManifest(path.join(hdir, "manifest.json"), hserved, { hmacSecret: "s3cr3t" }),
    {
      ok: false,
      error: "SHA256 hash mismatch",
    },
  );
});
