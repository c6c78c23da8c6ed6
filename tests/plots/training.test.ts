import assert from "node:assert/strict";
import { test } from "node:test";
import { trainingFigures } from "../../lib/plots/training";

const epoch = (n: number, val: number | null) => ({
  epoch: n,
  loss: 1 / n,
  accuracy: 0.5 + n / 10,
  val_loss: val,
  val_accuracy: val === null ? null : 1 - val,
  seconds: 0.1,
});

test("trainingFigures: loss and accuracy curves (validation when recorded) and the test decisions", () => {
  const figs = trainingFigures([epoch(1, 0.9), epoch(2, 0.7), epoch(3, null)], {
    "test_share.weak": 0.6,
    "test_share.strong": 0.4,
    test_rows: 100,
  });
  assert.deepEqual(
    figs.map((f) => (f.layout.title as { text: string }).text),
    ["Learning curve: loss", "Learning curve: accuracy", "Per-model decisions on the test split"],
  );
  assert.deepEqual(
    figs[0]!.data.map((t) => t.name),
    ["train loss", "validation loss"],
  );
  assert.deepEqual(figs[0]!.data[1]!.y, [0.9, 0.7, Number.NaN]);
  assert.deepEqual(
    figs[1]!.data[0]!.y,
    [1, 2, 3].map((n) => 0.5 + n / 10),
  );
  assert.deepEqual(figs[2]!.data[0]!.x, ["weak", "strong"]);
  assert.deepEqual(figs[2]!.data[0]!.y, [0.6, 0.4]);
});

test("trainingFigures: no epochs (KNN, SVM) gives the decisions only; no validation gives one curve each", () => {
  assert.equal(trainingFigures([], { "test_share.a": 1 }).length, 1);
  assert.deepEqual(trainingFigures([], { test_rows: 5 }), []);
  const noVal = trainingFigures([epoch(1, null)], {});
  assert.deepEqual(
    noVal.map((f) => f.data.length),
    [1, 1],
  );
});
