import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { S3Client } from "@aws-sdk/client-s3";
import { GATEWAY_EMBEDDING } from "../../lib/embed/types";
import { buildManifest, MANIFEST_NAME } from "../../lib/export/bundle";
import { exportRouterState } from "../../lib/export/export-router";
import { manifestJson } from "../../lib/export/manifest";
import { publishToDir } from "../../lib/export/publish-dir";
import type { Store } from "../../lib/export/s3-store";
import {
  listRouterObjects,
  promote,
  readBundle,
  readPointer,
  rollback,
  syncOnce,
} from "../../lib/export/s3-store";
import type { GatewayModels } from "../../lib/export/safety";
import { createRouter } from "../../lib/routers/registry";
import { venvPython } from "../../lib/util/paths";
import { binaryExportData } from "./synthetic";
import { testServices } from "../support/services";

/**
 * Issue 17 item 5: promote / rollback / publish leave exactly one bundle's files in S3 `current/` and in the gateway's
 * folder, and every bundle is loaded and re-scored before anything is published (a truncated artifact whose manifest
 * was re-hashed to match is refused).
 */
const svc = testServices();
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-hygiene-"));
const clients: S3Client[] = [];
after(() => {
  for (const c of clients) c.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

const WEAK = "openai/gpt-4o-mini";
const STRONG = "openai/gpt-4o";
const GATEWAY: GatewayModels = {
  model_list: [WEAK, STRONG].map((m) => ({ model_name: "auto", litellm_params: { model: m } })),
};
const SPEC = { ...GATEWAY_EMBEDDING, weightsSha256: "0".repeat(64) };

const data = (seed: number, rows: number) => binaryExportData(seed, rows, WEAK, STRONG);
const train = data(1, 400);
const evalSet = data(2, 200);
const bundles: Record<string, string> = {};

before(async () => {
  process.env.ROUTERLAB_EXPORT_PYTHON = venvPython();
  const specs: [string, string, Record<string, unknown>][] = [
    ["knn", "knn", { k: 5 }],
    ["mf", "mf", { latentDim: 8, epochs: 2, validationFraction: 0 }],
    ["mlp", "mlp", { hiddenLayerSizes: [8], epochs: 3, validationFraction: 0 }],
    ["centroid", "centroid", {}],
  ];
  for (const [name, kind, hp] of specs) {
    const r = createRouter(kind, hp);
    await r.fit({ X: train.X }, train.task);
    const dir = path.join(tmp, `bundle-${name}`);
    await exportRouterState(r.state(), {
      outDir: dir,
      evalX: evalSet.X,
      gatewayModels: GATEWAY,
      embeddingSpec: SPEC,
    });
    bundles[name] = dir;
  }
  // The same task with every label flipped: an MLP that decides the opposite way.
  const flipped = createRouter("mlp", { hiddenLayerSizes: [8], epochs: 3, validationFraction: 0 });
  await flipped.fit({ X: train.X }, { ...train.task, labels: train.task.labels.map((l) => 1 - l) });
  bundles.flipped = path.join(tmp, "bundle-flipped");
  await exportRouterState(flipped.state(), {
    outDir: bundles.flipped,
    evalX: evalSet.X,
    gatewayModels: GATEWAY,
    embeddingSpec: SPEC,
  });
});

/** The gateway folder's files, without the sync sidecar's hidden state. */
const visible = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort();
const bundleFiles = (dir: string): string[] => readdirSync(dir).sort();

test("publishToDir: MF → KNN → centroid → MLP leaves exactly the last bundle's files (other files untouched)", () => {
  const gw = path.join(tmp, "gateway-dir");
  mkdirSync(gw);
  writeFileSync(path.join(gw, "README.operator"), "not routerlab's");
  for (const name of ["mf", "knn", "centroid", "mlp"]) {
    const { files, manifest } = readBundle(bundles[name]!);
    publishToDir(gw, files, manifest);
    assert.deepEqual(
      visible(gw),
      [...bundleFiles(bundles[name]!), "README.operator"].sort(),
      `after ${name}`,
    );
    for (const f of bundleFiles(bundles[name]!))
      assert.ok(readFileSync(path.join(gw, f)).equals(readFileSync(path.join(bundles[name]!, f))));
  }
});

test("a truncated artifact whose manifest was re-hashed verifies by hash but is refused before publishing; a re-hashed artifact with other weights too", async () => {
  const { files, manifest } = readBundle(bundles.mlp!);
  const m = JSON.parse(manifest.toString("utf8")) as { metadata?: Record<string, unknown> };
  const gw = path.join(tmp, "gateway-truncated");
  mkdirSync(gw);
  const good = readBundle(bundles.knn!);
  publishToDir(gw, good.files, good.manifest);
  const before = Object.fromEntries(visible(gw).map((f) => [f, readFileSync(path.join(gw, f))]));

  const truncated = files.map((f) =>
    f.served ? { ...f, bytes: f.bytes.subarray(0, f.bytes.length - 100) } : f,
  );
  // One flipped byte inside a weight: the zip's CRC-32 no longer matches.
  const flippedByte = files.map((f) => {
    if (!f.served) return f;
    const b = Buffer.from(f.bytes);
    b[b.length - 2000] = b[b.length - 2000]! ^ 0x40;
    return { ...f, bytes: b };
  });
  // Another MLP's valid files (same shapes) under this bundle's manifest metadata: loads, but decides otherwise.
  const other = readBundle(bundles.flipped!).files;
  for (const [what, fs, pattern] of [
    ["truncated", truncated, /does not load/],
    ["flipped byte", flippedByte, /does not load: .*CRC-32/],
    ["other weights", other, /decides differently than when it was exported/],
  ] as const) {
    const rehashed = manifestJson(buildManifest(fs, { kind: "mlp", metadata: m.metadata ?? {} }));
    const dir = path.join(tmp, `rehashed-${what.replace(/\W/g, "")}`);
    mkdirSync(dir);
    for (const f of fs) writeFileSync(path.join(dir, f.name), f.bytes);
    writeFileSync(path.join(dir, MANIFEST_NAME), rehashed);
    assert.throws(() => publishToDir(gw, fs, rehashed), pattern, what);
    const now = Object.fromEntries(visible(gw).map((f) => [f, readFileSync(path.join(gw, f))]));
    assert.deepEqual(Object.keys(now), Object.keys(before));
    for (const f of Object.keys(now)) assert.ok(now[f]!.equals(before[f]!), `${what}: ${f} changed`);
    // promote to S3 refuses too, before uploading anything
    const st = store();
    await assert.rejects(
      promote(st, { router: "tampered", bundleDir: dir, why: what, provenance: {} }),
      pattern,
    );
    assert.equal(await readPointer(st, "tampered"), undefined);
    assert.deepEqual(await listRouterObjects(st, "tampered"), []);
  }
});

function store(): Store {
  const s3 = new S3Client({
    endpoint: svc.s3.endpoint,
    region: svc.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: svc.s3.accessKeyId, secretAccessKey: svc.s3.secretAccessKey },
  });
  clients.push(s3);
  return { s3, bucket: svc.s3.bucket, prefix: `hygiene-${randomBytes(3).toString("hex")}/` };
}

test("S3: promote KNN, promote MF, roll back: current/ and the synced gateway folder hold only KNN files", async () => {
  const st = store();
  const router = "hygiene";
  const gw = path.join(tmp, "gateway-sync");
  mkdirSync(gw);
  const current = async () =>
    (await listRouterObjects(st, router))
      .map((o) => o.key)
      .filter((k) => k.startsWith("current/"))
      .map((k) => k.slice("current/".length))
      .sort();
  await promote(st, { router, bundleDir: bundles.knn!, why: "knn", provenance: {} });
  await syncOnce(st, { router, gatewayDir: gw });
  assert.deepEqual(await current(), bundleFiles(bundles.knn!));
  assert.deepEqual(visible(gw), bundleFiles(bundles.knn!));
  await promote(st, { router, bundleDir: bundles.mf!, why: "mf", provenance: {} });
  await syncOnce(st, { router, gatewayDir: gw });
  assert.deepEqual(await current(), bundleFiles(bundles.mf!));
  assert.deepEqual(visible(gw), bundleFiles(bundles.mf!));
  await rollback(st, { router, why: "back to knn" });
  await syncOnce(st, { router, gatewayDir: gw });
  assert.deepEqual(await current(), bundleFiles(bundles.knn!));
  assert.deepEqual(visible(gw), bundleFiles(bundles.knn!));
  assert.ok(!visible(gw).some((f) => f.endsWith(".pt")), "an MF file is left in the gateway folder");
});
