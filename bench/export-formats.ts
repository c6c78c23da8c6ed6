import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { calibrate, dataFingerprint, SortedSet } from "../lib/calibrate/calibrate";
import { makeRecord } from "../lib/calibrate/record";
import { bundledRouting } from "../lib/data/bundled";
import { selectRows } from "../lib/data/routing";
import type { EmbeddingMatrix } from "../lib/embed/types";
import { verifyBundleDir } from "../lib/export/bundle";
import { exportRouterState } from "../lib/export/export-router";
import { gatewayDecisions } from "../lib/export/gateway-check";
import { loadGatewayModels } from "../lib/export/safety";
import { ensureExportPython } from "../lib/export/sklearn-step";
import { embedAll } from "../lib/pipeline/main-job";
import { deriveTask } from "../lib/routers/labels";
import { createRouter } from "../lib/routers/registry";
import { projectRoot } from "../lib/util/paths";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

/**
 * Export + verify time of every gateway format on the bundled MMLU data (routers fitted on 2,000 rows beforehand;
 * the time covers writing the files, the export's own gateway-way re-scoring of 1,000 evaluation rows and
 * `verifyBundleDir`), and the share error of an exported calibrated router: a logistic regression calibrated for
 * 50% strong on 1,000 rows, exported with the operating point, then loaded the gateway's way (torch) and run on
 * 1,000 other held-out rows. No Python peer: nothing else writes these files. Single runs (no repeats).
 */

const TRAIN = 2000;
const CAL = 1000;
const HOLD = 1000;
const SEED = 11;

const FORMATS: { kind: string; hyperparameters: Record<string, unknown>; name: string }[] = [
  { name: "torch_mlp", kind: "mlp", hyperparameters: { hiddenLayerSizes: [64], epochs: 5, seed: SEED } },
  { name: "torch_mf", kind: "mf", hyperparameters: { epochs: 3, seed: SEED } },
  { name: "sklearn_knn", kind: "knn", hyperparameters: { k: 20 } },
  { name: "sklearn_svm", kind: "svm", hyperparameters: {} },
  { name: "elo_json", kind: "elo", hyperparameters: { resamples: 0 } },
  { name: "centroid_npy", kind: "centroid", hyperparameters: {} },
];

async function data() {
  const mmlu = bundledRouting("mmlu").data;
  const rng = createRng(SEED);
  const rows = Array.from({ length: mmlu.queryIds.length }, (_, i) => i);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  const parts = [
    rows.slice(0, TRAIN),
    rows.slice(TRAIN, TRAIN + CAL),
    rows.slice(TRAIN + CAL, TRAIN + CAL + HOLD),
  ];
  const sets = parts.map((p) => selectRows(mmlu, p));
  const embedded = await embedAll(sets, "fp32");
  const X = (i: number): EmbeddingMatrix => embedded.matrices.get(sets[i]!)!;
  const [weak, strong] = mmlu.models as [string, string];
  const task = (i: number) =>
    deriveTask(sets[i]!, { setting: "binary", weak, strong, label: { rule: "strong_better" } });
  return { sets, X, task, spec: embedded.spec, weak, strong };
}

export const exportFormatsBench: BenchArea = {
  prefix: "export.formats.",
  async run(): Promise<BenchResult[]> {
    const d = await data();
    const gatewayModelsFile = path.join(projectRoot(), "configs", "export-routellm-models.yaml");
    const gatewayModels = loadGatewayModels(gatewayModelsFile);
    const train = d.task(0);
    // Provision the pinned scikit-learn environment first, so no figure includes its one-time install.
    ensureExportPython(undefined, (m) => process.stderr.write(m + "\n"));
    const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-bench-formats-"));
    const results: BenchResult[] = [];
    try {
      for (const f of FORMATS) {
        const router = createRouter(f.kind, f.hyperparameters);
        await router.fit({ X: d.X(0) }, train);
        const state = router.state();
        const t0 = performance.now();
        const e = await exportRouterState(state, {
          outDir: path.join(tmp, f.name),
          evalX: d.X(1),
          gatewayModels,
          gatewayModelsFile,
          group: "auto",
          embeddingSpec: d.spec,
          train: { X: d.X(0), labels: Array.from(train.labels, (l) => train.models[l]!) },
        });
        const report = verifyBundleDir(e.dir);
        const seconds = (performance.now() - t0) / 1000;
        if (!report.ok) throw new Error(`${f.name}: verify failed: ${report.problems.join("; ")}`);
        results.push({
          name: `export.formats.${f.name}_export_verify_seconds`,
          value: seconds,
          unit: "s",
          peer: null,
          peerValue: null,
          ratio: null,
          goal: `informational: ${f.kind} fitted on ${TRAIN} MMLU rows; export (files, gateway-way re-scoring of ${CAL} rows: ${e.agreement.equal}/${e.agreement.queries} equal) + verifyBundleDir`,
          met: null,
        });
      }
      // A calibrated logistic regression: calibrate on the CAL rows, export, run the served file on the HOLD rows.
      const lr = createRouter("logreg", {});
      await lr.fit({ X: d.X(0) }, train);
      const cal = d.task(1);
      const calScores = (await lr.score({ X: d.X(1) })).strongProbability!;
      const y = (t: ReturnType<typeof d.task>, m: number) =>
        Float64Array.from({ length: t.labels.length }, (_, q) => t.quality![q * 2 + m]!);
      const result = calibrate(
        new SortedSet({ scores: calScores, yWeak: y(cal, 0), yStrong: y(cal, 1) }),
        { kind: "share", value: 0.5 },
        { resamples: 1000, seed: SEED, newTrafficSize: HOLD },
      );
      const record = makeRecord({
        router: "logreg",
        dataset: "routellm-mmlu",
        models: [d.weak, d.strong],
        result,
        nCalibration: CAL,
        fingerprint: dataFingerprint(d.sets[1]!.queryIds, calScores),
      });
      const e = await exportRouterState(lr.state(), {
        outDir: path.join(tmp, "logreg-calibrated"),
        evalX: d.X(1),
        gatewayModels,
        gatewayModelsFile,
        group: "auto",
        embeddingSpec: d.spec,
        calibration: { record, X: d.X(1), queryIds: d.sets[1]!.queryIds },
      });
      const op = e.operatingPoint!;
      const decisions = gatewayDecisions(e.kind, path.join(e.dir, e.served), d.X(2));
      const share = decisions.filter((m) => m === op.models.strong).length / decisions.length;
      const { lo, hi } = op.expected.share_interval;
      results.push({
        name: "export.formats.calibrated_share_error",
        value: Math.abs(share - 0.5),
        unit: "share",
        peer: null,
        peerValue: null,
        ratio: null,
        goal:
          `held-out strong share of the exported calibrated logreg (torch, ${HOLD} rows) inside the recorded ` +
          `interval [${lo.toFixed(3)}, ${hi.toFixed(3)}]; measured ${share.toFixed(3)} for target 0.5`,
        met: share >= lo && share <= hi,
      });
      return results;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
