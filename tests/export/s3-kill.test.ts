import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { eloBundle, mlpBundle } from "../../lib/export/artifacts";
import { writeBundleDir } from "../../lib/export/bundle";
import type { MlpWeights } from "../../lib/export/gateway-scoring";
import type { Store } from "../../lib/export/s3-store";
import { completeCurrent, promote, readBundle, readPointer, rollback } from "../../lib/export/s3-store";
import { projectRoot } from "../../lib/util/paths";
import { testServices } from "../support/services";

/**
 * Issue 15: S3 `promote` and `rollback` stopped at every S3 write (the store's `beforeWrite` hook throws there, so
 * nothing after it runs, as with a kill). The pointer is the old version or the new one; `current/` may be torn
 * at that moment (S3 has no multi-object rename), but the completion every promote and rollback runs first turns
 * it into exactly the pointer's version: no file of the other bundle, no byte of it.
 */
const svc = testServices();
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-s3-kill-"));
const clients: S3Client[] = [];
after(() => {
  for (const c of clients) c.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

function store(beforeWrite?: (key: string) => void): Store {
  const s3 = new S3Client({
    endpoint: svc.s3.endpoint,
    region: svc.s3.region,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: svc.s3.accessKeyId, secretAccessKey: svc.s3.secretAccessKey },
  });
  clients.push(s3);
  return { s3, bucket: svc.s3.bucket, prefix: "s3-kill-test/", ...(beforeWrite ? { beforeWrite } : {}) };
}

class Killed extends Error {}

/** A store that stops at its n-th write. */
function killingStore(n: number): { st: Store; writes: string[] } {
  const writes: string[] = [];
  const st = store((k) => {
    writes.push(k);
    if (writes.length === n) throw new Killed(`killed at write ${n}: ${k}`);
  });
  return { st, writes };
}

const eloDir = path.join(tmp, "elo");
writeBundleDir(
  eloDir,
  eloBundle([
    ["openai/gpt-4o", 1010],
    ["openai/gpt-4o-mini", 990],
  ]),
  { kind: "elo" },
);
const mlpDir = path.join(tmp, "mlp");
const weights: MlpWeights = {
  inputDim: 384,
  hiddenLayerSizes: [],
  activation: "relu",
  layers: [
    {
      inDim: 384,
      outDim: 2,
      weight: new Float32Array(384 * 2).map((_, i) => Math.sin(i + 1)),
      bias: new Float32Array([0.1, -0.1]),
    },
  ],
  labels: ["openai/gpt-4o", "openai/gpt-4o-mini"],
};
writeBundleDir(mlpDir, mlpBundle(weights), { kind: "mlp" });

/** The bundle a folder holds, as `current/` should hold it: name → bytes (base64). */
function expected(dir: string): Record<string, string> {
  const { files, manifest } = readBundle(dir);
  const out: Record<string, string> = { "manifest.json": manifest.toString("base64") };
  for (const f of files) out[f.name] = f.bytes.toString("base64");
  return out;
}

/** v1 promoted whole, then the v2 promotion killed at its second write into current/ (the pointer already says v2). */
async function tornPromotion(st: Store, router: string): Promise<void> {
  await promote(st, { router, bundleDir: eloDir, version: "v1", why: "old", provenance: {} });
  let intoCurrent = 0;
  const killing = store((k) => {
    if (k.includes("/current/") && ++intoCurrent === 2) throw new Killed(`killed at ${k}`);
  });
  await assert.rejects(
    promote(killing, { router, bundleDir: mlpDir, version: "v2", why: "new", provenance: {} }),
    /killed at/,
  );
}

async function currentObjects(st: Store, router: string): Promise<Record<string, string>> {
  const pre = `${st.prefix}models/${router}/current/`;
  const r = await st.s3.send(new ListObjectsV2Command({ Bucket: st.bucket, Prefix: pre }));
  const out: Record<string, string> = {};
  for (const o of r.Contents ?? []) {
    const g = await st.s3.send(new GetObjectCommand({ Bucket: st.bucket, Key: o.Key! }));
    out[o.Key!.slice(pre.length)] = Buffer.from(await g.Body!.transformToByteArray()).toString("base64");
  }
  return out;
}

const bundles: Record<string, Record<string, string>> = { v1: expected(eloDir), v2: expected(mlpDir) };

test("S3 promote stopped at every write: the pointer is old or new, and the next run makes current/ exactly that version", async () => {
  const st = store();
  const seen: { n: number; pointer: string; torn: boolean }[] = [];
  for (let n = 1; n < 40; n++) {
    const router = `k${n}-${randomBytes(3).toString("hex")}`;
    await promote(st, { router, bundleDir: eloDir, version: "v1", why: "old", provenance: {} });
    assert.deepEqual(await currentObjects(st, router), bundles.v1);
    const killing = killingStore(n);
    try {
      await promote(killing.st, { router, bundleDir: mlpDir, version: "v2", why: "new", provenance: {} });
    } catch (e) {
      if (!(e instanceof Killed) && !(e instanceof Error && /killed at write/.test(e.message))) throw e;
      const pointer = (await readPointer(st, router))!.pointer.version;
      assert.ok(pointer === "v1" || pointer === "v2", `kill at write ${n}: pointer ${pointer}`);
      const before = await currentObjects(st, router);
      const torn = JSON.stringify(before) !== JSON.stringify(bundles[pointer]);
      await completeCurrent(st, router);
      assert.deepEqual(await currentObjects(st, router), bundles[pointer], `kill at write ${n}`);
      seen.push({ n, pointer, torn });
      continue;
    }
    assert.deepEqual(await currentObjects(st, router), bundles.v2);
    assert.ok(
      seen.some((k) => k.pointer === "v1"),
      "a kill before the pointer was seen",
    );
    assert.ok(
      seen.some((k) => k.pointer === "v2"),
      "a kill after the pointer was seen",
    );
    assert.ok(
      seen.some((k) => k.torn),
      "a kill while current/ was being rewritten was seen (and repaired)",
    );
    assert.ok(seen.length >= 8, `stopped at ${seen.length} writes`);
    return;
  }
  assert.fail("promote never finished");
});

test("a rollback after a promote killed mid-copy first completes current/, then publishes the rolled-back version whole", async () => {
  const st = store();
  const router = `rb-${randomBytes(3).toString("hex")}`;
  await tornPromotion(st, router);
  assert.equal((await readPointer(st, router))!.pointer.version, "v2");
  assert.notDeepEqual(await currentObjects(st, router), bundles.v2, "current/ was left torn");

  const writes: string[] = [];
  const recording = store((k) => void writes.push(k.slice(`${st.prefix}models/${router}/`.length)));
  const rb = await rollback(recording, { router, why: "regression" });
  assert.equal(rb.version, "v1");
  assert.deepEqual(await currentObjects(st, router), bundles.v1);
  const pointerAt = writes.indexOf("CURRENT.pointer");
  assert.ok(pointerAt > 0, writes.join(", "));
  assert.deepEqual(
    writes.slice(0, pointerAt),
    [
      "current/manifest.json",
      "current/router.json",
      "current/router.pt",
      "current/elo.json",
      "CURRENT.copied",
    ],
    "v2 is completed in current/ (and v1's elo.json removed) before the pointer moves",
  );
});

/** `routerlab rollback` as a process, SIGKILLed at its `killAt`-th write (ROUTERLAB_TEST_KILL_AT_WRITE). */
function rollbackCli(
  router: string,
  killAt?: number,
): { status: number | null; signal: string | null; out: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROUTERLAB_QUIET: "1",
    ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
  };
  delete env.MLFLOW_TRACKING_URI;
  if (killAt !== undefined) env.ROUTERLAB_TEST_KILL_AT_WRITE = String(killAt);
  const args = ["rollback", "--router", router, "--bucket", svc.s3.bucket, "--prefix", "s3-kill-test/"];
  const p = spawnSync(
    process.execPath,
    [path.join(projectRoot(), "bin", "routerlab.js"), ...args, "--why", "kill"],
    {
      env,
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  return { status: p.status, signal: p.signal, out: p.stdout + p.stderr };
}

test("routerlab rollback SIGKILLed at every S3 write: the pointer is old or new, and completion makes current/ exactly that version", async () => {
  const st = store();
  const seen: { n: number; pointer: string; torn: boolean }[] = [];
  for (let n = 1; n < 30; n++) {
    const router = `rk${n}-${randomBytes(3).toString("hex")}`;
    await promote(st, { router, bundleDir: eloDir, version: "v1", why: "old", provenance: {} });
    await promote(st, { router, bundleDir: mlpDir, version: "v2", why: "new", provenance: {} });
    const r = rollbackCli(router, n);
    const pointer = (await readPointer(st, router))!.pointer.version;
    if (r.signal === "SIGKILL") {
      assert.ok(pointer === "v1" || pointer === "v2", `kill at write ${n}: pointer ${pointer}`);
      const torn = JSON.stringify(await currentObjects(st, router)) !== JSON.stringify(bundles[pointer]);
      await completeCurrent(st, router);
      assert.deepEqual(await currentObjects(st, router), bundles[pointer], `kill at write ${n}`);
      seen.push({ n, pointer, torn });
      continue;
    }
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /rolled back .*: v2 → v1/);
    assert.equal(pointer, "v1");
    assert.deepEqual(await currentObjects(st, router), bundles.v1);
    assert.ok(
      seen.some((k) => k.pointer === "v2"),
      "a kill before the pointer moved was seen",
    );
    assert.ok(
      seen.some((k) => k.pointer === "v1" && k.torn),
      "a kill while current/ was being rewritten was seen (and repaired)",
    );
    return;
  }
  assert.fail("rollback never finished");
});

function verifyCli(router: string): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROUTERLAB_QUIET: "1",
    ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
  };
  const args = ["verify", "--s3", router, "--bucket", svc.s3.bucket, "--prefix", "s3-kill-test/"];
  const p = spawnSync(process.execPath, [path.join(projectRoot(), "bin", "routerlab.js"), ...args], {
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: p.status, out: p.stdout + p.stderr };
}

test("routerlab verify --s3 completes a current/ a killed promote left torn, then verifies it; a tampered current/ fails", async () => {
  const st = store();
  const router = `vf-${randomBytes(3).toString("hex")}`;
  await tornPromotion(st, router);
  assert.notDeepEqual(await currentObjects(st, router), bundles.v2, "current/ was left torn");

  const first = verifyCli(router);
  assert.equal(first.status, 0, first.out);
  assert.match(
    first.out,
    /ok: current\/ = version v2, completed \(left torn by a killed promote or rollback\), then verified: router\.pt/,
  );
  assert.deepEqual(await currentObjects(st, router), bundles.v2);
  const again = verifyCli(router);
  assert.equal(again.status, 0, again.out);
  assert.match(
    again.out,
    /ok: current\/ = version v2, verified: router\.pt/,
    "a whole current/ is not rewritten",
  );

  // a served file changed behind routerlab's back (CURRENT.copied still agrees): refused, naming the S3 manifest
  const pt = `${st.prefix}models/${router}/current/router.pt`;
  const bytes = Buffer.from(bundles.v2!["router.pt"]!, "base64");
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  await st.s3.send(new PutObjectCommand({ Bucket: st.bucket, Key: pt, Body: bytes }));
  const bad = verifyCli(router);
  assert.equal(bad.status, 1, bad.out);
  assert.match(
    bad.out,
    new RegExp(
      `s3://${svc.s3.bucket}/s3-kill-test/models/${router}/current/manifest\\.json: verification failed`,
    ),
  );
  assert.match(bad.out, /router\.pt/);
  assert.doesNotMatch(bad.out, /\n\s+at /, "no stack trace");
});
