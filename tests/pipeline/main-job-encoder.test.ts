import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { MainJobConfigSchema } from "../../lib/pipeline/config";
import { runMainJob } from "../../lib/pipeline/main-job";

// The switch documented in configs/main.yaml: listing the encoder among the binary routers makes the main job
// fit it out-of-fold and evaluate it beside the others (a small GSM8K sample, one short epoch per fold).
test("main job: the encoder router runs out-of-fold when the config lists it", async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-main-encoder-"));
  process.env.ROUTERLAB_TRACKING_DIR = path.join(tmp, "journal");
  try {
    const config = MainJobConfigSchema.parse({
      sample: 100,
      seed: 2,
      binary: {
        datasets: ["gsm8k"],
        folds: 2,
        bootstrapResamples: 100,
        featureLogreg: { enabled: false },
        routers: [
          { name: "knn", kind: "knn", hyperparameters: { k: 10 } },
          { name: "encoder", kind: "encoder", hyperparameters: { epochs: 1, maxLength: 64 } },
        ],
      },
      multi: { enabled: false },
      calibration: { resamples: 100 },
      modelCache: false,
      outDir: path.join(tmp, "out"),
      tracking: { experiment: "routerlab-test-main-encoder" },
    });
    const r = await runMainJob(config, () => undefined);
    const gsm = r.binary[0]!;
    const enc = gsm.evaluations.find((e) => e.router === "encoder");
    assert.ok(enc, `encoder evaluated (have ${gsm.evaluations.map((e) => e.router).join(", ")})`);
    assert.equal(enc.summary.n, 100);
    assert.ok(Number.isFinite(enc.summary.apgr), "finite APGR");
  } finally {
    delete process.env.ROUTERLAB_TRACKING_DIR;
    rmSync(tmp, { recursive: true, force: true });
  }
});
