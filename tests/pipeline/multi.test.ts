import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledRouting } from "../../lib/data/bundled";
import { dropLeakedTestRows } from "../../lib/data/split";
import { defaultMainJobConfig } from "../../lib/pipeline/config";
import { embedAll } from "../../lib/pipeline/main-job";
import { compareMultiRouters } from "../../lib/pipeline/multi";
import { multiReportHtml } from "../../lib/pipeline/multi-report";

// The main job's multi-model comparison on the full bundled LLMRouter data (the cached embeddings the main job
// uses; models fitted, not loaded from the model cache): every learned router of the default config beats the
// Zero router's AIQ, and the table shows each router's AIQ with its bootstrap interval.
test("multi-model: every learned router of the default config beats the Zero router on LLMRouter", async () => {
  const config = defaultMainJobConfig();
  const train = bundledRouting("llmrouter-train").data;
  const test = dropLeakedTestRows(train, bundledRouting("llmrouter-test").data);
  const e = await embedAll([train, test], config.embedding.precision);
  const m = await compareMultiRouters({
    train,
    test,
    Xtrain: e.matrices.get(train)!,
    Xtest: e.matrices.get(test)!,
    specs: config.multi.routers,
    lambdas: config.multi.lambdas,
    embeddingSpec: e.spec,
    seed: config.seed,
    useCache: false,
    bootstrapResamples: 200,
  });
  assert.ok(m.routers.length >= 3, "the default config compares the learned routers");
  const z = m.zeroAiqInterval;
  assert.ok(z.lo <= m.zeroAiq && m.zeroAiq <= z.hi, "the Zero router's AIQ lies in its interval");
  for (const r of m.routers) {
    assert.ok(r.aiq > m.zeroAiq, `${r.router}: AIQ ${r.aiq} does not beat the Zero router's ${m.zeroAiq}`);
    const iv = r.aiqInterval;
    assert.ok(iv.lo <= r.aiq && r.aiq <= iv.hi, `${r.router}: AIQ outside its interval`);
    assert.ok(iv.diffLo < iv.diffHi && iv.diffHi > 0, `${r.router}: paired difference interval`);
  }
  const html = multiReportHtml(m);
  for (const r of [{ router: "Zero router", aiqInterval: z }, ...m.routers]) {
    const cell = `[${r.aiqInterval.lo.toFixed(4)}, ${r.aiqInterval.hi.toFixed(4)}]`;
    assert.ok(html.includes(cell), `${r.router}: interval ${cell} in the report table`);
  }
});
