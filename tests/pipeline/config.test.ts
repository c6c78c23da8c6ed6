import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { MainJobConfigSchema, defaultMainJobConfig } from "../../lib/pipeline/config";
import { loadYamlConfig, parseYamlConfig } from "../../lib/util/config";
import { projectRoot } from "../../lib/util/paths";

test("configs/main.yaml spells out exactly the embedded defaults", () => {
  const file = loadYamlConfig(path.join(projectRoot(), "configs", "main.yaml"), MainJobConfigSchema);
  assert.deepEqual(file, defaultMainJobConfig());
});

test("a bad main-job config names the file, line and field", () => {
  assert.throws(
    () => parseYamlConfig("seed: 1\nbinary:\n  folds: 1\n", "main.yaml", MainJobConfigSchema),
    /main\.yaml:3 field 'binary\.folds'/,
  );
  assert.throws(() => parseYamlConfig("sample: many\n", "main.yaml", MainJobConfigSchema), /field 'sample'/);
});
