import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import type { Battles } from "../../lib/calibrate/bradley-terry";
import { battlesFromJudgements, battlesFromOutcomes, fitElo } from "../../lib/calibrate/bradley-terry";
import { bundledPaths, bundledRouting } from "../../lib/data/bundled";
import { loadMtBench } from "../../lib/data/routellm";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { exportRouterState } from "../../lib/export/export-router";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import { deriveTask } from "../../lib/routers/labels";
import { createRouter } from "../../lib/routers/registry";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";
import { mtBenchTrainConfig, runCli } from "./helpers";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-elo-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pythonRatings(bt: Battles): number[] {
  const r = spawnSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "bradley_terry_reference.py")],
    {
      input: JSON.stringify({
        models: bt.models,
        a: Array.from(bt.a),
        b: Array.from(bt.b),
        outcome: Array.from(bt.outcome),
      }),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { ratings: number[] }).ratings;
}

/** Battles drawn from known ratings, with ties. */
function synthetic(seed: number, K: number, N: number): Battles {
  const rng = createRng(seed);
  const truth = Array.from({ length: K }, () => 1000 + 200 * rng.normal());
  const a = new Int32Array(N);
  const b = new Int32Array(N);
  const y = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    a[i] = rng.int(K);
    do b[i] = rng.int(K);
    while (b[i] === a[i]);
    const p = 1 / (1 + 10 ** ((truth[b[i]!]! - truth[a[i]!]!) / 400));
    const u = rng.int(1_000_000) / 1_000_000;
    y[i] = u < 0.1 ? 0.5 : u < 0.1 + 0.9 * p ? 1 : 0;
  }
  return { models: Array.from({ length: K }, (_, k) => `model-${k}`), a, b, outcome: y };
}

function assertParity(bt: Battles, what: string): void {
  const ours = fitElo(bt).ratings;
  const ref = pythonRatings(bt);
  const worst = Math.max(...ref.map((r, k) => Math.abs(r - ours[k]!)));
  console.log(
    `# ${what}: ${bt.a.length} battles, ${bt.models.length} models, max |Δ| vs scikit-learn ${worst.toExponential(2)}`,
  );
  assert.ok(worst <= 1e-6, `${what}: max |rating difference| ${worst}`);
}

test("Bradley-Terry MLE equals the scikit-learn reference (LMSYS compute_mle_elo) within 1e-6", () => {
  const mt = loadMtBench(bundledPaths().mtBenchDir);
  assertParity(battlesFromJudgements(mt.judgements), "MT-Bench judgements");
  const llm = bundledRouting("llmrouter-train").data;
  assertParity(battlesFromOutcomes(llm.models, llm.quality), "llmrouter-train outcomes");
  assertParity(synthetic(3, 6, 3000), "synthetic, 10% ties");
});

test("properties: mean rating 1000, invariant to swapping sides and to reordering models", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 2, max: 6 }), (seed, K) => {
      const bt = synthetic(seed, K, 400);
      let fit: ReturnType<typeof fitElo>;
      try {
        fit = fitElo(bt);
      } catch (e) {
        // Small samples can leave a model unbeaten: then no MLE exists, and the error says so.
        assert.match((e as Error).message, /no maximum-likelihood rating exists/);
        return;
      }
      const mean = fit.ratings.reduce((s, v) => s + v, 0) / K;
      assert.ok(Math.abs(mean - 1000) < 1e-9);
      const swapped = fitElo({ ...bt, a: bt.b, b: bt.a, outcome: bt.outcome.map((y) => 1 - y) });
      swapped.ratings.forEach((r, k) => assert.ok(Math.abs(r - fit.ratings[k]!) < 1e-8));
      const perm = Array.from({ length: K }, (_, k) => K - 1 - k);
      const reordered = fitElo({
        models: perm.map((k) => bt.models[k]!),
        a: bt.a.map((k) => perm.indexOf(k)),
        b: bt.b.map((k) => perm.indexOf(k)),
        outcome: bt.outcome,
      });
      perm.forEach((k, i) => assert.ok(Math.abs(reordered.ratings[i]! - fit.ratings[k]!) < 1e-8));
    }),
    { numRuns: 40, seed: 17 },
  );
});

test("bootstrap intervals are seeded, contain the estimate; an unbeaten model has no MLE", () => {
  const bt = synthetic(5, 4, 1500);
  const a = fitElo(bt, { resamples: 200, seed: 1 });
  const b = fitElo(bt, { resamples: 200, seed: 1 });
  const c = fitElo(bt, { resamples: 200, seed: 2 });
  assert.deepEqual(a.intervals, b.intervals);
  assert.notDeepEqual(a.intervals!.lo, c.intervals!.lo);
  a.ratings.forEach((r, k) => assert.ok(a.intervals!.lo[k]! < r && r < a.intervals!.hi[k]!));
  const unbeaten: Battles = {
    models: ["x", "y", "z"],
    a: Int32Array.from([0, 0, 1, 2]),
    b: Int32Array.from([1, 2, 2, 1]),
    outcome: Float64Array.from([1, 1, 1, 1]),
  };
  assert.throws(() => fitElo(unbeaten), /'y', 'z' never score a point against 'x'/);
});

test("ELO router on llmrouter outcomes: export writes the gateway's JSON; Python json.load ranks identically and the gateway picks the top model", async () => {
  const data = bundledRouting("llmrouter-train").data;
  const task = deriveTask(data, { setting: "multi", label: { rule: "best" } });
  const dim = 384;
  const X = {
    data: new Float32Array(data.queryIds.length * dim).fill(1 / Math.sqrt(dim)),
    rows: data.queryIds.length,
    dim,
  };
  const router = createRouter("elo", { resamples: 50, seed: 3 });
  await router.fit({ X: X }, task);
  const out = path.join(tmp, "elo");
  const probes = { data: X.data.subarray(0, 1000 * dim), rows: 1000, dim };
  const res = await exportRouterState(router.state(), {
    outDir: out,
    evalX: probes,
    gatewayModels: {
      model_list: data.models.map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
    },
    embeddingSpec: { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) },
  });
  assert.equal(res.kind, "elo");
  const served = path.join(out, res.served);
  const py = spawnSync(
    venvPython(),
    [
      "-c",
      "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(sorted(d, key=lambda k: -d[k])))",
      served,
    ],
    { encoding: "utf8" },
  );
  assert.equal(py.status, 0, py.stderr);
  const state = router.state();
  const ratings = state.meta.ratings as Record<string, number>;
  const ours = [...data.models].sort((x, y) => ratings[y]! - ratings[x]!);
  assert.deepEqual(JSON.parse(py.stdout), ours);
  const file = JSON.parse(readFileSync(served, "utf8")) as Record<string, number>;
  assert.deepEqual(Object.keys(file), data.models, "file order = the task's model order (the tie order)");
  Object.values(file).forEach((v) => assert.ok(Number.isFinite(v)));
  assert.deepEqual(gatewayDecisions("elo", served, probes), router.predict({ X: probes }));
  const iv = state.meta.intervals as { lo: Record<string, number>; hi: Record<string, number> };
  for (const m of data.models) assert.ok(iv.lo[m]! <= ratings[m]! && ratings[m]! <= iv.hi[m]!);
});

test("routerlab train (kind elo, bundled MT-Bench) + routerlab export produce the gateway's ELO JSON", () => {
  const cfg = mtBenchTrainConfig(tmp, "elo-mt", "{ kind: elo, hyperparameters: { resamples: 100 } }");
  const tr = runCli(["train", "--config", cfg]);
  assert.equal(tr.status, 0, tr.stdout + tr.stderr);
  const probes = path.join(tmp, "probes.f32");
  const rng = createRng(9);
  writeFileSync(probes, Buffer.from(Float32Array.from({ length: 50 * 384 }, () => rng.normal()).buffer));
  const out = path.join(tmp, "elo-bundle");
  const ex = runCli([
    "export",
    path.join(tmp, "models", "elo-mt.router.json"),
    "--out",
    out,
    "--eval",
    probes,
    "--gateway-models",
    path.join(projectRoot(), "configs", "export-routellm-models.yaml"),
  ]);
  assert.equal(ex.status, 0, ex.stdout + ex.stderr);
  assert.match(ex.stdout, /ROUTEIQ_ROUTING_STRATEGY=llmrouter-elo/);
  const file = JSON.parse(readFileSync(path.join(out, "router.json"), "utf8")) as Record<string, number>;
  // GPT-4 wins most MT-Bench judgements against Mixtral.
  assert.ok(file["gpt-4-1106-preview"]! > file["mistralai/Mixtral-8x7B-Instruct-v0.1"]!);
});
