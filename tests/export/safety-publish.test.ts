import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { mlpBundle } from "../../lib/export/artifacts";
import { buildManifest, verifyBundleDir, writeBundleDir } from "../../lib/export/bundle";
import type { MlpWeights } from "../../lib/export/gateway-scoring";
import { ed25519PrivateKey, ed25519PublicKey, manifestJson, publicKeyB64 } from "../../lib/export/manifest";
import { publishToDir } from "../../lib/export/publish-dir";
import {
  checkEmbeddingSpec,
  checkLabels,
  GatewayModelsSchema,
  loadGatewayModels,
} from "../../lib/export/safety";
import { projectRoot } from "../../lib/util/paths";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-safety-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tinyMlp(labels: string[], seed = 1): MlpWeights {
  const weight = new Float32Array(384 * labels.length).map((_, i) => Math.sin(i * seed));
  return {
    inputDim: 384,
    hiddenLayerSizes: [],
    activation: "relu",
    layers: [{ inDim: 384, outDim: labels.length, weight, bias: new Float32Array(labels.length) }],
    labels,
  };
}

test("labels must be exact litellm_params.model strings; substring matches warn", () => {
  const models = loadGatewayModels(path.join(projectRoot(), "configs", "gateway-models.yaml"));
  assert.deepEqual(
    checkLabels(["anthropic/claude-3-5-haiku-20241022", "groq/llama-3.1-8b-instant"], models, {
      group: "auto",
    }).warnings,
    [],
  );
  const w = checkLabels(["openai/gpt-4o", "openai/gpt-4o-mini"], models).warnings;
  assert.equal(w.length, 2);
  assert.match(w[0]!, /'openai\/gpt-4o' substring-matches deployment 'openai\/gpt-4o-mini'/);
  assert.match(w[1]!, /'openai\/gpt-4o-mini' substring-matches deployment 'openai\/gpt-4o'/);
  assert.throws(() => checkLabels(["gpt-4o"], models), /not exact litellm_params.model values.*"gpt-4o"/);
  assert.throws(() => checkLabels(["1"], models), /"1"/);
  assert.throws(
    () => checkLabels(["openai/gpt-4o"], models, { group: "premium" }),
    /no deployment has model_name 'premium'/,
  );
  const bad = path.join(tmp, "bad.yaml");
  writeFileSync(bad, "model_list:\n  - model_name: auto\n    litellm_params:\n      api_base: x\n");
  assert.throws(() => loadGatewayModels(bad), /bad\.yaml.*model_list\.0\.litellm_params\.model/);
  assert.equal(GatewayModelsSchema.safeParse({ model_list: [] }).success, false);
});

test("training embeddings that are not the gateway's are refused", () => {
  const spec = { ...GATEWAY_EMBEDDING, weightsSha256: "a".repeat(64) };
  checkEmbeddingSpec(spec, "router.json");
  assert.throws(() => checkEmbeddingSpec({ ...spec, dim: 768 }, "router.json"), /dim/);
  assert.throws(() => checkEmbeddingSpec({ ...spec, maxLength: 512 }, "router.json"), /maxLength/);
  assert.throws(() => checkEmbeddingSpec({ ...spec, normalize: false }, "router.json"), /normalize/);
  assert.throws(
    () => checkEmbeddingSpec({ ...spec, modelId: "BAAI/bge-small-en" }, "router.json"),
    /modelId/,
  );
  assert.throws(() => checkEmbeddingSpec(undefined, "router.json"), /no embedding spec/);
});

test("verify rejects a flipped byte, a wrong key, swapped entries and a shadowing entry order", () => {
  const key = ed25519PrivateKey(Buffer.alloc(32, 4));
  const dir = path.join(tmp, "bundle");
  writeBundleDir(dir, mlpBundle(tinyMlp(["a/x", "b/y"])), { kind: "mlp", key: { type: "ed25519", key } });
  const good = {
    key: { type: "ed25519" as const, key: ed25519PublicKey(Buffer.from(publicKeyB64(key), "base64")) },
  };
  assert.deepEqual(verifyBundleDir(dir, good).problems, []);
  assert.equal(verifyBundleDir(dir, good).signature, "verified");
  // key from the gateway's environment variable
  assert.equal(verifyBundleDir(dir, { env: { LLMROUTER_MODEL_PUBLIC_KEY_B64: publicKeyB64(key) } }).ok, true);
  assert.match(verifyBundleDir(dir, { env: {} }).problems.join(), /no key is set/);
  const wrong = ed25519PrivateKey(Buffer.alloc(32, 5));
  assert.match(
    verifyBundleDir(dir, { key: { type: "ed25519", key: wrong } }).problems.join(),
    /does not verify/,
  );

  const mPath = path.join(dir, "manifest.json");
  const original = readFileSync(mPath);
  const m = JSON.parse(original.toString("utf8")) as { artifacts: { path: string; sha256: string }[] };
  // swapped hashes (entries reordered against their files)
  const swapped = structuredClone(m);
  [swapped.artifacts[0]!.sha256, swapped.artifacts[1]!.sha256] = [
    m.artifacts[1]!.sha256,
    m.artifacts[0]!.sha256,
  ];
  writeFileSync(mPath, JSON.stringify(swapped));
  assert.match(verifyBundleDir(dir, good).problems.join(), /SHA256 hash mismatch/);
  // an entry placed first that shares the served file's basename shadows it in the gateway's lookup
  const shadow = structuredClone(m);
  shadow.artifacts.unshift({ path: "mf/router.pt", sha256: m.artifacts[0]!.sha256 });
  writeFileSync(mPath, JSON.stringify(shadow));
  assert.match(verifyBundleDir(dir, good).problems.join(), /basenames are not unique/);
  writeFileSync(mPath, original);
  // a flipped byte in each artifact
  for (const f of ["router.pt", "router.json"]) {
    const p = path.join(dir, f);
    const b = readFileSync(p);
    b[Math.floor(b.length / 2)]! ^= 0x10;
    writeFileSync(p, b);
    assert.match(
      verifyBundleDir(dir, good).problems.join(),
      new RegExp(`hash mismatch for ${f.replace(".", "\\.")}`),
    );
    b[Math.floor(b.length / 2)]! ^= 0x10;
    writeFileSync(p, b);
  }
  assert.equal(verifyBundleDir(dir, good).ok, true);
  // uppercase hex is refused (the gateway compares strings)
  const upper = structuredClone(m);
  upper.artifacts[0]!.sha256 = upper.artifacts[0]!.sha256.toUpperCase();
  writeFileSync(mPath, JSON.stringify(upper));
  assert.match(verifyBundleDir(dir, good).problems.join(), /lowercase hex/);
  writeFileSync(mPath, original);
});

test("publishToDir: manifest, companion, then served file by rename; mtime strictly newer; no temp files left", () => {
  const dir = path.join(tmp, "gateway");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const v1 = mlpBundle(tinyMlp(["a/x", "b/y"], 1));
  const r1 = publishToDir(dir, v1, manifestJson(buildManifest(v1, { kind: "mlp" })));
  assert.deepEqual(r1.order, ["manifest.json", "router.json", "router.pt"]);
  const served = path.join(dir, "router.pt");
  // An mtime in the future (clock skew, `cp -p` of a newer file) must still be beaten.
  const future = new Date(Date.now() + 3_600_000);
  utimesSync(served, future, future);
  const before = statSync(served).mtimeMs;
  const v2 = mlpBundle(tinyMlp(["a/x", "b/y"], 2));
  const r2 = publishToDir(dir, v2, manifestJson(buildManifest(v2, { kind: "mlp" })));
  assert.ok(r2.mtimeMs > before);
  assert.deepEqual(readFileSync(served), v2.find((f) => f.served)!.bytes);
  assert.equal(verifyBundleDir(dir).ok, true);
  assert.deepEqual(readdirSync(dir).sort(), ["manifest.json", "router.json", "router.pt"]);
  // the mtimes reflect the order: served file last
  const t = (f: string) => statSync(path.join(dir, f)).mtimeMs;
  assert.ok(t("manifest.json") <= t("router.json") && t("router.json") <= t("router.pt"));
});
