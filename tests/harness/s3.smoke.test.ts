import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { testServices } from "../support/services";

function statusOf(e: unknown): number | undefined {
  return e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
}

describe("S3 service (SeaweedFS)", () => {
  const svc = testServices();
  const bucket = svc.s3.bucket;
  const prefix = `smoke-${Date.now()}-${randomBytes(3).toString("hex")}/`;
  let s3: S3Client;

  before(() => {
    s3 = new S3Client({
      endpoint: svc.s3.endpoint,
      region: svc.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: svc.s3.accessKeyId, secretAccessKey: svc.s3.secretAccessKey },
    });
  });
  after(() => s3.destroy());

  test("put, get, list and delete an object", async () => {
    const key = `${prefix}hello.json`;
    const body = JSON.stringify({ hello: "routerlab", n: 42 });
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await got.Body?.transformToString(), body);
    assert.equal(got.ContentType, "application/json");

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key),
      [key],
    );

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await assert.rejects(
      s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      (e) => statusOf(e) === 404,
    );
  });

  test("multipart upload of two 5 MiB parts reassembles byte for byte", async () => {
    const key = `${prefix}multipart.bin`;
    const partA = randomBytes(5 * 1024 * 1024);
    const partB = randomBytes(1024 * 1024 + 17);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    assert.ok(UploadId);
    try {
      const parts = [];
      for (const [i, data] of [partA, partB].entries()) {
        const r = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: data }),
        );
        parts.push({ PartNumber: i + 1, ETag: r.ETag });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      throw e;
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    assert.equal(bytes.length, partA.length + partB.length);
    assert.ok(bytes.equals(Buffer.concat([partA, partB])));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });

  test("conditional writes: If-None-Match '*' and If-Match on PutObject", async () => {
    const key = `${prefix}lock.json`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v1", IfNoneMatch: "*" }));
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v2", IfNoneMatch: "*" })),
      (e) => statusOf(e) === 412,
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.ok(head.ETag);
    await assert.rejects(
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: "v2",
          IfMatch: '"00000000000000000000000000000000"',
        }),
      ),
      (e) => statusOf(e) === 412,
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v3", IfMatch: head.ETag }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await got.Body?.transformToString(), "v3");
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });

  test("wrong credentials are rejected", async () => {
    const bad = new S3Client({
      endpoint: svc.s3.endpoint,
      region: svc.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: "nobody", secretAccessKey: "wrong-secret" },
      maxAttempts: 1,
    });
    try {
      await assert.rejects(
        bad.send(new ListObjectsV2Command({ Bucket: bucket })),
        (e) => statusOf(e) === 403,
      );
    } finally {
      bad.destroy();
    }
  });
});
