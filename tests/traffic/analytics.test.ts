import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { readCollected } from "../../lib/collect/read";
import type { RouterDecision } from "../../lib/data/decisions";
import { loadDecisionsJsonl, loadOtlp } from "../../lib/data/traces";
import type { TrafficDecision } from "../../lib/traffic/analytics";
import {
  compareVariants,
  driftOverTime,
  liveScores,
  modelUsage,
  newcombeDiff,
  outcomeRates,
  scoreDrift,
  shareOverTime,
  wilson,
} from "../../lib/traffic/analytics";
import { trafficFromCollected, trafficFromTraceLoad } from "../../lib/traffic/load";
import { DEFAULT_SIMULATION, referenceScores, simulateTraffic } from "../../lib/traffic/simulate";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { collectInto } from "./support";

const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-traffic-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (f: string) => path.join(projectRoot(), "tests", "fixtures", "traces", f);
const close = (a: number, b: number, tol = 1e-4) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test("Wilson intervals match scipy's, Newcombe's difference interval the published example; both contain their estimates", () => {
  const cases = [
    [56, 70],
    [48, 80],
    [0, 12],
    [12, 12],
    [3, 1000],
  ];
  const py = spawnSync(
    venvPython(),
    [
      "-c",
      `import json\nfrom scipy.stats import binomtest\nprint(json.dumps([list(binomtest(k, n).proportion_ci(method="wilson")) for k, n in ${JSON.stringify(cases)}]))`,
    ],
    { encoding: "utf8" },
  );
  assert.equal(py.status, 0, py.stderr);
  (JSON.parse(py.stdout) as [number, number][]).forEach(([lo, hi], i) => {
    const w = wilson(cases[i]![0]!, cases[i]![1]!);
    close(w.lo, lo, 1e-12);
    close(w.hi, hi, 1e-12);
  });
  // Newcombe (1998), Statistics in Medicine 17:873, method 10 on 56/70 vs 48/80
  const d = newcombeDiff(56, 70, 48, 80);
  close(d.lo, 0.0524);
  close(d.hi, 0.3339);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 1, max: 500 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (n1, n2, a, b) => {
        const k1 = Math.round(a * n1);
        const k2 = Math.round(b * n2);
        const i = wilson(k1, n1);
        assert.ok(i.lo <= k1 / n1 + 1e-12 && k1 / n1 <= i.hi + 1e-12 && i.lo >= 0 && i.hi <= 1);
        const diff = newcombeDiff(k1, n1, k2, n2);
        const dd = k1 / n1 - k2 / n2;
        assert.ok(
          diff.lo <= dd + 1e-12 && dd <= diff.hi + 1e-12 && diff.lo >= -1 - 1e-12 && diff.hi <= 1 + 1e-12,
        );
        const swapped = newcombeDiff(k2, n2, k1, n1);
        close(swapped.lo, -diff.hi, 1e-9);
        close(swapped.hi, -diff.lo, 1e-9);
      },
    ),
    { seed: 18, numRuns: 500 },
  );
});

const arbDecision = fc.record({
  t: fc.integer({ min: 0, max: 10_000_000 }),
  model: fc.constantFrom("a", "b", "c", null),
  strategy: fc.constantFrom("llmrouter-mlp", "llmrouter-knn"),
});

function decisionOf(x: { t: number; model: string | null; strategy: string }): TrafficDecision {
  return {
    decision: {
      timestamp_unix_ms: x.t,
      selected_deployment: x.model,
      strategy_name: x.strategy,
      strategy_version: null,
    } as unknown as RouterDecision,
  };
}

test("routing shares over time: counts add up to the decisions, shares of a non-empty bucket sum to 1", () => {
  fc.assert(
    fc.property(
      fc.array(arbDecision, { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1000, max: 5_000_000 }),
      fc.constantFrom("model", "strategy" as const),
      (xs, bucket, by) => {
        const s = shareOverTime(xs.map(decisionOf), by as "model" | "strategy", bucket);
        assert.equal(
          s.totals.reduce((a, b) => a + b, 0),
          xs.length,
        );
        s.totals.forEach((tot, b) => {
          const sum = s.shares.reduce((acc, row) => acc + row[b]!, 0);
          if (tot > 0) close(sum, 1, 1e-9);
          else assert.equal(sum, 0);
        });
        // each decision lands in the bucket containing its time
        for (const x of xs) {
          const b = s.buckets.findIndex((start) => x.t >= start && x.t < start + bucket);
          assert.ok(b >= 0);
        }
      },
    ),
    { seed: 18, numRuns: 200 },
  );
});

test("the bundled decision fixtures: shares, outcome rates and usage", () => {
  const d = loadDecisionsJsonl(fixture("decisions.jsonl"), { quarantineDir: dir });
  const t = d.rows.map((r) => ({ decision: r.decision, strategyVersion: r.strategyVersion }));
  const s = shareOverTime(t, "model", 3600_000);
  assert.deepEqual(s.keys, ["gpt-4o", "gpt-4o-mini"]);
  assert.deepEqual(s.shares, [[0.5], [0.5]]);
  const rates = outcomeRates(t);
  assert.equal(rates[0]!.strategy, "(all)");
  assert.equal(rates[0]!.n, 2);
  assert.equal(rates[0]!.fallbacks, 0);
  assert.equal(rates[0]!.errorRate.p, 0);
  assert.deepEqual(liveScores(t, "openai/gpt-4o"), [0.69, 0.69]);
  const o = trafficFromTraceLoad(loadOtlp(fixture("otlp_export.json"), { quarantineDir: dir }));
  const u = modelUsage(o.calls, { "gpt-4o-2024-08-06": { inputPricePerMTok: 2.5, outputPricePerMTok: 10 } });
  const g = u.find((x) => x.model === "gpt-4o-2024-08-06")!;
  assert.equal(g.calls, 1);
  close(g.latency.p50, 0.834, 1e-9);
  close(g.costUsd!, (21 * 2.5 + 9 * 10) / 1e6, 1e-15);
  assert.equal(u.find((x) => x.model === "text-embedding-3-small")!.costUsd, null, "no price, no cost");
});

test("a simulated week through collect: variants compared with intervals, drift fires after the scripted shift and not before", async () => {
  const ds = path.join(dir, "week");
  const sim = simulateTraffic({ requests: 2800 }, 400);
  assert.equal(await collectInto(ds, sim.bodies), sim.bodies.length);
  const traffic = trafficFromCollected(readCollected(ds));
  assert.equal(traffic.decisions.length, 2800);

  const strong = DEFAULT_SIMULATION.strongModel;
  const v = compareVariants(traffic.decisions, strong);
  assert.deepEqual(
    v.variants.map((x) => x.variant),
    ["control", "treatment"],
  );
  const c = v.comparisons[0]!;
  // treatment routes to strong at a lower threshold: its strong share is higher, the interval excludes 0
  assert.ok(c.strongShareDiff.d > 0 && c.strongShareDiff.lo > 0, JSON.stringify(c.strongShareDiff));
  // error rates are the same by construction: the interval covers 0
  assert.ok(c.errorRateDiff.lo < 0 && c.errorRateDiff.hi > 0, JSON.stringify(c.errorRateDiff));

  const rates = outcomeRates(traffic.decisions)[0]!;
  assert.ok(
    rates.errorRate.lo < DEFAULT_SIMULATION.errorRate && DEFAULT_SIMULATION.errorRate < rates.errorRate.hi,
  );
  assert.ok(rates.fallbackRate.lo < 0.03 && 0.03 < rates.fallbackRate.hi);
  const usage = modelUsage(traffic.calls);
  assert.ok(
    usage.find((u) => u.model === strong)!.latency.p50 >
      usage.find((u) => u.model === DEFAULT_SIMULATION.weakModel)!.latency.p50,
  );

  // calibration set from the pre-drift distribution, threshold 0.5 and its share interval
  const ref = referenceScores(7, 2000);
  const share = ref.filter((x) => x >= 0.5).length / ref.length;
  const record = {
    threshold: 0.5,
    intervals: {
      level: 0.95,
      threshold: { lo: 0.49, hi: 0.51 },
      share: { lo: share - 0.03, hi: share + 0.03 },
    },
  };
  const day = 24 * 3600 * 1000;
  const windows = driftOverTime(ref, traffic.decisions, strong, day, { record });
  assert.equal(windows.length, 7);
  const shiftAt = DEFAULT_SIMULATION.startMs + 3.5 * day;
  for (const w of windows) {
    if (w.start + day <= shiftAt)
      assert.equal(
        w.drift.recalibrate,
        false,
        `fired before the shift on ${new Date(w.start).toISOString()}: ${w.drift.reasons.join("; ")}`,
      );
    if (w.start >= shiftAt) {
      assert.equal(w.drift.recalibrate, true, `silent after the shift on ${new Date(w.start).toISOString()}`);
      assert.ok(w.drift.ks!.drifted && w.drift.reasons.length === 2);
    }
  }
  const few = scoreDrift(ref, liveScores(traffic.decisions.slice(0, 10), strong));
  assert.equal(few.recalibrate, false);
  assert.match(few.reasons[0]!, /only 10 live scores/);
});
