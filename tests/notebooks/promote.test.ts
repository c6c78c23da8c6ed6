import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { ed25519PrivateKey, publicKeyB64 } from "../../lib/export/manifest";
import { readAudit, readPointer, storeFromEnv } from "../../lib/export/s3-store";
import { MlflowClient } from "../../lib/tracking/client";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { assertChartsInline, executeNotebook } from "../support/notebooks";
import { testServices } from "../support/services";

const SummarySchema = z.object({
  router: z.string(),
  winner: z.enum(["champion", "challenger"]),
  winnerKind: z.enum(["knn", "mlp"]),
  served: z.string(),
  current: z.string(),
  previous: z.string().nullable(),
  promotions: z.array(
    z.object({
      version: z.string(),
      previous: z.string().nullable(),
      mlflowVersion: z.string().nullable(),
      bundle: z.string(),
    }),
  ),
  championAlias: z.string().nullable(),
  installed: z.string().nullable(),
  signature: z.string(),
  agreement: z.object({ queries: z.number(), equal: z.number() }),
  gatewayEnv: z.array(z.string()),
  metrics: z.array(z.record(z.string(), z.unknown())).length(2),
});

/** notebooks/06_promote.ipynb against the harness's S3 and MLflow, writing to its own temporary folder. */
describe("promotion notebook", () => {
  const svc = testServices();
  const out = mkdtempSync(path.join(os.tmpdir(), "routerlab-nb-promote-"));
  after(() => rmSync(out, { recursive: true, force: true }));
  const router = `nb-${randomBytes(3).toString("hex")}`;
  const prefix = `nb-promote-${randomBytes(3).toString("hex")}/`;
  const seed = Buffer.alloc(32, 9);

  it("notebooks/06_promote.ipynb compares, promotes the winner, and the installed files make routerlab's decisions", async (t) => {
    assert.ok(svc.jupyter, "ROUTERLAB_TEST_JUPYTER must be 1");
    const executed = await executeNotebook(path.join(projectRoot(), "notebooks", "06_promote.ipynb"), {
      env: {
        ROUTERLAB_NOTEBOOK_SAMPLE: "300",
        ROUTERLAB_PROMOTE_OUT: out,
        ROUTERLAB_PROMOTE_ROUTER: router,
        ROUTERLAB_PROMOTE_PREFIX: prefix,
        ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
        ROUTERLAB_PROMOTE_BUCKET: svc.s3.bucket,
        MLFLOW_TRACKING_URI: svc.mlflowUri,
        // the project's .venv has the gateway's scikit-learn/numpy (checked by the step): no venv provisioning here
        ROUTERLAB_EXPORT_PYTHON: venvPython(),
        ROUTERLAB_SIGNING_KEY_ED25519: seed.toString("base64"),
        LLMROUTER_MODEL_PUBLIC_KEY_B64: publicKeyB64(ed25519PrivateKey(seed)),
      },
      timeoutMs: 900_000,
    });
    assertChartsInline(executed, 1); // champion vs challenger
    const s = SummarySchema.parse(JSON.parse(readFileSync(path.join(out, "summary.json"), "utf8")));
    t.diagnostic(`winner: ${s.winner} (${s.winnerKind}); ${JSON.stringify(s.metrics)}`);
    assert.equal(s.router, router);
    assert.equal(s.signature, "verified");
    assert.equal(s.installed, s.current);
    assert.ok(s.agreement.queries >= 400, `${s.agreement.queries} evaluation queries`);
    assert.equal(s.agreement.equal, s.agreement.queries);
    // A fresh router name: the champion is promoted first, then the challenger only if it won.
    assert.equal(s.promotions[0]!.bundle, "champion");
    assert.equal(s.promotions.length, s.winner === "challenger" ? 2 : 1);
    assert.equal(s.promotions.at(-1)!.version, s.current);
    assert.equal(s.previous, s.winner === "challenger" ? s.promotions[0]!.version : null);
    assert.ok(s.gatewayEnv.includes(`ROUTEIQ_ROUTING_STRATEGY=llmrouter-${s.winnerKind}`));
    assert.ok(s.gatewayEnv.includes(`LLMROUTER_MODEL_S3_KEY=${prefix}models/${router}/current/`));

    const st = storeFromEnv(svc.s3.bucket, prefix, {
      ...process.env,
      ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
    });
    try {
      assert.equal((await readPointer(st, router))?.pointer.version, s.current);
      const audit = await readAudit(st, router);
      assert.deepEqual(
        audit.map((a) => a.to),
        s.promotions.map((p) => p.version),
      );
    } finally {
      st.s3.destroy();
    }
    const mlflow = new MlflowClient(svc.mlflowUri);
    assert.equal((await mlflow.getModelVersionByAlias(router, "champion")).version, s.championAlias);
    if (s.winner === "challenger") {
      const prev = await mlflow.getModelVersionByAlias(router, "previous");
      assert.equal(prev.version, s.promotions[0]!.mlflowVersion);
    }
  });
});
