import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { calibrate, dataFingerprint, SortedSet } from "../../lib/calibrate/calibrate";
import { makeRecord } from "../../lib/calibrate/record";
import { checkOperatingPoint, readOperatingPoint } from "../../lib/export/operating-point";
import { centroidFilesDecide } from "../../lib/export/formats/centroid-npy";
import { readBundle } from "../../lib/export/s3-store";
import { bundledRouting } from "../../lib/data/bundled";
import type { RoutingData } from "../../lib/data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../../lib/embed/types";
import { evaluateRouter } from "../../lib/eval/evaluate";
import { exportRouterState } from "../../lib/export/export-router";
import { writeProbes } from "../../lib/export/gateway-check";
import { npyBytes, readNpy } from "../../lib/export/npy";
import { pickRows } from "../../lib/pipeline/fit";
import { embedAll } from "../../lib/pipeline/main-job";
import type { CentroidRouter } from "../../lib/routers/centroid";
import { createRouter } from "../../lib/routers/registry";
import type { RoutingTask } from "../../lib/routers/types";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { createRng, shuffled } from "../../lib/util/random";

/**
 * Issue 17 item 3 on real MMLU and GSM8K embeddings (the gateway's fp32 vectors, from the shared cache): centroids
 * learned from strong/weak labels, scored exactly as the gateway's CentroidClassifier (contract §6.6), exported as
 * two `.npy` files that NumPy loads without pickle; a Python re-implementation of the gateway rule agrees with
 * routerlab on every held-out query; the learned centroids beat the random router's APGR.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-centroid-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Half {
  X: EmbeddingMatrix;
  task: RoutingTask;
  yW: Float64Array;
  yS: Float64Array;
}
const sets = new Map<
  string,
  { data: RoutingData; spec: EmbeddingSpec; all: EmbeddingMatrix; train: Half; test: Half }
>();

before(async () => {
  const all = [bundledRouting("mmlu").data, bundledRouting("gsm8k").data];
  const embedded = await embedAll(all, "fp32");
  for (const data of all) {
    const X = embedded.matrices.get(data)!;
    const M = data.models.length;
    const n = data.queryIds.length;
    const order = shuffled(
      Array.from({ length: n }, (_, i) => i),
      createRng(31),
    );
    const half = (rows: number[]): Half => {
      const yW = Float64Array.from(rows, (r) => data.quality[r * M]!);
      const yS = Float64Array.from(rows, (r) => data.quality[r * M + 1]!);
      return {
        X: pickRows(X, rows),
        task: {
          kind: "binary",
          models: [data.models[0]!, data.models[1]!],
          labels: Int32Array.from(rows, (_, i) => (yS[i]! > yW[i]! ? 1 : 0)),
        },
        yW,
        yS,
      };
    };
    sets.set(data.name, {
      data,
      spec: embedded.spec,
      all: X,
      train: half(order.slice(0, Math.floor(n / 2))),
      test: half(order.slice(Math.floor(n / 2))),
    });
  }
});

function gatewayPython(dir: string, X: EmbeddingMatrix) {
  const probes = path.join(dir, "probes.f32");
  writeProbes(probes, X);
  const r = spawnSync(
    venvPython(),
    [path.join(projectRoot(), "python", "peers", "centroid_gateway_check.py")],
    {
      input: JSON.stringify({ dir, probes, dim: X.dim }),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    complex: boolean[];
    dtype: Record<string, string>;
    shape: Record<string, number[]>;
    norm: Record<string, number>;
  };
}

test(".npy writer: NumPy format 1.0 headers padded to 64 bytes; the reader round-trips both dtypes", () => {
  const v = Float64Array.from({ length: 384 }, (_, i) => Math.sin(i) / 7);
  for (const dtype of ["<f8", "<f4"] as const) {
    const b = npyBytes(v, dtype);
    assert.equal(b.toString("latin1", 0, 6), "\x93NUMPY");
    assert.equal((10 + b.readUInt16LE(8)) % 64, 0);
    const back = readNpy(b);
    back.forEach((x, i) => assert.equal(x, dtype === "<f8" ? v[i] : Math.fround(v[i]!)));
  }
  assert.throws(() => readNpy(npyBytes(v).subarray(0, 500)), /data bytes/);
});

for (const name of ["routellm-mmlu", "routellm-gsm8k"]) {
  test(`${name}: learned centroids beat the random router's APGR; exported .npy load without pickle and the Python gateway rule agrees on every query of the dataset`, async () => {
    const s = sets.get(name)!;
    const router = createRouter("centroid") as CentroidRouter;
    await router.fit({ X: s.train.X }, s.train.task);
    // λ = 0 is the pair of class means; every query has a positive cosine with the corpus mean.
    const eg = router.switchLambda({ X: s.test.X });
    assert.ok(eg.every(Number.isFinite));

    const scores = router.score({ X: s.test.X }).strongProbability!;
    const ev = evaluateRouter(
      { router: "centroid", scores, yWeak: s.test.yW, yStrong: s.test.yS },
      { resamples: 200, seed: 1 },
    );
    const rng = createRng(5);
    const randomApgr = [0, 1, 2, 3, 4].map(
      () =>
        evaluateRouter(
          {
            router: "random",
            scores: Float64Array.from(scores, () => rng.int(1_000_000)),
            yWeak: s.test.yW,
            yStrong: s.test.yS,
          },
          { resamples: 10, seed: 1, calibrationResamples: 10 },
        ).summary.apgr!,
    );
    const randomMean = randomApgr.reduce((a, b) => a + b, 0) / randomApgr.length;
    console.log(
      `# ${name}: centroid APGR ${ev.summary.apgr!.toFixed(4)} [${ev.bootstrap.apgr.lo.toFixed(4)}, ${ev.bootstrap.apgr.hi.toFixed(4)}], ` +
        `random ${randomApgr.map((a) => a.toFixed(4)).join(", ")}; CPT(50%) ${ev.summary.cpt50.value}`,
    );
    assert.ok(ev.summary.apgr! > Math.max(...randomApgr), `APGR ${ev.summary.apgr} vs random ${randomMean}`);

    // Calibrate the family to 50% complex, then export the centroids at that λ.
    const cal = calibrate(
      new SortedSet({ scores: router.switchLambda({ X: s.train.X }) }),
      { kind: "share", value: 0.5 },
      { resamples: 200, seed: 2 },
    );
    for (const [label, r] of [
      ["class means", router],
      ["calibrated 50%", router.withLambda(cal.threshold)],
    ] as const) {
      const out = path.join(tmp, `${name}-${label.replace(/\W+/g, "-")}`);
      const res = await exportRouterState(r.state(), {
        outDir: out,
        evalX: s.all,
        gatewayModels: {
          model_list: s.data.models.map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
        },
        embeddingSpec: s.spec,
      });
      assert.equal(res.kind, "centroid");
      assert.deepEqual(res.files.sort(), ["complex_centroid.npy", "simple_centroid.npy"]);
      // Agreement on every query of the dataset (GSM8K's held-out half alone is under 1,000).
      const py = gatewayPython(out, s.all);
      for (const c of ["simple", "complex"]) {
        assert.equal(py.dtype[c], "<f8");
        assert.deepEqual(py.shape[c], [384]);
        assert.ok(Math.abs(py.norm[c]! - 1) < 1e-6, `${c} norm ${py.norm[c]}`);
      }
      const ours = r.predict({ X: s.all });
      const strong = s.data.models[1]!;
      assert.ok(py.complex.length >= 1000);
      const differ = py.complex.filter((c, i) => c !== (ours[i] === strong)).length;
      assert.equal(differ, 0, `${label}: ${differ} of ${py.complex.length} queries differ`);
      const held = r.predict({ X: s.test.X });
      const share = held.filter((d) => d === s.data.models[1]).length / held.length;
      console.log(`# ${name} ${label}: complex share on held-out ${(share * 100).toFixed(2)}%`);
      if (label === "calibrated 50%") assert.ok(Math.abs(share - 0.5) < 0.03, `share ${share}`);
    }
  });
}

test("the family: λ = 0 is exactly the class means; the complex share falls as λ grows; the decision is λ < λ_e", async () => {
  const s = sets.get("routellm-mmlu")!;
  const router = createRouter("centroid") as CentroidRouter;
  await router.fit({ X: s.train.X }, s.train.task);
  const st = router.state();
  const unit = (x: Float32Array) => {
    const n = Math.sqrt(x.reduce((a, v) => a + v * v, 0));
    return Array.from(x, (v) => v / n);
  };
  const c0 = router.centroids(0);
  unit(st.tensors.complex_mean!.data).forEach((v, j) => assert.ok(Math.abs(v - c0.complex[j]!) < 1e-12));
  unit(st.tensors.simple_mean!.data).forEach((v, j) => assert.ok(Math.abs(v - c0.simple[j]!) < 1e-12));
  const lam = router.switchLambda({ X: s.test.X });
  let prev = 1.01;
  for (const l of [-0.4, -0.2, 0, 0.1, 0.2, 0.4]) {
    const pred = router.withLambda(l).predict({ X: s.test.X });
    const strong = s.data.models[1]!;
    const share = pred.filter((p) => p === strong).length / pred.length;
    assert.ok(share <= prev, `share ${share} at λ=${l} above ${prev}`);
    prev = share;
    // The gateway rule equals the threshold on λ_e, except for rows within rounding of their switch point.
    const mismatch = pred.filter(
      (p, i) => (p === strong) !== lam[i]! > l && Math.abs(lam[i]! - l) > 1e-9,
    ).length;
    assert.equal(mismatch, 0, `λ=${l}`);
  }
});

test("export --calibration moves the centroids along the family: MMLU at 20/50/80% complex, the Python gateway rule routes the held-out share inside the interval and equals score >= the served threshold on every held-out query", async () => {
  const s = sets.get("routellm-mmlu")!;
  const router = createRouter("centroid") as CentroidRouter;
  await router.fit({ X: s.train.X }, s.train.task);
  // The training half doubles as the calibration set here (the centroids are two averages).
  const ids = Array.from({ length: s.train.X.rows }, (_, i) => `q${i}`);
  const calScores = router.score({ X: s.train.X }).strongProbability!;
  const strong = s.data.models[1]!;
  for (const share of [0.2, 0.5, 0.8]) {
    const result = calibrate(
      new SortedSet({ scores: calScores, yWeak: s.train.yW, yStrong: s.train.yS }),
      { kind: "share", value: share },
      { resamples: 500, seed: 4, newTrafficSize: s.test.X.rows },
    );
    const rec = makeRecord({
      router: "centroid",
      dataset: "mmlu",
      models: [s.data.models[0]!, strong],
      result,
      nCalibration: s.train.X.rows,
      fingerprint: dataFingerprint(ids, calScores),
    });
    const out = path.join(tmp, `calibrated-${share}`);
    const res = await exportRouterState(router.state(), {
      outDir: out,
      evalX: s.test.X,
      gatewayModels: {
        model_list: s.data.models.map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
      },
      embeddingSpec: s.spec,
      calibration: { record: rec, X: s.train.X, queryIds: ids },
    });
    const op = res.operatingPoint!;
    assert.equal(op.measured.calibration_share, rec.calibration.share);
    const py = gatewayPython(out, s.test.X);
    const p = router.score({ X: s.test.X }).strongProbability!;
    const differ = py.complex.filter((c, i) => c !== p[i]! >= op.served_threshold).length;
    assert.equal(differ, 0, `${share}: ${differ} held-out queries differ from score >= served threshold`);
    const held = py.complex.filter(Boolean).length / py.complex.length;
    const iv = op.expected.share_interval;
    console.log(
      `# centroid target ${share}: held-out complex share ${(held * 100).toFixed(2)}% [${(iv.lo * 100).toFixed(2)}, ${(iv.hi * 100).toFixed(2)}]`,
    );
    assert.ok(held >= iv.lo && held <= iv.hi, `held-out share ${held} outside [${iv.lo}, ${iv.hi}]`);
    // verify's re-measurement on the calibration set
    const decisions = centroidFilesDecide(readBundle(out).files, s.train.X).map((c) =>
      c ? strong : s.data.models[0]!,
    );
    const c = checkOperatingPoint(readOperatingPoint(out)!, s.train.X, decisions);
    assert.ok(c.ok, c.problems.join("; "));
  }
});
