import assert from "node:assert/strict";
import { test } from "node:test";
import { selectAreas } from "../../bench/select";

const AREAS = ["knn.", "export.", "export.formats.", "eval.", "eval.encoder_", "mlp."].map((prefix) => ({
  prefix,
}));
const names = (wanted: string[]): string[] => selectAreas(AREAS, wanted).map((a) => a.prefix);

test("bench area selection: a prefix selects the areas below it, a longer name only its closest area", () => {
  assert.deepEqual(
    names([]),
    AREAS.map((a) => a.prefix),
  );
  assert.deepEqual(names(["export."]), ["export.", "export.formats."]);
  assert.deepEqual(names(["export.formats."]), ["export.formats."]);
  assert.deepEqual(names(["eval.encoder_"]), ["eval.encoder_"]);
  assert.deepEqual(names(["eval.encoder_gsm8k_train_seconds"]), ["eval.encoder_"]);
  assert.deepEqual(names(["mlp.train_20ep_seconds", "knn."]), ["knn.", "mlp."]);
  assert.deepEqual(names(["e"]), ["export.", "export.formats.", "eval.", "eval.encoder_"]);
  assert.deepEqual(names(["svm."]), []);
});
