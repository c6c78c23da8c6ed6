import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { exportRouterState, gatewayEnv } from "../../lib/export/export-router";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import type { GatewayModels } from "../../lib/export/safety";
import { trainingDataOf, withTrainingData } from "../../lib/routers/model-file";
import { createRouter } from "../../lib/routers/registry";
import { RouterlabError } from "../../lib/util/errors";
import { venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-export-router-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const WEAK = "openai/gpt-4o-mini";
const STRONG = "anthropic/claude-3-5-haiku-20241022";
const GATEWAY: GatewayModels = {
  model_list: [WEAK, STRONG, "groq/llama-3.1-8b-instant"].map((m) => ({
    model_name: "auto",
    litellm_params: { model: m },
  })),
};
const SPEC = { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) };

/** Unit-norm rows; label 1 (strong) when a fixed direction's projection is high, with noise. */
function data(seed: number, rows: number): { X: EmbeddingMatrix; y: Int32Array } {
  const rng = createRng(seed);
  const dim = 384;
  const data = new Float32Array(rows * dim);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < dim; j++) n += (data[r * dim + j] = rng.normal()) ** 2;
    n = Math.sqrt(n);
    for (let j = 0; j < dim; j++) data[r * dim + j]! /= n;
    y[r] = data[r * dim]! + data[r * dim + 1]! + 0.05 * rng.normal() > 0 ? 1 : 0;
  }
  return { X: { data, rows, dim }, y };
}

const train = data(1, 600);
const evalSet = data(2, 1000);

test("a trained binary MLP (threshold 0.3 baked in) exports; the gateway's torch load decides like routerlab on 1,000 queries", async () => {
  const r = createRouter("mlp", {
    hiddenLayerSizes: [16],
    epochs: 30,
    learningRate: 0.01,
    threshold: 0.3,
    validationFraction: 0,
  });
  await r.fit({ X: train.X }, { kind: "binary", models: [WEAK, STRONG], labels: train.y });
  const out = path.join(tmp, "mlp");
  const res = await exportRouterState(r.state(), {
    outDir: out,
    evalX: evalSet.X,
    gatewayModels: GATEWAY,
    embeddingSpec: SPEC,
  });
  assert.equal(res.kind, "mlp");
  assert.equal(res.agreement.equal, 1000);
  const ours = await r.predict({ X: evalSet.X });
  assert.ok(new Set(ours).size === 2);
  assert.deepEqual(gatewayDecisions("mlp", path.join(out, res.served), evalSet.X), ours);
  assert.ok(
    gatewayEnv("mlp", "/app/models/router.pt", "/app/models/manifest.json", false).includes(
      "ROUTEIQ_ROUTING_STRATEGY=llmrouter-mlp",
    ),
  );
});

test("a trained KNN exports through the pinned scikit-learn step; pickle.load + predict decides like routerlab", async () => {
  process.env.ROUTERLAB_EXPORT_PYTHON = venvPython();
  try {
    const r = createRouter("knn", { k: 5, weights: "distance" });
    await r.fit({ X: train.X }, { kind: "binary", models: [WEAK, STRONG], labels: train.y });
    const out = path.join(tmp, "knn");
    const res = await exportRouterState(r.state(), {
      outDir: out,
      evalX: evalSet.X,
      gatewayModels: GATEWAY,
      embeddingSpec: SPEC,
    });
    assert.equal(res.served, "router.pkl");
    assert.deepEqual(
      gatewayDecisions("knn", path.join(out, "router.pkl"), evalSet.X),
      await r.predict({ X: evalSet.X }),
    );
  } finally {
    delete process.env.ROUTERLAB_EXPORT_PYTHON;
  }
});

test("unsafe exports are refused before any file is written", async () => {
  const r = createRouter("mlp", { hiddenLayerSizes: [], epochs: 1, validationFraction: 0 });
  await r.fit({ X: train.X }, { kind: "binary", models: ["gpt-4o-mini", STRONG], labels: train.y });
  const out = path.join(tmp, "refused");
  const base = { outDir: out, evalX: evalSet.X, gatewayModels: GATEWAY };
  await assert.rejects(
    () => exportRouterState(r.state(), { ...base, embeddingSpec: SPEC }),
    /not exact litellm_params.model.*"gpt-4o-mini"/,
  );
  await assert.rejects(
    () => exportRouterState(r.state(), { ...base, embeddingSpec: { ...SPEC, maxLength: 512 } }),
    /maxLength/,
  );
  await assert.rejects(
    () => exportRouterState(r.state(), { ...base, embeddingSpec: undefined }),
    /no embedding spec/,
  );
  assert.equal(existsSync(out), false);
});

test("the spec recorded in the model file is used; an SVM without training rows names both ways to supply them", async () => {
  const svm = createRouter("svm", { kernel: "rbf", C: 1 });
  await svm.fit({ X: train.X }, { kind: "binary", models: [WEAK, STRONG], labels: train.y });
  const out = path.join(tmp, "svm-no-rows");
  const state = svm.state();
  // meta.embedding stands in for --embedding-spec: the export gets past the spec check to the SVM's data check
  await assert.rejects(
    () =>
      exportRouterState(
        { ...state, meta: { ...state.meta, embedding: SPEC } },
        { outDir: out, evalX: evalSet.X, gatewayModels: GATEWAY },
      ),
    (e: unknown) => {
      assert.ok(e instanceof RouterlabError);
      assert.match(e.message, /SVM export needs the training rows.*keeps none/);
      assert.match(e.hint ?? "", /routerlab train.*--train <embeddings\.f32> --train-labels <labels\.json>/);
      return true;
    },
  );
  // a malformed recorded spec is an error naming the field, not silently "unknown"
  await assert.rejects(
    () =>
      exportRouterState(
        { ...state, meta: { ...state.meta, embedding: { ...SPEC, dim: "384" } } },
        { outDir: out, evalX: evalSet.X, gatewayModels: GATEWAY },
      ),
    /invalid embedding spec/,
  );
  // training rows kept in the state (as routerlab train does for SVMs) are found
  const kept = withTrainingData(state, train.X, train.y);
  assert.deepEqual(
    trainingDataOf(kept)?.labels.slice(0, 5),
    Array.from(train.y.slice(0, 5), (v) => [WEAK, STRONG][v]),
  );
  assert.equal(existsSync(out), false);
});

test("a malformed state is refused by its export format with the field named", async () => {
  const r = createRouter("mlp", { hiddenLayerSizes: [], epochs: 1, validationFraction: 0 });
  await r.fit({ X: train.X }, { kind: "binary", models: [WEAK, STRONG], labels: train.y });
  const state = r.state();
  await assert.rejects(
    () =>
      exportRouterState(
        { ...state, meta: { ...state.meta, input_dim: "384" } },
        { outDir: path.join(tmp, "bad-meta"), evalX: evalSet.X, gatewayModels: GATEWAY, embeddingSpec: SPEC },
      ),
    (e: unknown) => e instanceof RouterlabError && /\$\.meta\.input_dim/.test(e.message),
  );
  await assert.rejects(
    () =>
      exportRouterState(
        { ...state, kind: "random" },
        {
          outDir: path.join(tmp, "not-servable"),
          evalX: evalSet.X,
          gatewayModels: GATEWAY,
          embeddingSpec: SPEC,
        },
      ),
    /router kind 'random' has no gateway export: a baseline/,
  );
});
