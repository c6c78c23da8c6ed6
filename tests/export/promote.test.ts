import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mlpBundle } from "../../lib/export/artifacts";
import { writeBundleDir } from "../../lib/export/bundle";
import type { MlpWeights } from "../../lib/export/gateway-scoring";
import { MlflowRegistry } from "../../lib/export/registry";
import type { Store } from "../../lib/export/s3-store";
import {
  ConcurrentPromotionError,
  promote,
  readAudit,
  readPointer,
  rollback,
  syncOnce,
} from "../../lib/export/s3-store";
import { MlflowClient } from "../../lib/tracking/client";
import { startS3 } from "../harness/services";
import { testServices } from "../support/services";

const svc = testServices();
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-promote-"));
const clients: S3Client[] = [];
after(() => {
  for (const c of clients) c.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

function client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  const c = new S3Client({
    endpoint,
    region: svc.s3.region,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey },
  });
  clients.push(c);
  return c;
}

const sharedStore = (): Store => ({
  s3: client(svc.s3.endpoint, svc.s3.accessKeyId, svc.s3.secretAccessKey),
  bucket: svc.s3.bucket,
  prefix: `export-test-${randomBytes(3).toString("hex")}/`,
});

function bundle(seed: number): string {
  const weight = new Float32Array(384 * 2).map((_, i) => Math.sin(i * seed + 1));
  const m: MlpWeights = {
    inputDim: 384,
    hiddenLayerSizes: [],
    activation: "relu",
    layers: [{ inDim: 384, outDim: 2, weight, bias: new Float32Array([seed, -seed]) }],
    labels: ["openai/gpt-4o", "openai/gpt-4o-mini"],
  };
  const dir = path.join(tmp, `bundle-${seed}-${randomBytes(3).toString("hex")}`);
  writeBundleDir(dir, mlpBundle(m), { kind: "mlp" });
  return dir;
}

const prov = (seed: number) => ({
  run_id: `run-${seed}`,
  metrics: { apgr: 0.5 + seed / 100 },
  data_fingerprint: "abc",
});

test("promote, sync, rollback: exact earlier bytes restored, strictly newer mtime, audit in S3 and MLflow", async () => {
  const st = sharedStore();
  const registry = MlflowRegistry.fromUri(svc.mlflowUri);
  const router = `r-${randomBytes(3).toString("hex")}`;
  const b1 = bundle(1);
  const b2 = bundle(2);
  const p1 = await promote(st, {
    router,
    bundleDir: b1,
    version: "v1",
    why: "first",
    who: "alice",
    provenance: prov(1),
    registry,
  });
  assert.equal(p1.previous, null);
  const p2 = await promote(st, {
    router,
    bundleDir: b2,
    version: "v2",
    why: "better APGR",
    who: "bob",
    provenance: prov(2),
    registry,
  });
  assert.equal(p2.previous, "v1");
  assert.equal((await readPointer(st, router))?.pointer.version, "v2");

  const mlflow = new MlflowClient(svc.mlflowUri);
  assert.equal((await mlflow.getModelVersionByAlias(router, "champion")).version, p2.mlflowVersion);
  assert.equal((await mlflow.getModelVersionByAlias(router, "previous")).version, p1.mlflowVersion);

  const gw = path.join(tmp, `gateway-${router}`);
  mkdirSync(gw);
  const s1 = await syncOnce(st, { router, gatewayDir: gw });
  assert.equal(s1.changed, true);
  assert.deepEqual(readFileSync(path.join(gw, "router.pt")), readFileSync(path.join(b2, "router.pt")));
  assert.equal((await syncOnce(st, { router, gatewayDir: gw })).changed, false);
  const mtimeV2 = statSync(path.join(gw, "router.pt")).mtimeMs;

  const rb = await rollback(st, { router, why: "regression", who: "carol", registry });
  assert.equal(rb.version, "v1");
  assert.equal((await mlflow.getModelVersionByAlias(router, "champion")).version, p1.mlflowVersion);
  assert.equal((await mlflow.getModelVersionByAlias(router, "previous")).version, p2.mlflowVersion);
  const s2 = await syncOnce(st, { router, gatewayDir: gw });
  assert.equal(s2.version, "v1");
  for (const f of ["router.pt", "router.json", "manifest.json"]) {
    assert.deepEqual(readFileSync(path.join(gw, f)), readFileSync(path.join(b1, f)), f);
  }
  assert.ok(statSync(path.join(gw, "router.pt")).mtimeMs > mtimeV2);
  assert.deepEqual(
    readdirSync(gw).filter((f) => !f.startsWith(".routerlab-sync-state")),
    ["manifest.json", "router.json", "router.pt"],
  );

  const audit = await readAudit(st, router);
  assert.deepEqual(
    audit.map((a) => [a.action, a.who, a.from, a.to, a.why]),
    [
      ["promote", "alice", null, "v1", "first"],
      ["promote", "bob", "v1", "v2", "better APGR"],
      ["rollback", "carol", "v2", "v1", "regression"],
    ],
  );
  const tagged = await mlflow.searchModelVersions(`name='${router}'`);
  assert.equal(tagged.length, 2, "rollback re-uses the registered version");
  // rollback to a named version works too
  assert.equal(
    (await rollback(st, { router, to: "v2", why: "re-promote", who: "dan", registry })).version,
    "v2",
  );
  await assert.rejects(rollback(st, { router, to: "v9", why: "x" }), /does not exist/);
});

test("two concurrent promotions: exactly one wins; pointer and MLflow champion agree", async () => {
  const st = sharedStore();
  const registry = MlflowRegistry.fromUri(svc.mlflowUri);
  const router = `c-${randomBytes(3).toString("hex")}`;
  await promote(st, {
    router,
    bundleDir: bundle(3),
    version: "base",
    why: "base",
    provenance: prov(3),
    registry,
  });
  // Both read the pointer before either writes it.
  let arrived = 0;
  let release: () => void = () => {};
  const barrier = new Promise<void>((r) => (release = r));
  const onStep = async (s: string) => {
    if (s !== "before-pointer") return;
    if (++arrived === 2) release();
    await barrier;
  };
  const results = await Promise.allSettled([
    promote(st, {
      router,
      bundleDir: bundle(4),
      version: "a",
      why: "a",
      provenance: prov(4),
      registry,
      onStep,
    }),
    promote(st, {
      router,
      bundleDir: bundle(5),
      version: "b",
      why: "b",
      provenance: prov(5),
      registry,
      onStep,
    }),
  ]);
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r) => r.status === "rejected");
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConcurrentPromotionError);
  const winner = (won[0] as PromiseFulfilledResult<{ version: string; mlflowVersion: string | null }>).value;
  assert.equal((await readPointer(st, router))?.pointer.version, winner.version);
  const mlflow = new MlflowClient(svc.mlflowUri);
  assert.equal((await mlflow.getModelVersionByAlias(router, "champion")).version, winner.mlflowVersion);
  assert.equal(
    (await mlflow.searchModelVersions(`name='${router}'`)).length,
    2,
    "the loser registered nothing",
  );
  assert.equal((await readAudit(st, router)).length, 2);
});

test("sync keeps the installed files when the promoted version is corrupt", async () => {
  const st = sharedStore();
  const router = `s-${randomBytes(3).toString("hex")}`;
  const b1 = bundle(6);
  await promote(st, { router, bundleDir: b1, version: "good", why: "x", provenance: prov(6) });
  const gw = path.join(tmp, `gw-${router}`);
  mkdirSync(gw);
  await syncOnce(st, { router, gatewayDir: gw });
  await promote(st, { router, bundleDir: bundle(7), version: "bad", why: "x", provenance: prov(7) });
  // corrupt the stored artifact behind routerlab's back
  const k = `${st.prefix}models/${router}/bad/router.pt`;
  const bytes = Buffer.from(readFileSync(path.join(b1, "router.pt")));
  await st.s3.send(new PutObjectCommand({ Bucket: st.bucket, Key: k, Body: bytes }));
  await assert.rejects(
    syncOnce(st, { router, gatewayDir: gw }),
    /does not verify; keeping the installed files/,
  );
  for (const f of ["router.pt", "router.json", "manifest.json"]) {
    assert.deepEqual(readFileSync(path.join(gw, f)), readFileSync(path.join(b1, f)));
  }
  assert.deepEqual(
    readdirSync(gw).filter((f) => f.includes("staging") || f.includes("tmp")),
    [],
  );
});

test("the S3 server stopped mid-promotion leaves `current` unchanged", async () => {
  const dataDir = path.join(tmp, "s3-data");
  let s3 = await startS3({ dataDir, bucket: "faults" });
  try {
    const mk = (): Store => ({
      s3: client(s3.url, s3.accessKey, s3.secretKey),
      bucket: "faults",
      prefix: "",
    });
    const router = "fault";
    await promote(mk(), { router, bundleDir: bundle(8), version: "v1", why: "x", provenance: prov(8) });
    const stopping = mk();
    await assert.rejects(
      promote(stopping, {
        router,
        bundleDir: bundle(9),
        version: "v2",
        why: "x",
        provenance: prov(9),
        onStep: async (s) => {
          if (s === "uploaded") await s3.stop();
        },
      }),
    );
    s3 = await startS3({ dataDir, bucket: "faults" });
    const st = mk();
    assert.equal((await readPointer(st, router))?.pointer.version, "v1");
    const gw = path.join(tmp, "gw-fault");
    mkdirSync(gw);
    assert.equal((await syncOnce(st, { router, gatewayDir: gw })).version, "v1");
    assert.ok(existsSync(path.join(gw, "router.pt")));
  } finally {
    await s3.stop();
  }
});
