import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { battlesFromOutcomes, fitElo } from "../../lib/calibrate/bradley-terry";
import { bundledRouting } from "../../lib/data/bundled";
import { routerEntry } from "../../lib/routers/registry";
import { deriveTask } from "../../lib/routers/labels";
import { SwRankingRouter } from "../../lib/routers/sw-ranking";
import type { Queries, RoutingTask } from "../../lib/routers/types";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";
import { clustered, mtBenchTrainConfig, runCli } from "./helpers";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-swrank-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DIM = 24;

function rows(X: { data: Float32Array; rows: number; dim: number }, from: number, to: number): number[][] {
  return Array.from({ length: to - from }, (_, i) =>
    Array.from(X.data.subarray((from + i) * X.dim, (from + i + 1) * X.dim)),
  );
}

function pythonRatings(train: Queries, task: RoutingTask, queries: Queries, base: number) {
  const bt = battlesFromOutcomes(task.models, task.quality!);
  const r = spawnSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "sw_ranking_reference.py")],
    {
      input: JSON.stringify({
        models: task.models,
        train: rows(train.X, 0, train.X.rows),
        queries: rows(queries.X, 0, queries.X.rows),
        base,
        a: Array.from(bt.a),
        b: Array.from(bt.b),
        outcome: Array.from(bt.outcome),
        query: Array.from(bt.query!),
      }),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { ratings: number[][]; strong_win: number[] };
}

/** Clustered embeddings; quality: in odd clusters model 1 (strong) is favoured, elsewhere model 0. */
function task(
  setting: "binary" | "multi",
  n: number,
  seed: number,
  gaps = false,
): { q: Queries; task: RoutingTask } {
  const models = setting === "binary" ? ["weak", "strong"] : ["m0", "m1", "m2"];
  const M = models.length;
  const { X, labels: cluster } = clustered(n, DIM, 4, 2, seed, 0.6);
  const rng = createRng(seed + 7);
  const quality = new Float64Array(n * M);
  for (let i = 0; i < n; i++)
    for (let m = 0; m < M; m++) {
      const favoured = cluster[i] === 1 ? 1 : 0;
      const p = m === favoured ? 0.8 : 0.35;
      quality[i * M + m] = gaps && m === 2 && rng.next() < 0.3 ? NaN : rng.next() < p ? 1 : 0;
    }
  const labels = Int32Array.from(cluster);
  const t: RoutingTask =
    setting === "binary"
      ? { kind: "binary", models: ["weak", "strong"], labels, quality }
      : { kind: "multi", models, labels, quality };
  return { q: { X }, task: t };
}

async function assertParity(train: Queries, t: RoutingTask, probe: Queries, base: number, what: string) {
  const router = new SwRankingRouter({ base });
  await router.fit(train, t);
  const ours = router.ratings(probe);
  const ref = pythonRatings(train, t, probe, base);
  const M = t.models.length;
  let worst = 0;
  ref.ratings.forEach((r, q) =>
    r.forEach((v, m) => (worst = Math.max(worst, Math.abs(v - ours[q * M + m]!)))),
  );
  console.log(`# ${what}: ${probe.X.rows} queries, max |rating Δ| vs numpy/scipy ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-6, `${what}: max |rating difference| ${worst}`);
  const s = router.score(probe);
  // A rating difference of 1e-6 moves a win probability by at most ln(10)/1600 * 1e-6.
  if (s.strongProbability)
    ref.strong_win.forEach((p, q) =>
      assert.ok(Math.abs(p - s.strongProbability![q]!) < 2e-9, `${what}: P(strong)`),
    );
}

test("sw-ranking ratings equal the numpy/scipy reference of the same definition within 1e-6", async () => {
  const bin = task("binary", 300, 3);
  const probe = { X: clustered(25, DIM, 4, 2, 99, 0.6).X };
  await assertParity(bin.q, bin.task, probe, 10, "binary, base 10");
  await assertParity(bin.q, bin.task, probe, 1000, "binary, base 1000");
  const multi = task("multi", 300, 5, true);
  await assertParity(multi.q, multi.task, probe, 10, "3 models with missing outcomes, base 10");
  // Real outcomes: the bundled MT-Bench judgements (GPT-4 vs Mixtral), with seeded embeddings per question.
  const mt = bundledRouting("mt-bench").data;
  const mtTask = deriveTask(mt, {
    setting: "binary",
    weak: mt.models[0]!,
    strong: mt.models[1]!,
    label: { rule: "strong_better" },
  });
  const mtX = clustered(mt.queryIds.length, DIM, 5, 2, 12, 0.8).X;
  await assertParity({ X: mtX }, mtTask, probe, 10, "MT-Bench judgements");
});

test("properties: a zero query or base-free similarity gives the plain ELO fit; ratings ignore the query's norm", async () => {
  const { q, task: t } = task("multi", 200, 8, true);
  const router = new SwRankingRouter();
  await router.fit(q, t);
  const plain = fitElo(battlesFromOutcomes(t.models, t.quality!)).ratings;
  const zero = router.ratings({ X: { data: new Float32Array(DIM), rows: 1, dim: DIM } });
  plain.forEach((r, m) => assert.ok(Math.abs(r - zero[m]!) < 1e-9));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: -6, max: 6 }), (seed, e) => {
      // Powers of two scale float32 values exactly, so every cosine is unchanged.
      const k = 2 ** e;
      const x = clustered(1, DIM, 4, 2, seed, 0.6).X;
      const scaled = { ...x, data: x.data.map((v) => v * k) };
      const a = router.ratings({ X: x });
      const b = router.ratings({ X: scaled });
      a.forEach((v, m) => assert.ok(Math.abs(v - b[m]!) < 1e-6));
      assert.ok(Math.abs(a.reduce((s, v) => s + v, 0) / a.length - 1000) < 1e-9);
    }),
    { numRuns: 20, seed: 4 },
  );
});

test("sw-ranking follows local preferences that a global ELO cannot see", async () => {
  const all = task("binary", 600, 21);
  const slice = (from: number, to: number) => ({
    q: { X: { data: all.q.X.data.slice(from * DIM, to * DIM), rows: to - from, dim: DIM } },
    task: {
      ...all.task,
      labels: all.task.labels.slice(from, to),
      quality: all.task.quality!.slice(from * 2, to * 2),
    } as RoutingTask,
  });
  const train = slice(0, 400);
  const test_ = slice(400, 600);
  const sw = new SwRankingRouter({ base: 1e4 });
  await sw.fit(train.q, train.task);
  const chosen = sw.predict(test_.q);
  const acc =
    chosen.filter((m, i) => (m === "strong" ? 1 : 0) === test_.task.labels[i]).length / chosen.length;
  const elo = routerEntry("elo").create({ resamples: 0 });
  await elo.fit(train.q, train.task);
  const eloChosen = await elo.predict(test_.q);
  const eloAcc =
    eloChosen.filter((m, i) => (m === "strong" ? 1 : 0) === test_.task.labels[i]).length / eloChosen.length;
  console.log(
    `# agreement with the cluster's favoured model: sw-ranking ${acc.toFixed(3)}, ELO ${eloAcc.toFixed(3)}`,
  );
  assert.ok(acc > 0.85, `sw-ranking agreement ${acc}`);
  assert.ok(acc > eloAcc + 0.2);
});

test("routerlab train (kind sw-ranking, bundled MT-Bench) saves a model that reloads; export refuses with the reason", () => {
  const cfg = mtBenchTrainConfig(tmp, "sw-mt", "{ kind: sw-ranking }");
  const tr = runCli(["train", "--config", cfg]);
  assert.equal(tr.status, 0, tr.stdout + tr.stderr);
  const model = path.join(tmp, "models", "sw-mt.router.json");
  const probes = path.join(tmp, "probes.f32");
  const rng = createRng(9);
  writeFileSync(probes, Buffer.from(Float32Array.from({ length: 5 * 384 }, () => rng.normal()).buffer));
  const ex = runCli(["export", model, "--out", path.join(tmp, "sw-bundle"), "--eval", probes]);
  assert.notEqual(ex.status, 0);
  assert.match(ex.stdout + ex.stderr, /no per-query rating path/);
});
