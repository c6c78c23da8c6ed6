/**
 * The router contract, checked over every registered kind (scikit-learn's check_estimator is the model): a kind
 * gets these tests by registering. Per kind and per routing setting it learns: fit/score/predict shapes,
 * determinism for a fixed seed, a byte-identical state round trip that scores alike, RouterlabErrors on bad
 * input, and, where the entry declares a gateway format, an export whose files the gateway's own loader
 * (python/steps/gateway_load_check.py) decides with exactly as routerlab does.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { exportRouterState } from "../../lib/export/export-router";
import { exportFormat } from "../../lib/export/formats";
import { gatewayDecisions } from "../../lib/export/gateway-check";
import type { GatewayModels } from "../../lib/export/safety";
import type { OracleRouter } from "../../lib/routers/baselines";
import { saveRouterState, withTrainingData } from "../../lib/routers/model-file";
import { loadRouter, routerEntries } from "../../lib/routers/registry";
import type { RegisteredRouter } from "../../lib/routers/registry";
import type { Queries, Router, RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { venvPython } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";
import { clustered } from "./helpers";

const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-contract-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DIM = GATEWAY_EMBEDDING.dim;
const WEAK = "openai/gpt-4o-mini";
const STRONG = "anthropic/claude-3-5-haiku-20241022";
const THIRD = "groq/llama-3.1-8b-instant";
const GATEWAY: GatewayModels = {
  model_list: [WEAK, STRONG, THIRD].map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
};
const SPEC = { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) };

/**
 * Hyperparameters beyond the defaults, only where the defaults cannot run here: a required field, or a training
 * length that would make the suite slow. A new kind whose defaults work needs no line.
 */
const SMALL: Record<string, (task: RoutingTask) => Record<string, unknown>> = {
  mlp: () => ({ hiddenLayerSizes: [8], epochs: 3 }),
  mf: () => ({ epochs: 2 }),
  knn: () => ({ k: 5 }),
  // each fit and score is a torch process: two short epochs on short texts
  encoder: () => ({ epochs: 2, maxLength: 32 }),
  "single-model": (task) => ({ model: task.models[1] }),
};

/** Per-query preparation some kinds need before scoring (the oracle routes with the true outcomes). */
const PREPARE: Record<string, (r: Router, task: RoutingTask) => void> = {
  oracle: (r, task) => void (r as OracleRouter).withOutcomes(task),
};

const SUBJECTS = ["algebra", "biology", "history"];
const WORDS = ["What is", "Compute", "Explain why", "How many", "Name the"];

/** Seeded clustered queries with texts and groups; labels from the clusters; quality/cost for every model. */
function sample(setting: "binary" | "multi", n: number, seed: number): { q: Queries; task: RoutingTask } {
  const models = setting === "binary" ? [WEAK, STRONG] : [WEAK, STRONG, THIRD];
  const { X, labels } = clustered(n, DIM, 6, models.length, seed, 0.4);
  const rng = createRng(seed + 1);
  const texts = Array.from(labels, (l, i) => {
    const nums = l === 1 ? ` ${rng.int(1000)} + ${rng.int(1000)} * ${rng.int(50)}` : "";
    return `${WORDS[i % WORDS.length]} item ${i}${nums}?`;
  });
  const groups = Array.from(labels, (l, i) => SUBJECTS[(l + (i % 7 === 0 ? 1 : 0)) % SUBJECTS.length]!);
  const M = models.length;
  const quality = new Float64Array(n * M);
  const cost = new Float64Array(n * M);
  for (let i = 0; i < n; i++)
    for (let m = 0; m < M; m++) {
      quality[i * M + m] = labels[i] === m ? 1 : 0.2 * rng.next();
      cost[i * M + m] = (m + 1) * 1e-4;
    }
  const task: RoutingTask =
    setting === "binary"
      ? { kind: "binary", models: [WEAK, STRONG], labels, quality, cost }
      : { kind: "multi", models, labels, quality, cost };
  return { q: { X, texts, groups }, task };
}

function hyper(entry: RegisteredRouter, task: RoutingTask, seed?: number): Record<string, unknown> {
  const hp = SMALL[entry.kind]?.(task) ?? {};
  return entry.seeded && seed !== undefined ? { ...hp, seed } : hp;
}

async function fitted(
  entry: RegisteredRouter,
  q: Queries,
  task: RoutingTask,
  seed?: number,
): Promise<Router> {
  const r = entry.create(hyper(entry, task, seed));
  await r.fit(q, task);
  PREPARE[entry.kind]?.(r, task);
  return r;
}

/** Saved model file bytes; `untimed` is the JSON without wall-clock fields (epoch `seconds`), which no seed fixes. */
function savedBytes(r: Router, name: string) {
  const p = saveRouterState(r.state(), path.join(tmp, name));
  const json = readFileSync(p.json, "utf8").replaceAll(name, "NAME");
  return {
    p,
    json,
    untimed: json.replace(/"seconds": [0-9.e+-]+/g, '"seconds": 0'),
    bin: readFileSync(p.bin),
  };
}

const isRouterlabError = (re: RegExp) => (e: unknown) => e instanceof RouterlabError && re.test(e.message);

let counter = 0;

for (const entry of routerEntries()) {
  describe(`router contract: ${entry.kind}`, () => {
    for (const setting of entry.settings) {
      const train = sample(setting, 160, 11);
      const test = sample(setting, 40, 12);
      const M = train.task.models.length;

      it(`${setting}: fit, then score and predict have one row per query over the task's models`, async () => {
        const r = await fitted(entry, train.q, train.task, 3);
        PREPARE[entry.kind]?.(r, test.task);
        const s = await r.score(test.q);
        assert.deepEqual([...s.models], [...train.task.models]);
        assert.equal(s.perModel.length, 40 * M);
        assert.ok(s.perModel.every(Number.isFinite), "finite per-model scores");
        if (setting === "binary") {
          assert.equal(s.strongProbability?.length, 40);
          assert.ok(
            s.strongProbability!.every((p) => p >= 0 && p <= 1),
            "P(strong) in [0, 1]",
          );
        }
        const pred = await r.predict(test.q);
        assert.equal(pred.length, 40);
        assert.ok(pred.every((m) => train.task.models.includes(m)));
      });

      it(`${setting}: the same seed and data give byte-identical state (timings aside)`, async () => {
        const a = await fitted(entry, train.q, train.task, 5);
        const b = await fitted(entry, train.q, train.task, 5);
        const n = ++counter;
        const sa = savedBytes(a, `det-a-${n}`);
        const sb = savedBytes(b, `det-b-${n}`);
        assert.equal(sa.untimed, sb.untimed);
        assert.deepEqual(sa.bin, sb.bin);
      });

      it(`${setting}: saved state loads into a router that scores alike and saves the same bytes`, async () => {
        const r = await fitted(entry, train.q, train.task, 3);
        const n = ++counter;
        const first = savedBytes(r, `rt-${n}`);
        const back = loadRouter(first.p.json);
        const again = savedBytes(back, `rt-${n}`);
        assert.equal(again.json, first.json);
        assert.deepEqual(again.bin, first.bin);
        PREPARE[entry.kind]?.(r, test.task);
        PREPARE[entry.kind]?.(back, test.task);
        assert.deepEqual(await back.score(test.q), await r.score(test.q));
        assert.deepEqual(await back.predict(test.q), await r.predict(test.q));
      });

      it(`${setting}: bad input is a RouterlabError`, async () => {
        const unfitted = entry.create(hyper(entry, train.task));
        await assert.rejects(async () => unfitted.score(test.q), isRouterlabError(/not fitted/));
        const nan = train.q.X.data.slice();
        nan[7] = NaN;
        await assert.rejects(
          entry
            .create(hyper(entry, train.task))
            .fit({ ...train.q, X: { ...train.q.X, data: nan } }, train.task),
          isRouterlabError(/non-finite value NaN at row 0, column 7/),
        );
        await assert.rejects(
          entry
            .create(hyper(entry, train.task))
            .fit(train.q, { ...train.task, labels: train.task.labels.slice(1) }),
          isRouterlabError(/160 embedding rows but 159 labels/),
        );
        if (entry.readsTexts)
          await assert.rejects(
            entry.create(hyper(entry, train.task)).fit({ X: train.q.X }, train.task),
            isRouterlabError(/reads the query texts/),
          );
        const r = await fitted(entry, train.q, train.task, 3);
        const narrow = { ...test.q, X: { data: new Float32Array(40 * 8), rows: 40, dim: 8 } };
        await assert.rejects(async () => r.score(narrow), isRouterlabError(/dimension mismatch: got 8/));
      });
    }

    for (const setting of ["binary", "multi"] as const) {
      if (entry.settings.includes(setting)) continue;
      it(`${setting}: a ${setting} task is refused before training`, async () => {
        const s = sample(setting, 60, 13);
        await assert.rejects(entry.create(hyper(entry, s.task)).fit(s.q, s.task), RouterlabError);
      });
    }

    if (entry.gatewayFormat === null) {
      it("declares why it has no gateway export", () => assert.ok(entry.notServableReason.length > 0));
      return;
    }
    const format = exportFormat(entry.gatewayFormat);
    it(`exports as ${format.id}; the gateway's loader decides like routerlab`, async () => {
      const setting = entry.settings.includes("binary") ? "binary" : "multi";
      const train = sample(setting, 160, 21);
      const probes = sample(setting, 60, 22).q;
      const r = await fitted(entry, train.q, train.task, 3);
      const state = entry.keepsTrainingRows
        ? withTrainingData(r.state(), train.q.X, train.task.labels)
        : r.state();
      const out = path.join(tmp, `export-${entry.kind}`);
      process.env.ROUTERLAB_EXPORT_PYTHON = venvPython();
      try {
        const res = await exportRouterState(state, {
          outDir: out,
          evalX: probes.X,
          gatewayModels: GATEWAY,
          embeddingSpec: SPEC,
        });
        assert.deepEqual(res.files.slice().sort(), format.writes("router").sort());
        assert.equal(res.kind, format.gatewayKind);
        assert.deepEqual(
          gatewayDecisions(format.gatewayKind, path.join(out, res.served), probes.X),
          await r.predict(probes),
        );
      } finally {
        delete process.env.ROUTERLAB_EXPORT_PYTHON;
      }
    });
  });
}

describe("router contract: the registry", () => {
  it("every declared gateway format exists", () => {
    for (const e of routerEntries()) if (e.gatewayFormat !== null) assert.ok(exportFormat(e.gatewayFormat));
  });
});
