import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import YAML from "yaml";
import { loadRouter } from "../../lib/routers/registry";
import { projectRoot } from "../../lib/util/paths";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-mlp-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// configs/mlp.yaml trains the main job's multi-model design (the per-model quality head, not the best-label softmax
// classifier): `routerlab train` on a sample of it saves a quality-head MLP over the nine LLMRouter models.
test("routerlab train --config configs/mlp.yaml (sampled) trains the per-model quality head of the main job", () => {
  const base = YAML.parse(readFileSync(path.join(projectRoot(), "configs", "mlp.yaml"), "utf8")) as {
    data: Record<string, unknown>;
    router: { kind: string; hyperparameters: Record<string, unknown> };
  };
  const cfg = path.join(tmp, "mlp.yaml");
  writeFileSync(
    cfg,
    YAML.stringify({
      ...base,
      data: { ...base.data, maxTrain: 400, maxTest: 150 },
      router: { ...base.router, hyperparameters: { ...base.router.hyperparameters, epochs: 3 } },
      output: { dir: path.join(tmp, "models"), name: "mlp-sample" },
      tracking: { enabled: false },
    }),
  );
  const tr = spawnSync(
    process.execPath,
    [path.join(projectRoot(), "bin", "routerlab.js"), "train", "--config", cfg],
    {
      encoding: "utf8",
      maxBuffer: 1 << 26,
      timeout: 600_000,
    },
  );
  assert.equal(tr.status, 0, tr.stdout + tr.stderr);
  const state = loadRouter(path.join(tmp, "models", "mlp-sample.router.json")).state();
  assert.equal(state.kind, "mlp");
  assert.equal(state.meta.setting, "multi");
  assert.equal(state.meta.head, "quality", "the per-model quality head, as in the main job");
  assert.equal((state.meta.taskModels as string[]).length, 9);
});
