import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ed25519PrivateKey, publicKeyB64 } from "../../lib/export/manifest";
import { readAudit, storeFromEnv } from "../../lib/export/s3-store";
import { loadRouterState, saveRouterState } from "../../lib/routers/model-file";
import { MlflowClient } from "../../lib/tracking/client";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { testServices } from "../support/services";

/**
 * The real `routerlab` CLI, end to end against the suite's S3 and MLflow servers: train (a small MMLU sample) →
 * embed 1,000 evaluation queries → export → verify → promote → sync into a gateway directory → promote a second
 * version → rollback → the gateway directory holds the exact earlier bytes, the audit log and aliases say so.
 */
const svc = testServices();
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-cli-e2e-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const seed = Buffer.alloc(32, 7);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
  // The project's .venv has the gateway's scikit-learn 1.8.0 / numpy 2.4.1 (the step checks); provisioning the
  // step's own venv is tested in sklearn-venv.test.ts.
  ROUTERLAB_EXPORT_PYTHON: venvPython(),
  ROUTERLAB_SIGNING_KEY_ED25519: seed.toString("base64"),
  LLMROUTER_MODEL_PUBLIC_KEY_B64: publicKeyB64(ed25519PrivateKey(seed)),
  ROUTERLAB_USER: "e2e-tester",
};
const models = path.join(projectRoot(), "configs", "export-routellm-models.yaml");
const prefix = `cli-e2e-${randomBytes(3).toString("hex")}`;
const router = `cli-${randomBytes(3).toString("hex")}`;

function cli(args: string[], opts: { fail?: boolean; extraEnv?: NodeJS.ProcessEnv } = {}): string {
  const p = spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    env: { ...env, ...opts.extraEnv },
    encoding: "utf8",
    maxBuffer: 1 << 26,
    timeout: 600_000,
  });
  const out = p.stdout + p.stderr;
  if (opts.fail) {
    assert.notEqual(p.status, 0, `expected 'routerlab ${args[0]}' to fail:\n${out}`);
    return p.stderr;
  }
  assert.equal(p.status, 0, `routerlab ${args.join(" ")} failed:\n${out}`);
  return p.stdout;
}

function trainConfig(name: string, kind: string, hp: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "data: { dataset: mmlu, maxTrain: 300, maxTest: 100 }",
      "routing: { setting: binary, weak: mistralai/Mixtral-8x7B-Instruct-v0.1, strong: gpt-4-1106-preview }",
      `router: { kind: ${kind}, hyperparameters: ${JSON.stringify(hp)} }`,
      "seed: 1",
      `output: { dir: ${JSON.stringify(path.join(tmp, "models"))}, name: ${name} }`,
      "",
    ].join("\n"),
  );
  return file;
}

const bytes = (dir: string, f: string): Buffer => readFileSync(path.join(dir, f));

describe("routerlab CLI: train → export → promote → sync → promote → rollback", () => {
  const evalF32 = path.join(tmp, "eval.f32");
  const modelA = path.join(tmp, "models", "knn-a.router.json");
  const bundleA = path.join(tmp, "bundle-a");
  const bundleB = path.join(tmp, "bundle-b");
  const gw = path.join(tmp, "gateway");

  it("trains two KNN routers that record their embedding spec, and embeds 1,000 evaluation queries", () => {
    cli(["train", "--config", trainConfig("knn-a", "knn", { k: 5 })]);
    cli(["train", "--config", trainConfig("knn-b", "knn", { k: 15, weights: "distance" })]);
    const spec = loadRouterState(modelA).meta.embedding as Record<string, unknown>;
    assert.equal(spec.modelId, "sentence-transformers/all-MiniLM-L6-v2");
    assert.equal(spec.precision, "fp32");
    cli([
      "embed",
      "mmlu",
      "--config",
      path.join(projectRoot(), "configs", "embed.yaml"),
      "--limit",
      "1000",
      "--out",
      evalF32,
    ]);
    assert.equal(readFileSync(evalF32).length, 1000 * 384 * 4);
  });

  it("exports with the recorded spec (no --embedding-spec), 1000/1000 decisions equal, signed; verify accepts it", () => {
    const common = ["--eval", evalF32, "--gateway-models", models, "--group", "auto"];
    const out = cli(["export", modelA, "--out", bundleA, ...common]);
    assert.match(out, /decisions: 1000\/1000 evaluation queries equal routerlab's/);
    assert.match(out, /ed25519 signed/);
    assert.match(out, /LLMROUTER_ALLOW_PICKLE_MODELS=true/);
    cli(["export", path.join(tmp, "models", "knn-b.router.json"), "--out", bundleB, ...common]);
    assert.match(cli(["verify", bundleA, "--require-signature"]), /^ok: router\.pkl.*signature: verified/m);
  });

  it("refuses a router without an embedding spec unless --embedding-spec gives one", () => {
    const st = loadRouterState(modelA);
    const spec = st.meta.embedding;
    const bare = path.join(tmp, "models", "bare");
    saveRouterState({ ...st, meta: { ...st.meta, embedding: undefined } }, bare);
    const common = ["--eval", evalF32, "--gateway-models", models, "--group", "auto"];
    const err = cli(["export", `${bare}.router.json`, "--out", path.join(tmp, "bare-out"), ...common], {
      fail: true,
    });
    assert.match(err, /records no embedding spec/);
    assert.equal(existsSync(path.join(tmp, "bare-out", "manifest.json")), false);
    const specFile = path.join(tmp, "spec.json");
    writeFileSync(specFile, JSON.stringify(spec));
    cli([
      "export",
      `${bare}.router.json`,
      "--out",
      path.join(tmp, "bare-out"),
      "--embedding-spec",
      specFile,
      ...common,
    ]);
    writeFileSync(specFile, JSON.stringify({ ...(spec as object), maxLength: 512 }));
    const bad = cli(
      ["export", modelA, "--out", path.join(tmp, "bad"), "--embedding-spec", specFile, ...common],
      { fail: true },
    );
    assert.match(bad, /maxLength is 512, the gateway uses 256/);
  });

  it("promotes, syncs, promotes again, rolls back: the gateway directory holds the exact earlier bytes", async () => {
    const s3 = ["--bucket", svc.s3.bucket, "--prefix", prefix];
    const p1 = cli([
      "promote",
      bundleA,
      "--router",
      router,
      ...s3,
      "--why",
      "first",
      "--mlflow",
      svc.mlflowUri,
    ]);
    assert.match(p1, /previous: none/);
    assert.match(p1, new RegExp(`LLMROUTER_MODEL_S3_KEY=${prefix}/models/${router}/current/`));
    assert.match(p1, /ROUTEIQ_ROUTING_STRATEGY=llmrouter-knn/);
    assert.match(p1, /LLMROUTER_MODEL_PATH=\S+\/router\.pkl/);
    const v1 = /promoted \S+ (\S+)/.exec(p1)![1]!;
    mkdirSync(gw);
    const sync = ["sync", "--router", router, ...s3, "--gateway-dir", gw, "--once", "--require-signature"];
    assert.match(cli(sync), new RegExp(`installed ${router} ${v1}`));
    for (const f of ["router.pkl", "manifest.json"]) assert.deepEqual(bytes(gw, f), bytes(bundleA, f), f);
    assert.match(cli(["verify", gw, "--require-signature"]), /^ok:/m);

    const p2 = cli([
      "promote",
      bundleB,
      "--router",
      router,
      ...s3,
      "--why",
      "k=15",
      "--mlflow",
      svc.mlflowUri,
    ]);
    const v2 = /promoted \S+ (\S+)/.exec(p2)![1]!;
    assert.match(p2, new RegExp(`previous: ${v1}`));
    cli(sync);
    assert.deepEqual(bytes(gw, "router.pkl"), bytes(bundleB, "router.pkl"));

    const rb = cli(["rollback", "--router", router, ...s3, "--why", "regression", "--mlflow", svc.mlflowUri]);
    assert.match(rb, new RegExp(`${v2} → ${v1}`));
    assert.match(cli(sync), new RegExp(`installed ${router} ${v1}`));
    for (const f of ["router.pkl", "manifest.json"]) assert.deepEqual(bytes(gw, f), bytes(bundleA, f), f);

    const st = storeFromEnv(svc.s3.bucket, prefix, env);
    try {
      const audit = await readAudit(st, router);
      assert.deepEqual(
        audit.map((a) => [a.action, a.from, a.to, a.why, a.who]),
        [
          ["promote", null, v1, "first", "e2e-tester"],
          ["promote", v1, v2, "k=15", "e2e-tester"],
          ["rollback", v2, v1, "regression", "e2e-tester"],
        ],
      );
    } finally {
      st.s3.destroy();
    }
    const mlflow = new MlflowClient(svc.mlflowUri);
    const champion = await mlflow.getModelVersionByAlias(router, "champion");
    const previous = await mlflow.getModelVersionByAlias(router, "previous");
    assert.match(champion.source ?? "", new RegExp(`${v1}/?$`));
    assert.match(previous.source ?? "", new RegExp(`${v2}/?$`));
  });

  it("verify rejects a flipped byte in the installed artifact", () => {
    const f = path.join(gw, "router.pkl");
    const b = readFileSync(f);
    b[b.length >> 1]! ^= 0x01;
    writeFileSync(f, b);
    assert.match(cli(["verify", gw], { fail: true }), /verification failed/);
  });

  it("exports an SVM from the model file alone (routerlab train keeps its training rows)", () => {
    cli(["train", "--config", trainConfig("svm-a", "svm", { kernel: "rbf", C: 1 })]);
    const out = cli([
      "export",
      path.join(tmp, "models", "svm-a.router.json"),
      "--out",
      path.join(tmp, "bundle-svm"),
      "--eval",
      evalF32,
      "--gateway-models",
      models,
    ]);
    assert.match(out, /exported svm router/);
    assert.match(out, /decisions: 1000\/1000/);
  });
});
