import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import YAML from "yaml";
import type { IrtBatch, IrtParams } from "../../lib/routers/irt";
import { IrtRouter, irtLossAndGradient } from "../../lib/routers/irt";
import { loadRouter } from "../../lib/routers/registry";
import type { RoutingTask } from "../../lib/routers/types";
import { projectRoot } from "../../lib/util/paths";
import type { Rng } from "../../lib/util/random";
import { createRng } from "../../lib/util/random";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-irt-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TENSORS = ["ability", "V", "W", "h"] as const;

function randomParams(M: number, K: number, D: number, rng: Rng): IrtParams {
  const draw = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
  return {
    numModels: M,
    latentDim: K,
    textDim: D,
    ability: draw(M),
    V: draw(M * K),
    W: draw(K * D),
    h: draw(D),
  };
}

/** Rows x M soft outcomes in [0, 1] with about `missing` of them NaN, and at least one observed. */
function randomBatch(rows: number, M: number, D: number, rng: Rng, missing: number): IrtBatch {
  const x = Float64Array.from({ length: rows * D }, () => rng.normal() * 0.5);
  const y = Float64Array.from({ length: rows * M }, () =>
    rng.next() < missing ? NaN : rng.next() < 0.5 ? Math.round(rng.next()) : rng.next(),
  );
  y[0] = 1;
  return { x, y, rows };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The loss from its definition, term by term: mean over observed (q, m) of −y·log p − (1 − y)·log(1 − p). */
function definitionLoss(p: IrtParams, b: IrtBatch): number {
  const { numModels: M, latentDim: K, textDim: D } = p;
  let sum = 0;
  let count = 0;
  for (let r = 0; r < b.rows; r++) {
    const x = Array.from(b.x.subarray(r * D, (r + 1) * D));
    const proj = Array.from({ length: K }, (_, k) => x.reduce((s, v, d) => s + p.W[k * D + d]! * v, 0));
    const difficulty = x.reduce((s, v, d) => s + p.h[d]! * v, 0);
    for (let m = 0; m < M; m++) {
      const y = b.y[r * M + m]!;
      if (Number.isNaN(y)) continue;
      const z = p.ability[m]! + proj.reduce((s, v, k) => s + p.V[m * K + k]! * v, 0) - difficulty;
      const prob = sigmoid(z);
      sum += -y * Math.log(prob) - (1 - y) * Math.log(1 - prob);
      count++;
    }
  }
  return sum / count;
}

test("irt loss: the mean cross-entropy of the observed answers (missing ones masked), as defined", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 6 }), (seed, rows) => {
      const rng = createRng(seed);
      const p = randomParams(3, 2, 5, rng);
      const b = randomBatch(rows, 3, 5, rng, 0.3);
      const got = irtLossAndGradient(p, b).loss;
      assert.ok(Math.abs(got - definitionLoss(p, b)) < 1e-9, `${got} vs ${definitionLoss(p, b)}`);
    }),
    { numRuns: 50 },
  );
});

test("irt gradient: equals central finite differences of the loss (1e-6) for every parameter", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 2, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      (seed, M, K, D, rows) => {
        const rng = createRng(seed);
        const p = randomParams(M, K, D, rng);
        const b = randomBatch(rows, M, D, rng, 0.3);
        const grad = randomParams(M, K, D, rng); // overwritten
        irtLossAndGradient(p, b, grad);
        const eps = 1e-6;
        for (const name of TENSORS) {
          for (let i = 0; i < p[name].length; i++) {
            const keep = p[name][i]!;
            p[name][i] = keep + eps;
            const up = irtLossAndGradient(p, b).loss;
            p[name][i] = keep - eps;
            const down = irtLossAndGradient(p, b).loss;
            p[name][i] = keep;
            const numeric = (up - down) / (2 * eps);
            assert.ok(
              Math.abs(numeric - grad[name][i]!) < 1e-6,
              `${name}[${i}]: analytic ${grad[name][i]} vs numeric ${numeric}`,
            );
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});

/**
 * Answers drawn from a known IRT model on D-dimensional unit queries: true abilities, a rank-1 interaction and a
 * linear difficulty; a fifth of the answers missing.
 */
function irtData(n: number, seed: number) {
  const M = 4;
  const D = 16;
  const truth = createRng(99);
  const ability = [1.5, 0.5, 0, -1];
  const h = Array.from({ length: D }, () => truth.normal() * 1.2);
  const u = Array.from({ length: D }, () => truth.normal() * 0.6);
  const v = [1, -1, 0.5, 0];
  const rng = createRng(seed);
  const X = new Float32Array(n * D);
  const quality = new Float64Array(n * M);
  const trueLogit = new Float64Array(n * M);
  const difficulty = new Float64Array(n);
  for (let q = 0; q < n; q++) {
    const e = Array.from({ length: D }, () => rng.normal());
    const norm = Math.hypot(...e);
    e.forEach((x, d) => (X[q * D + d] = x / norm));
    const xq = Array.from(X.subarray(q * D, (q + 1) * D));
    difficulty[q] = xq.reduce((s, x, d) => s + h[d]! * x, 0);
    const inter = xq.reduce((s, x, d) => s + u[d]! * x, 0);
    for (let m = 0; m < M; m++) {
      const z = ability[m]! + v[m]! * inter - difficulty[q]!;
      trueLogit[q * M + m] = z;
      quality[q * M + m] = rng.next() < 0.2 ? NaN : rng.next() < sigmoid(z) ? 1 : 0;
    }
  }
  const labels = Int32Array.from({ length: n }, (_, q) => {
    let best = 0;
    for (let m = 1; m < M; m++) if (trueLogit[q * M + m]! > trueLogit[q * M + best]!) best = m;
    return best;
  });
  const task: RoutingTask = { kind: "multi", models: ["a", "b", "c", "d"], labels, quality };
  return { X: { data: X, rows: n, dim: D }, task, trueLogit, difficulty };
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

test("irt: on answers drawn from an IRT model it recovers the per-answer probabilities of unseen queries", async () => {
  const train = irtData(3000, 1);
  const test_ = irtData(600, 2);
  const r = new IrtRouter({ latentDim: 4, epochs: 60, learningRate: 0.01, weightDecay: 0, seed: 3 });
  await r.fit({ X: train.X }, train.task);
  const p = r.probabilities(test_.X);
  const logits = Array.from(p, (v) => Math.log(v / (1 - v)));
  const rho = pearson(logits, test_.trueLogit);
  // the per-query level, from the model's predictions alone: mean over models of the predicted logit
  const level = Float64Array.from(
    { length: 600 },
    (_, q) => logits.slice(q * 4, q * 4 + 4).reduce((s, v) => s + v) / 4,
  );
  const rhoDifficulty = pearson(level, test_.difficulty);
  console.log(
    `# unseen queries: logit correlation ${rho.toFixed(3)}, level vs -difficulty ${rhoDifficulty.toFixed(3)}`,
  );
  assert.ok(rho > 0.9, `predicted vs true logits on unseen queries: ${rho}`);
  assert.ok(rhoDifficulty < -0.9, `per-query level vs true difficulty: ${rhoDifficulty}`);
  // the difficulty head itself (the model vectors could in principle carry a shared part of it: correlation, not
  // equality)
  const rhoHead = pearson(r.difficulty(test_.X), test_.difficulty);
  assert.ok(rhoHead > 0.9, `difficulty head vs true difficulty on unseen queries: ${rhoHead}`);
  assert.ok(r.history.length > 1 && r.history.at(-1)!.loss < r.history[0]!.loss, "training lowers the loss");
});

test("irt: the same seed gives the same bytes; another seed gives other weights; binary tasks are refused", async () => {
  const d = irtData(400, 5);
  const fit = async (seed: number) => {
    const r = new IrtRouter({ epochs: 3, seed });
    await r.fit({ X: d.X }, d.task);
    return r.state();
  };
  const [a, b, c] = [await fit(7), await fit(7), await fit(8)];
  for (const name of TENSORS) {
    assert.deepEqual(
      Buffer.from(a.tensors[name]!.data.buffer),
      Buffer.from(b.tensors[name]!.data.buffer),
      name,
    );
    assert.notDeepEqual(a.tensors[name]!.data, c.tensors[name]!.data, name);
  }
  const untimed = (s: typeof a) => JSON.stringify(s.meta).replace(/"seconds":[0-9.e+-]+/g, "");
  assert.equal(untimed(a), untimed(b));
  const binary: RoutingTask = {
    kind: "binary",
    models: ["weak", "strong"],
    labels: Int32Array.from({ length: 400 }, (_, i) => i % 2),
    quality: new Float64Array(800).fill(1),
  };
  await assert.rejects(new IrtRouter().fit({ X: d.X }, binary), /multi-model setting only/);
  const bad = { ...d.task, quality: d.task.quality!.map((y, i) => (i === 9 ? 2 : y)) };
  await assert.rejects(
    new IrtRouter().fit({ X: d.X }, bad),
    /quality 2 at row 2, model 'b' is outside \[0, 1\]/,
  );
});

test("routerlab train --config configs/irt.yaml (sampled) saves a model that reloads; export refuses with the reason", () => {
  const base = YAML.parse(readFileSync(path.join(projectRoot(), "configs", "irt.yaml"), "utf8")) as {
    data: Record<string, unknown>;
    router: { hyperparameters: Record<string, unknown> };
  };
  const cfg = path.join(tmp, "irt.yaml");
  const config = {
    ...base,
    data: { ...base.data, maxTrain: 600, maxTest: 200 },
    router: { ...base.router, hyperparameters: { ...base.router.hyperparameters, epochs: 5 } },
    output: { dir: path.join(tmp, "models"), name: "irt-sample" },
    tracking: { enabled: false },
  };
  writeFileSync(cfg, YAML.stringify(config));
  const run = (args: string[]) =>
    spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
      timeout: 600_000,
    });
  const tr = run(["train", "--config", cfg]);
  assert.equal(tr.status, 0, tr.stdout + tr.stderr);
  const model = path.join(tmp, "models", "irt-sample.router.json");
  const back = loadRouter(model);
  assert.equal(back.kind, "irt");
  const state = back.state();
  assert.deepEqual(state.tensors["V"]!.shape, [9, 32]);
  assert.equal((state.meta.history as unknown[]).length, 5);
  const probes = path.join(tmp, "probes.f32");
  const rng = createRng(9);
  writeFileSync(probes, Buffer.from(Float32Array.from({ length: 5 * 384 }, () => rng.normal()).buffer));
  const ex = run(["export", model, "--out", path.join(tmp, "irt-bundle"), "--eval", probes]);
  assert.notEqual(ex.status, 0);
  assert.match(ex.stdout + ex.stderr, /no IRT strategy/);
});
