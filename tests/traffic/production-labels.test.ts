/**
 * Labels from production answers against the real sim server through the real client: the served answer is judged,
 * optionally against one counterfactual from the other tier (both orders, position bias cancelled); the basis is
 * recorded per row; the spend ledger matches the per-row costs; a re-run is served from the response cache.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, describe, it } from "node:test";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig } from "../../lib/llm/config";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { labelProductionRows, tierLookup } from "../../lib/traffic/production-labels";
import type { ProductionRow } from "../../lib/traffic/production-labels";
import {
  removeTmpDirs,
  SIM_MODELS,
  simpleqaRows,
  startSim,
  tmpDir,
  writeModelsFile,
} from "../oracle/support";

const servers: RunningSimServer[] = [];
after(async () => {
  for (const s of servers.splice(0)) await s.close();
  removeTmpDirs();
});

/** 10 questions per (served tier x correct/wrong), 2 spans without the answer, 1 served by an unknown model. */
function productionRows(): { rows: ProductionRow[]; truth: Map<string, { tier: string; correct: boolean }> } {
  const qa = simpleqaRows().slice(0, 43);
  const rows: ProductionRow[] = [];
  const truth = new Map<string, { tier: string; correct: boolean }>();
  qa.forEach((r, i) => {
    const id = `trace${i}/span${i}`;
    const tier = i % 2 === 0 ? "weak" : "strong";
    const correct = Math.floor(i / 2) % 2 === 0;
    const servedModel = i === 42 ? "someone-else" : tier === "weak" ? "sim-weak-2026-01-01" : "sim-strong";
    const response =
      i >= 40 && i < 42
        ? null
        : correct
          ? `The answer is ${r.answer}.`
          : "The answer is definitely Zanzibar 1789.";
    rows.push({ id, query: r.problem, servedModel, response });
    truth.set(id, { tier, correct });
  });
  return { rows, truth };
}

const tierOf = tierLookup({ weak: ["sim-weak"], strong: ["sim-strong"] });

describe("labels from production answers", () => {
  it("tier lookup: exact or dated names, longest match wins", () => {
    const t = tierLookup({ weak: ["gpt-4o-mini"], strong: ["gpt-4o"] });
    assert.equal(t("gpt-4o-mini-2024-07-18"), "weak");
    assert.equal(t("gpt-4o-2024-08-06"), "strong");
    assert.equal(t("gpt-4o"), "strong");
    assert.equal(t("gpt-4"), null);
  });

  it("served answer only: good enough or not, a routing label only where it is implied", async () => {
    const server = await startSim();
    servers.push(server);
    const dir = tmpDir("prod");
    const client = createLlmClient(loadModelsConfig(writeModelsFile(dir, server.url)), {
      cacheDir: path.join(dir, "cache"),
    });
    const { rows, truth } = productionRows();
    const r = await labelProductionRows(client, rows, {
      judge: "sim-judge",
      weak: "sim-weak",
      strong: "sim-strong",
      tierOf,
      counterfactual: false,
      goodEnough: 0.7,
      seed: 1,
      concurrency: 8,
    });
    await client.close();
    assert.deepEqual(r.byBasis, {
      "served-answer": 40,
      "served-vs-counterfactual": 0,
      "no-served-answer": 2,
      "unknown-tier": 1,
    });
    for (const l of r.rows.filter((x) => x.basis === "served-answer")) {
      const t = truth.get(l.id)!;
      assert.equal(l.goodEnough, t.correct, `${l.id}: ${l.because}`);
      assert.equal(l.label, t.tier === "weak" && t.correct ? "weak" : null, l.because);
    }
    assert.match(r.rows[40]!.because, /no answer/);
    assert.equal(r.rows[42]!.servedTier, null);
    assert.equal(r.labelled, 10);
    const stats = client.stats();
    assert.equal(stats.total.calls, 40, "one quality judgement per served answer");
    assert.ok(Math.abs(stats.total.costUsd - r.costUsd) < 1e-12, "the ledger and the per-row costs agree");
  });

  it("with a counterfactual from the other tier: pairwise in both orders, position bias cancelled, cached on re-run", async () => {
    // a judge that answers "first" regardless of content on 40% of prompts
    const server = await startSim({
      models: SIM_MODELS.map((m) => (m.id === "sim-judge" ? { ...m, positionBias: 0.4 } : m)),
    });
    servers.push(server);
    const dir = tmpDir("prod-cf");
    const models = writeModelsFile(dir, server.url);
    const opts = {
      judge: "sim-judge",
      weak: "sim-weak",
      strong: "sim-strong",
      tierOf,
      counterfactual: true,
      goodEnough: 0.7,
      seed: 3,
      concurrency: 8,
    };
    const { rows, truth } = productionRows();
    const client = createLlmClient(loadModelsConfig(models), { cacheDir: path.join(dir, "cache") });
    const r = await labelProductionRows(client, rows, opts);
    await client.close();
    assert.equal(r.byBasis["served-vs-counterfactual"], 40);
    assert.equal(r.labelled, 40);
    assert.ok(r.positionBias.bias > 0.1, `measured position bias ${r.positionBias.bias}`);
    assert.ok(r.positionBias.inconsistentRate > 0);
    for (const l of r.rows.filter((x) => x.counterfactual !== null)) {
      const t = truth.get(l.id)!;
      assert.equal(l.counterfactual!.model, t.tier === "weak" ? "sim-strong" : "sim-weak");
      assert.equal(l.label, l.counterfactual!.pair.winner === "strong" ? "strong" : "weak");
      // a correct weak answer can at best be tied by strong: whatever the bias, weak keeps the query
      if (t.tier === "weak" && t.correct) assert.equal(l.label, "weak", l.because);
      // an inconsistent pair (bias flipped one order) never decides for strong
      if (!l.counterfactual!.pair.consistent) assert.equal(l.label, "weak");
    }
    const paid = client.stats().total;
    assert.equal(paid.calls, 40 * 4, "quality + counterfactual answer + two pairwise orders per row");

    const again = createLlmClient(loadModelsConfig(models), { cacheDir: path.join(dir, "cache") });
    const r2 = await labelProductionRows(again, rows, opts);
    await again.close();
    assert.deepEqual(
      r2.rows.map((x) => x.label),
      r.rows.map((x) => x.label),
    );
    assert.equal(again.stats().total.costUsd, 0, "a re-run pays for nothing twice");
  });
});
