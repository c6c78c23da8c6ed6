import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { calibrate, dataFingerprint, SortedSet, verifyHoldout } from "../../lib/calibrate/calibrate";
import type { CalibrationRecord } from "../../lib/calibrate/record";
import { makeRecord, saveRecord } from "../../lib/calibrate/record";
import { bundledRouting } from "../../lib/data/bundled";
import type { RoutingData } from "../../lib/data/routing";
import type { EmbeddingMatrix, EmbeddingSpec } from "../../lib/embed/types";
import { exportRouterState } from "../../lib/export/export-router";
import { gatewayDecisions, writeProbes } from "../../lib/export/gateway-check";
import { checkOperatingPoint, readOperatingPoint } from "../../lib/export/operating-point";
import type { GatewayModels } from "../../lib/export/safety";
import { embedAll } from "../../lib/pipeline/main-job";
import { pickRows } from "../../lib/pipeline/fit";
import { saveRouterState } from "../../lib/routers/model-file";
import { createRouter } from "../../lib/routers/registry";
import type { Router, RoutingTask } from "../../lib/routers/types";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot } from "../../lib/util/paths";
import { createRng, shuffled } from "../../lib/util/random";

/**
 * Issue 17 item 1 on real MMLU embeddings (the gateway's fp32 vectors, from the shared cache): a binary MLP and an
 * embedding-only logistic regression (served as an MLP with `hidden_layer_sizes: []`) are calibrated at 20/50/80%
 * strong on a calibration split, exported with the operating point, loaded the gateway's way in Python (torch), and
 * must (a) route a held-out share inside the recorded interval and (b) decide exactly like routerlab's thresholded
 * score on every held-out probe (>= 1,000).
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-operating-point-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Split {
  data: RoutingData;
  spec: EmbeddingSpec;
  train: { X: EmbeddingMatrix; task: RoutingTask };
  cal: { X: EmbeddingMatrix; ids: string[]; yW: Float64Array; yS: Float64Array };
  held: { X: EmbeddingMatrix; yW: Float64Array; yS: Float64Array };
  gateway: GatewayModels;
}
let S: Split;

before(async () => {
  const data = bundledRouting("mmlu").data;
  const embedded = await embedAll([data], "fp32");
  const X = embedded.matrices.get(data)!;
  const M = data.models.length;
  const n = data.queryIds.length;
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    createRng(17),
  );
  const trainRows = order.slice(0, 6000);
  const calRows = order.slice(6000, 10000);
  const heldRows = order.slice(10000);
  const q = (rows: number[], m: number) => Float64Array.from(rows, (r) => data.quality[r * M + m]!);
  const labels = Int32Array.from(trainRows, (r) => (data.quality[r * M + 1]! > data.quality[r * M]! ? 1 : 0));
  S = {
    data,
    spec: embedded.spec,
    train: {
      X: pickRows(X, trainRows),
      task: {
        kind: "binary",
        models: [data.models[0]!, data.models[1]!],
        labels,
        quality: Float64Array.from(
          trainRows.flatMap((r) => [data.quality[r * M]!, data.quality[r * M + 1]!]),
        ),
      },
    },
    cal: {
      X: pickRows(X, calRows),
      ids: calRows.map((r) => data.queryIds[r]!),
      yW: q(calRows, 0),
      yS: q(calRows, 1),
    },
    held: { X: pickRows(X, heldRows), yW: q(heldRows, 0), yS: q(heldRows, 1) },
    gateway: {
      model_list: data.models.map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
    },
  };
});

async function record(router: Router, name: string, share: number): Promise<CalibrationRecord> {
  const scores = (await router.score({ X: S.cal.X })).strongProbability!;
  const heldScores = (await router.score({ X: S.held.X })).strongProbability!;
  const result = calibrate(
    new SortedSet({ scores, yWeak: S.cal.yW, yStrong: S.cal.yS }),
    { kind: "share", value: share },
    { resamples: 1000, seed: 5, newTrafficSize: S.held.X.rows },
  );
  const holdout = verifyHoldout(result, { scores: heldScores, yWeak: S.held.yW, yStrong: S.held.yS });
  return makeRecord({
    router: name,
    dataset: "mmlu",
    models: [S.data.models[0]!, S.data.models[1]!],
    result,
    nCalibration: S.cal.X.rows,
    holdout,
    fingerprint: dataFingerprint(S.cal.ids, scores),
  });
}

async function checkKind(kind: "mlp" | "logreg", hp: Record<string, unknown>): Promise<void> {
  const router = createRouter(kind, hp);
  await router.fit({ X: S.train.X }, S.train.task);
  const strong = S.data.models[1]!;
  for (const share of [0.2, 0.5, 0.8]) {
    const rec = await record(router, kind, share);
    const out = path.join(tmp, `${kind}-${share}`);
    const res = await exportRouterState(router.state(), {
      outDir: out,
      evalX: S.held.X,
      gatewayModels: S.gateway,
      embeddingSpec: S.spec,
      calibration: { record: rec, X: S.cal.X, queryIds: S.cal.ids },
    });
    const op = res.operatingPoint!;
    assert.equal(op.calibration.fingerprint_checked, true);
    assert.equal(op.threshold, rec.threshold);
    // Same decisions as the calibrated threshold on every calibration row.
    assert.equal(op.measured.calibration_share, rec.calibration.share);
    const companion = JSON.parse(readFileSync(path.join(out, "router.json"), "utf8")) as Record<
      string,
      unknown
    >;
    if (kind === "logreg") assert.deepEqual(companion.hidden_layer_sizes, []);
    assert.deepEqual(companion.idx_to_model, { "0": strong, "1": S.data.models[0] });

    // The gateway's way (torch.load weights_only + strict load + argmax) on the held-out probes.
    const served = path.join(out, res.served);
    const gw = gatewayDecisions("mlp", served, S.held.X);
    assert.ok(gw.length >= 1000);
    const p = (await router.score({ X: S.held.X })).strongProbability!;
    const ours = Array.from(p, (v) => (v >= op.served_threshold ? strong : S.data.models[0]!));
    const differ = gw.filter((d, i) => d !== ours[i]).length;
    assert.equal(differ, 0, `${kind} @${share}: ${differ} probes differ from score >= served threshold`);
    // The calibrated t and the served t' cut the same gap between calibration scores: held-out rows between them
    // are rare (each falls there with probability ~ 1/calibration rows).
    const atT = Array.from(p, (v) => (v >= rec.threshold ? strong : S.data.models[0]!));
    const betweenTs = gw.filter((d, i) => d !== atT[i]).length;
    assert.ok(betweenTs <= 5, `${betweenTs} held-out rows fall between t and the served t'`);
    const heldShare = gw.filter((d) => d === strong).length / gw.length;
    const iv = op.expected.share_interval;
    assert.ok(
      heldShare >= iv.lo && heldShare <= iv.hi,
      `${kind} @${share}: held-out share ${heldShare} outside [${iv.lo}, ${iv.hi}]`,
    );
    // verify's re-measurement: the bundle's operating point, the artifact loaded the gateway's way.
    const opRead = readOperatingPoint(out)!;
    assert.deepEqual(opRead, op);
    const calDecisions = gatewayDecisions("mlp", served, S.cal.X);
    const c = checkOperatingPoint(opRead, S.cal.X, calDecisions);
    assert.ok(c.ok, c.problems.join("; "));
    assert.equal(c.share, rec.calibration.share);
    console.log(
      `# ${kind} target ${share}: t=${rec.threshold.toFixed(6)} served=${op.served_threshold.toFixed(6)} ` +
        `cal share ${(c.share * 100).toFixed(2)}% held-out ${(heldShare * 100).toFixed(2)}% ` +
        `[${(iv.lo * 100).toFixed(2)}, ${(iv.hi * 100).toFixed(2)}]; ${gw.length} probes equal; ${betweenTs} between t and t'`,
    );
  }
}

test("MLP: calibrated at 20/50/80%, exported with the operating point; torch decides like score >= t on every held-out probe, share inside the interval", async () => {
  await checkKind("mlp", {
    hiddenLayerSizes: [32],
    epochs: 8,
    learningRate: 3e-3,
    validationFraction: 0.1,
    patience: 2,
    seed: 3,
  });
});

test("logreg (MLP with hidden_layer_sizes []): the same checks", async () => {
  await checkKind("logreg", { l2: 1e-3 });
});

test("verify's re-measurement fails on a different set and on a share outside the interval", async () => {
  const router = createRouter("logreg", { maxIterations: 50 });
  await router.fit({ X: S.train.X }, S.train.task);
  const rec = await record(router, "logreg", 0.5);
  const out = path.join(tmp, "verify-fail");
  await exportRouterState(router.state(), {
    outDir: out,
    evalX: S.held.X,
    gatewayModels: S.gateway,
    embeddingSpec: S.spec,
    calibration: { record: rec, X: S.cal.X },
  });
  const op = readOperatingPoint(out)!;
  assert.equal(op.calibration.fingerprint_checked, false);
  const wrongSet = checkOperatingPoint(
    op,
    S.held.X,
    gatewayDecisions("mlp", path.join(out, "router.pt"), S.held.X),
  );
  assert.ok(wrongSet.problems.some((p) => /not the calibration set/.test(p)));
  const allStrong = new Array<string>(S.cal.X.rows).fill(S.data.models[1]!);
  const off = checkOperatingPoint(op, S.cal.X, allStrong);
  assert.equal(off.ok, false);
  assert.ok(off.problems.some((p) => /outside the recorded interval/.test(p)));
});

test("a record calibrated on other scores is refused (fingerprint, and a share outside the interval); nothing written", async () => {
  const a = createRouter("logreg", { maxIterations: 50 });
  await a.fit({ X: S.train.X }, S.train.task);
  const rec = await record(a, "logreg", 0.5);
  // A different model: its scores shifted so that the record's threshold lands far from 50%.
  const b = createRouter("logreg", { l2: 10 });
  await b.fit({ X: S.train.X }, S.train.task);
  for (const queryIds of [S.cal.ids, undefined]) {
    const out = path.join(tmp, `other-${queryIds ? "ids" : "noids"}`);
    await assert.rejects(
      async () =>
        exportRouterState(b.state(), {
          outDir: out,
          evalX: S.held.X,
          gatewayModels: S.gateway,
          embeddingSpec: S.spec,
          calibration: { record: rec, X: S.cal.X, ...(queryIds ? { queryIds } : {}) },
        }),
      (e: unknown) =>
        e instanceof RouterlabError && /fingerprint|outside the record's interval/.test(e.message),
    );
    assert.equal(existsSync(out), false);
  }
});

test("KNN, MF and ELO with a calibration record: refused naming why and what to do instead; nothing written", async () => {
  const small = {
    X: pickRows(S.train.X, [...Array(300).keys()]),
    labels: S.train.task.labels.subarray(0, 300),
  };
  const task: RoutingTask = {
    ...S.train.task,
    labels: small.labels,
    quality: S.train.task.quality!.subarray(0, 300 * 2),
  };
  const knn = createRouter("knn", { k: 5 });
  await knn.fit({ X: small.X }, task);
  const mf = createRouter("mf", { latentDim: 8, epochs: 1, validationFraction: 0 });
  await mf.fit({ X: small.X }, task);
  const elo = createRouter("elo", { resamples: 0 });
  await elo.fit({ X: small.X }, task);
  const lr = createRouter("logreg", { maxIterations: 30 });
  await lr.fit({ X: S.train.X }, S.train.task);
  const rec = await record(lr, "logreg", 0.5);
  const reasons: Record<string, RegExp> = {
    knn: /neighbour votes/,
    mf: /no bias anywhere/,
    elo: /ignores the query/,
  };
  for (const [kind, state] of [
    ["knn", knn.state()],
    ["mf", mf.state()],
    ["elo", elo.state()],
  ] as const) {
    const out = path.join(tmp, `refused-${kind}`);
    await assert.rejects(
      async () =>
        exportRouterState(state, {
          outDir: out,
          evalX: S.held.X,
          gatewayModels: S.gateway,
          embeddingSpec: S.spec,
          calibration: { record: rec, X: S.cal.X },
        }),
      (e: unknown) =>
        e instanceof RouterlabError &&
        reasons[kind]!.test(e.message) &&
        /nothing was written/.test(e.message) &&
        /mlp or logreg/.test(e.hint ?? ""),
    );
    assert.equal(existsSync(out), false, `${kind}: ${out} was created`);
  }
});

function cli(args: string[]): { status: number | null; out: string } {
  const p = spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    timeout: 600_000,
  });
  return { status: p.status, out: p.stdout + p.stderr };
}

test("CLI: export --calibration bakes the operating point and verify --calibration-set re-measures it; a KNN is refused with a non-zero exit and nothing written", async () => {
  const dir = path.join(tmp, "cli");
  mkdirSync(dir);
  const lr = createRouter("logreg", { maxIterations: 100 });
  await lr.fit({ X: S.train.X }, S.train.task);
  const knn = createRouter("knn", { k: 5 });
  await knn.fit(
    { X: pickRows(S.train.X, [...Array(300).keys()]) },
    {
      ...S.train.task,
      labels: S.train.task.labels.subarray(0, 300),
    },
  );
  const files = {
    logreg: saveRouterState(lr.state(), path.join(dir, "lr")).json,
    knn: saveRouterState(knn.state(), path.join(dir, "knn")).json,
    record: path.join(dir, "record.json"),
    cal: path.join(dir, "cal.f32"),
    held: path.join(dir, "held.f32"),
    ids: path.join(dir, "ids.json"),
    spec: path.join(dir, "spec.json"),
    gateway: path.join(dir, "gateway.yaml"),
  };
  saveRecord(files.record, await record(lr, "logreg", 0.3));
  writeProbes(files.cal, S.cal.X);
  writeProbes(files.held, S.held.X);
  writeFileSync(files.ids, JSON.stringify(S.cal.ids));
  writeFileSync(files.spec, JSON.stringify(S.spec));
  writeFileSync(
    files.gateway,
    "model_list:\n" +
      S.data.models
        .map((m) => `  - model_name: auto\n    litellm_params: { model: ${JSON.stringify(m)} }\n`)
        .join(""),
  );
  const common = (out: string) => [
    "--out",
    out,
    "--eval",
    files.held,
    "--embedding-spec",
    files.spec,
    "--gateway-models",
    files.gateway,
    "--calibration",
    files.record,
    "--calibration-set",
    files.cal,
  ];
  const bundle = path.join(dir, "bundle");
  const ok = cli(["export", files.logreg, ...common(bundle), "--calibration-ids", files.ids]);
  assert.equal(ok.status, 0, ok.out);
  assert.match(ok.out, /operating point: share 0.3/);
  const v = cli(["verify", bundle, "--calibration-set", files.cal]);
  assert.equal(v.status, 0, v.out);
  assert.match(v.out, /operating point ok: 30\.00% strong on 4000 calibration rows/);
  const wrong = cli(["verify", bundle, "--calibration-set", files.held]);
  assert.notEqual(wrong.status, 0, wrong.out);
  assert.match(wrong.out, /not the calibration set/);

  const refusedDir = path.join(dir, "knn-bundle");
  const refused = cli(["export", files.knn, ...common(refusedDir)]);
  assert.notEqual(refused.status, 0, refused.out);
  assert.match(refused.out, /neighbour votes/);
  assert.equal(existsSync(refusedDir), false);
});
