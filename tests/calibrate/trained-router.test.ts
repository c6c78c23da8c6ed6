import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledRouting } from "../../lib/data/bundled";
import { outOfFoldScores } from "../../lib/pipeline/binary";
import { defaultMainJobConfig } from "../../lib/pipeline/config";
import { embedAll } from "../../lib/pipeline/main-job";
import { holdoutCheck } from "./holdout-check";

// The calibration check on a trained router's scores: the main job's MLP on real MMLU
// embeddings (fp32, the gateway's), 5-fold out-of-fold, exactly as `npm start` computes them. The
// embeddings and the five fitted folds come from the persistent caches when the main job has run
// (otherwise this embeds 14k queries and fits five MLPs first: minutes).
test("calibration of the main job's MLP scores on MMLU: targets 10..90% within 2 pp, intervals cover >= 90% of 200 splits", async () => {
  const config = defaultMainJobConfig();
  const data = bundledRouting("mmlu").data;
  const embedded = await embedAll([data], config.embedding.precision);
  const spec = config.binary.routers.find((r) => r.kind === "mlp")!;
  const oof = await outOfFoldScores({
    spec,
    data,
    X: embedded.matrices.get(data)!,
    folds: config.binary.folds,
    label: config.binary.label,
    embeddingSpec: embedded.spec,
    seed: config.seed,
    useCache: true,
  });
  const M = data.models.length;
  const yWeak = Float64Array.from({ length: data.queryIds.length }, (_, q) => data.quality[q * M]!);
  const yStrong = Float64Array.from({ length: data.queryIds.length }, (_, q) => data.quality[q * M + 1]!);
  assert.equal(oof.scores.length, 14037);
  assert.ok(oof.scores.every(Number.isFinite));
  // Calibration by quantile needs mostly distinct scores (ties make some shares unreachable).
  assert.ok(new Set(oof.scores).size > 10000, `distinct scores ${new Set(oof.scores).size}`);
  const targets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  // 200 splits: with 50, a coverage estimate has a standard error of ~3 pp, so even exact 95% intervals
  // fall below 90% on some target by chance (50 splits gave 44/50 = 0.88 at the 90% target).
  const r = holdoutCheck(oof.scores, yWeak, yStrong, targets, 200);
  console.log(
    `# MLP: coverage per target ${r.rates.join(", ")}; worst |realised - target| ${(r.worst * 100).toFixed(2)} pp; ` +
      `${r.within} of ${r.pairs} pairs within 2 pp; split 0 worst ${(Math.max(...r.split0) * 100).toFixed(2)} pp`,
  );
  r.split0.forEach((dev, j) => assert.ok(dev <= 0.02, `split 0 target ${targets[j]}: off by ${dev}`));
  // 7k held-out queries: sampling noise (sd ~0.8 pp at 50%) puts a few of the 450 pairs beyond 2 pp.
  assert.ok(r.within >= 0.95 * r.pairs, `${r.within} of ${r.pairs} within 2 pp`);
  r.rates.forEach((rate, j) => assert.ok(rate >= 0.9, `target ${targets[j]}: coverage ${rate}`));
});
