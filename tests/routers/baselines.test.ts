import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { OracleRouter } from "../../lib/routers/baselines";
import { deriveTask, RoutingSettingSchema } from "../../lib/routers/labels";
import { saveRouterState } from "../../lib/routers/model-file";
import { createRouter, loadRouter } from "../../lib/routers/registry";
import { clustered, routingData } from "./helpers";

const dir = mkdtempSync(path.join(tmpdir(), "routerlab-bl-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const n = 400;
const { X } = clustered(n, 8, 4, 2, 3);
const quality = Array.from({ length: n }, (_, i) => [i % 3 === 0 ? 1 : 0, i % 2 === 0 ? 1 : 0, 0.5]);
const cost = Array.from({ length: n }, () => [0.1, 1, 0.5]);
const data = routingData(["weak", "strong", "mid"], quality, cost);
const binary = deriveTask(
  data,
  RoutingSettingSchema.parse({ setting: "binary", weak: "weak", strong: "strong" }),
);
const multi = deriveTask(data, RoutingSettingSchema.parse({ setting: "multi" }));

describe("baselines", () => {
  it("always-weak / always-strong in both settings", async () => {
    const w = createRouter("always-weak");
    await w.fit({ X }, binary);
    assert.deepEqual(new Set(await w.predict({ X })), new Set(["weak"]));
    const s = createRouter("always-strong");
    await s.fit({ X }, multi);
    // mean quality: weak 0.335, strong 0.5, mid 0.5 -> first of the best (strong)
    assert.deepEqual(new Set(await s.predict({ X })), new Set(["strong"]));
    const w2 = createRouter("always-weak");
    await w2.fit({ X }, multi);
    assert.deepEqual(new Set(await w2.predict({ X })), new Set(["weak"]));
  });

  it("random: seeded, reproducible, strong share close to the requested one", async () => {
    const r = createRouter("random", { seed: 7, strongShare: 0.3 });
    await r.fit({ X }, binary);
    const a = await r.predict({ X });
    const b = await r.predict({ X });
    assert.deepEqual(a, b);
    const share = a.filter((m) => m === "strong").length / n;
    assert.ok(Math.abs(share - 0.3) < 0.07, `share ${share}`);
    const r2 = createRouter("random", { seed: 8, strongShare: 0.3 });
    await r2.fit({ X }, binary);
    assert.notDeepEqual(await r2.predict({ X }), a);
    const p = (await r.score({ X })).strongProbability!;
    a.forEach((m, i) => assert.equal(m === "strong", p[i]! > 0.7));
  });

  it("single-model: unknown model is an error before training", async () => {
    const r = createRouter("single-model", { model: "mid" });
    await r.fit({ X }, multi);
    assert.deepEqual(new Set(await r.predict({ X })), new Set(["mid"]));
    await assert.rejects(
      createRouter("single-model", { model: "nope" }).fit({ X }, multi),
      /unknown model 'nope'/,
    );
    assert.throws(() => createRouter("single-model", {}), /field 'model'/);
  });

  it("oracle: reproduces the true labels", async () => {
    const o = createRouter("oracle") as OracleRouter;
    await o.fit({ X }, multi);
    await assert.rejects(async () => await o.predict({ X }), /withOutcomes/);
    const pred = await o.withOutcomes(multi).predict({ X });
    assert.deepEqual(
      pred,
      Array.from(multi.labels, (l) => multi.models[l]),
    );
  });

  it("save and load through the registry gives the same decisions", async () => {
    const r = createRouter("random", { seed: 11, strongShare: 0.6 });
    await r.fit({ X }, binary);
    saveRouterState(r.state(), path.join(dir, "rnd"));
    const back = loadRouter(path.join(dir, "rnd.router.json"));
    assert.deepEqual(await back.predict({ X }), await r.predict({ X }));
    await assert.rejects(
      async () => await back.predict({ X: { data: new Float32Array(4), rows: 1, dim: 4 } }),
      /dimension mismatch: got 4, the router was fitted on 8/,
    );
  });
});
