import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluateRouter } from "../../lib/eval/evaluate";
import { routerEntry } from "../../lib/routers/registry";
import type { ScorerInput } from "../../lib/pipeline/servable";
import { servableLines, servableSummary } from "../../lib/pipeline/servable";
import { createRng } from "../../lib/util/random";

// Synthetic outcomes: 400 queries, strong wins more often on high latent difficulty d.
const rng = createRng(5);
const n = 400;
const d = Float64Array.from({ length: n }, () => rng.next());
const yWeak = Float64Array.from(d, (v) => (rng.next() < 0.8 - 0.5 * v ? 1 : 0));
const yStrong = Float64Array.from(d, (v) => (rng.next() < 0.9 - 0.1 * v ? 1 : 0));

/** A scorer of `kind` whose scores follow d with noise `noise`; `levels` > 0 rounds them (tied vote shares). */
function scorer(router: string, kind: string, noise: number, levels = 0): ScorerInput {
  const scores = Float64Array.from(d, (v) => {
    const s = Math.min(1, Math.max(0, v + noise * (rng.next() - 0.5)));
    return levels > 0 ? Math.round(s * levels) / levels : s;
  });
  return { kind, scores, evaluation: evaluateRouter({ router, scores, yWeak, yStrong }, { resamples: 100 }) };
}

describe("servable scorers", () => {
  const knn = scorer("knn", "knn", 0.02, 6);
  const mlp = scorer("mlp", "mlp", 0.8);
  const centroid = scorer("centroid", "centroid", 0.4);
  const features = scorer("logreg-emb-features", "logreg-emb-features", 0.05);
  const random = scorer("random (baseline)", "random", 100);

  it("marks each scorer from its registry entry and recommends the best one whose file carries the threshold", () => {
    const s = servableSummary([knn, mlp, centroid, features, random], yWeak, yStrong);
    const by = new Map(s.scorers.map((x) => [x.router, x]));
    assert.equal(by.get("logreg-emb-features")!.gatewayFormat, null);
    assert.equal(
      by.get("logreg-emb-features")!.notServableReason,
      routerEntry("logreg-emb-features").notServableReason,
    );
    assert.equal(by.get("knn")!.gatewayFormat, "sklearn-knn");
    assert.equal(by.get("knn")!.carriesOperatingPoint, false);
    assert.match(by.get("knn")!.operatingPointRefusal!, /KNN/);
    assert.equal(by.get("mlp")!.carriesOperatingPoint, true);
    // knn (the least noisy servable scorer) has the best APGR but cannot carry a calibrated threshold
    assert.ok(knn.evaluation.summary.apgr! > centroid.evaluation.summary.apgr!);
    assert.ok(centroid.evaluation.summary.apgr! > mlp.evaluation.summary.apgr!);
    assert.equal(s.recommended!.router, "centroid");
    assert.equal(s.bestUnservable!.router, "logreg-emb-features");
    assert.ok(
      Math.abs(s.gap!.apgr! - (centroid.evaluation.summary.apgr! - features.evaluation.summary.apgr!)) <
        1e-12,
    );
    // knn's 7 score levels: the fixed-threshold CPT sits at a tie-group edge, past the interpolated one
    const k = by.get("knn")!;
    assert.ok(k.cpt50Deterministic.value! > k.cpt50Interpolated! + 0.01);
    const text = servableLines(s).join("\n");
    assert.match(text, /recommended for the gateway: centroid \(centroid-npy\)/);
    assert.match(text, /gap to the best unservable scorer \(logreg-emb-features\): APGR -/);
  });

  it("falls back to the best servable scorer when none carries a threshold, and to none when nothing is servable", () => {
    const onlyKnn = servableSummary([knn, features], yWeak, yStrong);
    assert.equal(onlyKnn.recommended!.router, "knn");
    const none = servableSummary([features, random], yWeak, yStrong);
    assert.equal(none.recommended, null);
    assert.equal(none.gap, null);
    assert.match(servableLines(none).join("\n"), /no scorer of this job can be served/);
    const noUnservable = servableSummary([mlp], yWeak, yStrong);
    assert.equal(noUnservable.bestUnservable, null);
    assert.equal(noUnservable.gap, null);
  });
});
