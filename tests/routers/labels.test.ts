import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RouterlabError } from "../../lib/util/errors";
import { checkTraining } from "../../lib/routers/checks";
import { deriveTask, RoutingSettingSchema } from "../../lib/routers/labels";
import { routingData } from "./helpers";

const models = ["a", "b", "c"];

describe("labels: multi-model", () => {
  it("best: highest quality, ties to lower cost, then model order; NaN quality skipped", () => {
    const d = routingData(
      models,
      [
        [0.2, 0.9, 0.5],
        [1, 1, 0],
        [1, 1, 1],
        [NaN, 0, 0],
        [0.5, 0.5, NaN],
      ],
      [
        [1, 2, 3],
        [5, 2, 1],
        [1, 1, 1],
        [1, 3, 2],
        [NaN, 4, 1],
      ],
    );
    const t = deriveTask(d, RoutingSettingSchema.parse({ setting: "multi" }));
    assert.equal(t.kind, "multi");
    assert.deepEqual(Array.from(t.labels), [1, 1, 0, 2, 1]);
  });

  it("wtp: maximises lambda*quality - cost", () => {
    const d = routingData(models, [[0.5, 0.9, 1.0]], [[0.0, 0.2, 1.0]]);
    const low = deriveTask(
      d,
      RoutingSettingSchema.parse({ setting: "multi", label: { rule: "wtp", lambda: 0.1 } }),
    );
    const high = deriveTask(
      d,
      RoutingSettingSchema.parse({ setting: "multi", label: { rule: "wtp", lambda: 100 } }),
    );
    assert.deepEqual(Array.from(low.labels), [0]);
    assert.deepEqual(Array.from(high.labels), [2]);
  });

  it("subset of models keeps the given order and the quality sub-matrix", () => {
    const d = routingData(models, [[0.1, 0.2, 0.3]]);
    const t = deriveTask(d, RoutingSettingSchema.parse({ setting: "multi", models: ["c", "a"] }));
    assert.deepEqual(t.models, ["c", "a"]);
    assert.deepEqual(Array.from(t.quality!), [0.3, 0.1]);
    assert.deepEqual(Array.from(t.labels), [0]);
  });

  it("unknown model names and rows without any outcome are clear errors", () => {
    const d = routingData(models, [[NaN, NaN, NaN]]);
    assert.throws(
      () => deriveTask(d, RoutingSettingSchema.parse({ setting: "multi", models: ["a", "zz"] })),
      (e: unknown) => e instanceof RouterlabError && /unknown model 'zz'/.test(e.message),
    );
    assert.throws(
      () => deriveTask(d, RoutingSettingSchema.parse({ setting: "multi" })),
      /no model has an observed quality/,
    );
    assert.throws(
      () => deriveTask(routingData(models, []), RoutingSettingSchema.parse({ setting: "multi" })),
      /empty/,
    );
  });
});

describe("labels: binary strong/weak", () => {
  const d = routingData(
    ["weak", "x", "strong"],
    [
      [0, 0, 1],
      [1, 0, 1],
      [0, 0, 0],
      [1, 0, 0],
      [0.2, 0, 0.9],
    ],
  );
  const labelsFor = (label: unknown): number[] =>
    Array.from(
      deriveTask(d, RoutingSettingSchema.parse({ setting: "binary", weak: "weak", strong: "strong", label }))
        .labels,
    );

  it("default strong_better", () => {
    const t = deriveTask(
      d,
      RoutingSettingSchema.parse({ setting: "binary", weak: "weak", strong: "strong" }),
    );
    assert.deepEqual(t.models, ["weak", "strong"]);
    assert.deepEqual(Array.from(t.labels), [1, 0, 0, 0, 1]);
  });
  it("strong_correct_and_weak_wrong, weak_wrong, quality_gap", () => {
    assert.deepEqual(labelsFor({ rule: "strong_correct_and_weak_wrong" }), [1, 0, 0, 0, 1]);
    assert.deepEqual(labelsFor({ rule: "weak_wrong" }), [1, 0, 1, 0, 1]);
    assert.deepEqual(labelsFor({ rule: "quality_gap", gap: 0.8 }), [1, 0, 0, 0, 0]);
  });
  it("missing outcome is an error naming the query", () => {
    const bad = routingData(["weak", "strong"], [[NaN, 1]]);
    assert.throws(
      () =>
        deriveTask(bad, RoutingSettingSchema.parse({ setting: "binary", weak: "weak", strong: "strong" })),
      /query q0.*missing quality for 'weak'/,
    );
  });
});

describe("checks: checkTraining", () => {
  const task = deriveTask(
    routingData(
      ["w", "s"],
      [
        [0, 1],
        [1, 0],
      ],
    ),
    RoutingSettingSchema.parse({ setting: "binary", weak: "w", strong: "s" }),
  );
  it("accepts a valid pair", () => {
    checkTraining({ X: { data: new Float32Array([1, 0, 0, 1]), rows: 2, dim: 2 } }, task);
  });
  it("rejects NaN, row mismatch, empty set and a single class", () => {
    assert.throws(
      () => checkTraining({ X: { data: new Float32Array([1, NaN, 0, 1]), rows: 2, dim: 2 } }, task),
      /non-finite value NaN at row 0, column 1/,
    );
    assert.throws(
      () => checkTraining({ X: { data: new Float32Array([1, 0, 0, 1, 1, 1]), rows: 3, dim: 2 } }, task),
      /3 embedding rows but 2 labels/,
    );
    assert.throws(() => checkTraining({ X: { data: new Float32Array([]), rows: 0, dim: 2 } }, task), /empty/);
    const single = { ...task, labels: new Int32Array([1, 1]) };
    assert.throws(
      () => checkTraining({ X: { data: new Float32Array([1, 0, 0, 1]), rows: 2, dim: 2 } }, single),
      /single class \('s'\)/,
    );
  });
});
