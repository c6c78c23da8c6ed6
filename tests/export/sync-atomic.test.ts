import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { mlpBundle } from "../../lib/export/artifacts";
import { writeBundleDir } from "../../lib/export/bundle";
import type { MlpWeights } from "../../lib/export/gateway-scoring";
import { promote, rollback, storeFromEnv, syncOnce } from "../../lib/export/s3-store";
import { projectRoot } from "../../lib/util/paths";
import { createRng } from "../../lib/util/random";
import { testServices } from "../support/services";

/**
 * `sync` never leaves a half-written file where the gateway reads: a separate reader process hashes the served file
 * as fast as it can while versions are swapped back and forth and sync processes are killed at random moments; every
 * read must be one of the complete versions.
 */
const svc = testServices();
const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-sync-atomic-"));
const env = { ...process.env, ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint };
const st = storeFromEnv(svc.s3.bucket, `sync-atomic-${randomBytes(3).toString("hex")}`, env);
after(() => {
  st.s3.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

/** A 384 → 2048 → 2 MLP: a ~3 MB router.pt, so a write is not instantaneous. */
function bundle(seed: number): string {
  const rng = createRng(seed);
  const m: MlpWeights = {
    inputDim: 384,
    hiddenLayerSizes: [2048],
    activation: "relu",
    layers: [
      {
        inDim: 384,
        outDim: 2048,
        weight: Float32Array.from({ length: 384 * 2048 }, () => rng.normal()),
        bias: new Float32Array(2048),
      },
      {
        inDim: 2048,
        outDim: 2,
        weight: Float32Array.from({ length: 2 * 2048 }, () => rng.normal()),
        bias: new Float32Array(2),
      },
    ],
    labels: ["openai/gpt-4o", "openai/gpt-4o-mini"],
  };
  const dir = path.join(tmp, `bundle-${seed}`);
  writeBundleDir(dir, mlpBundle(m), { kind: "mlp" });
  return dir;
}

const READER = `
const fs = require("fs"), crypto = require("crypto"), path = require("path");
const [dir, allowed, stop] = process.argv.slice(1);
const ok = new Set(allowed.split(","));
let reads = 0;
// an orphan (the test was killed) stops instead of spinning until the stop file that will never come
const parent = process.ppid;
while (!fs.existsSync(stop) && process.ppid === parent) {
  let b;
  try { b = fs.readFileSync(path.join(dir, "router.pt")); } catch (e) {
    // before the first install there is no file; after it, the file must never be missing
    if (e.code === "ENOENT" && reads === 0) continue;
    console.log(JSON.stringify({ missing: true, reads })); process.exit(1);
  }
  const h = crypto.createHash("sha256").update(b).digest("hex");
  if (!ok.has(h)) { console.log(JSON.stringify({ bad: h, bytes: b.length, reads })); process.exit(1); }
  reads++;
}
console.log(JSON.stringify({ reads }));
`;

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

test("a concurrent reader only ever sees complete versions while sync swaps them and sync processes are killed", async () => {
  const router = `atomic-${randomBytes(3).toString("hex")}`;
  const b1 = bundle(1);
  const b2 = bundle(2);
  await promote(st, { router, bundleDir: b1, version: "v1", why: "one", provenance: {} });
  await promote(st, { router, bundleDir: b2, version: "v2", why: "two", provenance: {} });
  const gw = path.join(tmp, "gateway");
  mkdirSync(gw);
  const stop = path.join(tmp, "stop");
  const allowed = [sha(path.join(b1, "router.pt")), sha(path.join(b2, "router.pt"))];
  const reader = spawn(process.execPath, ["-e", READER, gw, allowed.join(","), stop], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let readerOut = "";
  reader.stdout.on("data", (d: Buffer) => (readerOut += d.toString()));
  const readerDone = new Promise<number | null>((resolve) => reader.on("exit", resolve));

  const cliSync = (killAfterMs: number) =>
    new Promise<void>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          path.join(projectRoot(), "bin", "routerlab.js"),
          "sync",
          "--router",
          router,
          "--bucket",
          st.bucket,
          "--prefix",
          st.prefix,
          "--gateway-dir",
          gw,
          "--once",
        ],
        { env, stdio: "ignore" },
      );
      const t = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
      p.on("exit", () => {
        clearTimeout(t);
        resolve();
      });
    });

  const rng = createRng(5);
  try {
    for (let round = 0; round < 16; round++) {
      // flip current between v1 and v2, then install it: in this process, or by a CLI sync killed at a random moment
      await rollback(st, { router, to: round % 2 === 0 ? "v1" : "v2", why: `round ${round}` });
      // give the reader time to be mid-read when the swap happens
      await new Promise((r) => setTimeout(r, 20 + Math.floor(rng.next() * 40)));
      if (round % 4 !== 3) await syncOnce(st, { router, gatewayDir: gw });
      else await cliSync(300 + Math.floor(rng.next() * 1500));
    }
    const last = await syncOnce(st, { router, gatewayDir: gw });
    assert.equal(last.version, "v2");
  } finally {
    writeFileSync(stop, "");
  }
  const code = await readerDone;
  const res = JSON.parse(readerOut.trim().split("\n").pop() ?? "{}") as { reads?: number; bad?: string };
  assert.equal(code, 0, `reader saw a file that is no complete version: ${readerOut}`);
  assert.ok((res.reads ?? 0) > 20, `only ${res.reads} reads`);
  for (const f of ["router.pt", "router.json", "manifest.json"]) {
    assert.deepEqual(readFileSync(path.join(gw, f)), readFileSync(path.join(b2, f)), f);
  }
  // what killed syncs left behind is cleaned by the next sync
  assert.deepEqual(
    readdirSync(gw).filter((f) => /routerlab-(staging|tmp)|\.tmp$/.test(f)),
    [],
  );
});
