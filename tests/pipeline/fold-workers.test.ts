import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledRouting } from "../../lib/data/bundled";
import { selectRows } from "../../lib/data/routing";
import { outOfFoldScores } from "../../lib/pipeline/binary";
import type { RouterSpec } from "../../lib/pipeline/config";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { createRng } from "../../lib/util/random";

test("MLP folds fitted in worker threads give the same out-of-fold scores as on the main thread", async () => {
  const data = selectRows(
    bundledRouting("gsm8k").data,
    Array.from({ length: 400 }, (_, i) => i),
  );
  const rng = createRng(3);
  const dim = 32;
  const X = { data: Float32Array.from({ length: 400 * dim }, () => rng.normal()), rows: 400, dim };
  const spec: RouterSpec = {
    name: "mlp",
    kind: "mlp",
    hyperparameters: { hiddenLayerSizes: [16], epochs: 4, patience: 2 },
  };
  const common = {
    spec,
    data,
    X,
    folds: 4,
    label: { rule: "strong_better" as const },
    embeddingSpec: { ...GATEWAY_EMBEDDING, dim, weightsSha256: "test" },
    seed: 5,
    useCache: false,
  };
  const main = await outOfFoldScores({ ...common, foldWorkers: 1 });
  const folds: number[] = [];
  const workers = await outOfFoldScores({ ...common, foldWorkers: 2, onFold: (f) => folds.push(f) });
  assert.deepEqual(folds, [0, 1, 2, 3]);
  assert.ok(main.scores.every(Number.isFinite));
  assert.deepEqual(Array.from(workers.scores), Array.from(main.scores));
  assert.ok(workers.fitSeconds > 0);
});
