import assert from "node:assert/strict";
import { it } from "node:test";
import { StepTimer, timingTable } from "../../lib/pipeline/timing";

it("step timer: consecutive wall-clock steps, and a table with shares and the unaccounted rest", async () => {
  const t = new StepTimer();
  await new Promise((r) => setTimeout(r, 30));
  t.mark("first");
  t.mark("second", [{ name: "knn fit (sum over folds)", seconds: 1.5 }]);
  assert.deepEqual(
    t.steps.map((s) => s.step),
    ["first", "second"],
  );
  assert.ok(t.steps[0]!.seconds >= 0.025, `first took ${t.steps[0]!.seconds}`);
  assert.ok(t.steps[1]!.seconds < 0.025);
  const table = timingTable(
    [
      { step: "embedding", seconds: 30 },
      { step: "mmlu", seconds: 10, parts: [{ name: "mlp fit", seconds: 4 }] },
    ],
    50,
  );
  assert.match(table, /embedding +30\.0 s +60%/);
  assert.match(table, /mmlu +10\.0 s +20%/);
  assert.match(table, /\n {4}mlp fit +4\.0 s/);
  assert.match(table, /other +10\.0 s +20%/);
});
