import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { testServices } from "../support/services";

const svc = testServices();

async function api<T>(
  method: "GET" | "POST",
  route: string,
  body: unknown,
  schema: z.ZodType<T>,
): Promise<T> {
  const url = new URL(`/api/2.0/mlflow/${route}`, svc.mlflowUri);
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (method === "GET") {
    for (const [k, v] of Object.entries(body as Record<string, string>)) url.searchParams.set(k, v);
  } else {
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  assert.ok(res.ok, `${method} ${route}: HTTP ${res.status} ${text}`);
  return schema.parse(JSON.parse(text));
}

const runSchema = z.object({
  run: z.object({
    info: z.object({
      run_id: z.string(),
      experiment_id: z.string(),
      status: z.string(),
      artifact_uri: z.string(),
    }),
    data: z
      .object({
        metrics: z
          .array(z.object({ key: z.string(), value: z.number(), step: z.coerce.number() }))
          .optional(),
      })
      .optional(),
  }),
});

describe("MLflow tracking server", () => {
  test("REST: create experiment and run, log metrics, read them back", async () => {
    const name = `routerlab-smoke-${Date.now()}-${randomBytes(3).toString("hex")}`;
    const { experiment_id } = await api(
      "POST",
      "experiments/create",
      { name },
      z.object({ experiment_id: z.string() }),
    );
    const byName = await api(
      "GET",
      "experiments/get-by-name",
      { experiment_name: name },
      z.object({ experiment: z.object({ experiment_id: z.string(), name: z.string() }) }),
    );
    assert.equal(byName.experiment.experiment_id, experiment_id);

    const created = await api("POST", "runs/create", { experiment_id, start_time: Date.now() }, runSchema);
    const runId = created.run.info.run_id;
    for (const [step, value] of [0.5, 0.625, 0.75].entries()) {
      await api(
        "POST",
        "runs/log-metric",
        { run_id: runId, key: "auc", value, timestamp: Date.now(), step },
        z.object({}),
      );
    }
    await api(
      "POST",
      "runs/update",
      { run_id: runId, status: "FINISHED", end_time: Date.now() },
      z.object({}),
    );

    const got = await api("GET", "runs/get", { run_id: runId }, runSchema);
    assert.equal(got.run.info.status, "FINISHED");
    assert.equal(got.run.info.experiment_id, experiment_id);
    const latest = got.run.data?.metrics?.find((m) => m.key === "auc");
    assert.equal(latest?.value, 0.75);
    const history = await api(
      "GET",
      "metrics/get-history",
      { run_id: runId, metric_key: "auc" },
      z.object({ metrics: z.array(z.object({ value: z.number(), step: z.coerce.number() })) }),
    );
    assert.deepEqual(
      history.metrics.map((m) => [m.step, m.value]).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)),
      [
        [0, 0.5],
        [1, 0.625],
        [2, 0.75],
      ],
    );
  });

  test("artifacts are proxied by the server into the S3 bucket", async () => {
    const { experiment_id } = await api(
      "POST",
      "experiments/create",
      { name: `routerlab-artifacts-${Date.now()}-${randomBytes(3).toString("hex")}` },
      z.object({ experiment_id: z.string() }),
    );
    const created = await api("POST", "runs/create", { experiment_id, start_time: Date.now() }, runSchema);
    const { run_id, artifact_uri } = created.run.info;
    assert.match(artifact_uri, /^mlflow-artifacts:/);
    const relative = artifact_uri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
    const content = JSON.stringify({ router: "smoke", run_id });
    const put = await fetch(
      new URL(`/api/2.0/mlflow-artifacts/artifacts/${relative}/model/config.json`, svc.mlflowUri),
      {
        method: "PUT",
        body: content,
      },
    );
    assert.ok(put.ok, `artifact upload: HTTP ${put.status} ${await put.text()}`);
    const back = await fetch(
      new URL(`/api/2.0/mlflow-artifacts/artifacts/${relative}/model/config.json`, svc.mlflowUri),
    );
    assert.equal(await back.text(), content);

    const s3 = new S3Client({
      endpoint: svc.s3.endpoint,
      region: svc.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: svc.s3.accessKeyId, secretAccessKey: svc.s3.secretAccessKey },
    });
    try {
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: svc.s3.bucket, Prefix: "mlflow-artifacts/" }),
      );
      const key = (listed.Contents ?? [])
        .map((o) => o.Key ?? "")
        .find((k) => k.endsWith(`${run_id}/artifacts/model/config.json`));
      assert.ok(key, `artifact not found in s3://${svc.s3.bucket}/mlflow-artifacts/`);
      const obj = await s3.send(new GetObjectCommand({ Bucket: svc.s3.bucket, Key: key }));
      assert.equal(await obj.Body?.transformToString(), content);
    } finally {
      s3.destroy();
    }
  });
});
