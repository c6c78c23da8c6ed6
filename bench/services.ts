import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import { venvPython } from "../lib/util/paths";
import { startS3, type S3Service } from "../tests/harness/services";
import type { BenchArea, BenchResult } from "./types";

/**
 * S3 throughput of the TypeScript client routerlab uses (@aws-sdk/client-s3) against boto3, both talking to the
 * same SeaweedFS server in the same run: small-object round trips (put + get of 1 MiB) and a multipart upload
 * (4 x 8 MiB parts) read back. Also the harness's S3 start-up time.
 */
const OBJECTS = 24;
const OBJECT_BYTES = 1024 * 1024;
const PART_BYTES = 8 * 1024 * 1024;
const PARTS = 4;

const PY_PEER = `
import json, os, sys, time, boto3
from botocore.config import Config
endpoint, bucket, n, size, part, parts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"],
                  config=Config(s3={"addressing_style": "path"}))
body = os.urandom(size)
t0 = time.perf_counter()
for i in range(n):
    s3.put_object(Bucket=bucket, Key=f"bench-py/{i}", Body=body)
    got = s3.get_object(Bucket=bucket, Key=f"bench-py/{i}")["Body"].read()
    assert len(got) == size
small = time.perf_counter() - t0
chunk = os.urandom(part)
t0 = time.perf_counter()
up = s3.create_multipart_upload(Bucket=bucket, Key="bench-py/mp")
done = []
for p in range(parts):
    r = s3.upload_part(Bucket=bucket, Key="bench-py/mp", UploadId=up["UploadId"], PartNumber=p + 1, Body=chunk)
    done.append({"PartNumber": p + 1, "ETag": r["ETag"]})
s3.complete_multipart_upload(Bucket=bucket, Key="bench-py/mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
got = s3.get_object(Bucket=bucket, Key="bench-py/mp")["Body"].read()
assert len(got) == part * parts
multipart = time.perf_counter() - t0
for i in range(n):
    s3.delete_object(Bucket=bucket, Key=f"bench-py/{i}")
s3.delete_object(Bucket=bucket, Key="bench-py/mp")
print(json.dumps({"small_s": small, "multipart_s": multipart}))
`;

const PeerResult = z.object({ small_s: z.number().positive(), multipart_s: z.number().positive() });

async function tsRun(svc: S3Service): Promise<{ small_s: number; multipart_s: number }> {
  const s3 = new S3Client({
    endpoint: svc.url,
    region: svc.region,
    forcePathStyle: true,
    credentials: { accessKeyId: svc.accessKey, secretAccessKey: svc.secretKey },
  });
  try {
    const body = randomBytes(OBJECT_BYTES);
    let t0 = performance.now();
    for (let i = 0; i < OBJECTS; i++) {
      await s3.send(new PutObjectCommand({ Bucket: svc.bucket, Key: `bench-ts/${i}`, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: svc.bucket, Key: `bench-ts/${i}` }));
      const bytes = await got.Body?.transformToByteArray();
      if (bytes?.length !== OBJECT_BYTES) throw new Error(`bench-ts/${i}: read ${bytes?.length} bytes`);
    }
    const small = (performance.now() - t0) / 1000;

    const chunk = randomBytes(PART_BYTES);
    t0 = performance.now();
    const key = "bench-ts/mp";
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: svc.bucket, Key: key }));
    const parts = [];
    for (let p = 0; p < PARTS; p++) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket: svc.bucket, Key: key, UploadId, PartNumber: p + 1, Body: chunk }),
      );
      parts.push({ PartNumber: p + 1, ETag: r.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: svc.bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: svc.bucket, Key: key }));
    const bytes = await got.Body?.transformToByteArray();
    if (bytes?.length !== PART_BYTES * PARTS) throw new Error(`${key}: read ${bytes?.length} bytes`);
    const multipart = (performance.now() - t0) / 1000;
    for (let i = 0; i < OBJECTS; i++) {
      await s3.send(new DeleteObjectCommand({ Bucket: svc.bucket, Key: `bench-ts/${i}` }));
    }
    await s3.send(new DeleteObjectCommand({ Bucket: svc.bucket, Key: key }));
    return { small_s: small, multipart_s: multipart };
  } finally {
    s3.destroy();
  }
}

function vsPeer(name: string, value: number, peerValue: number, goalRatio: number): BenchResult {
  const ratio = value / peerValue;
  return {
    name,
    value,
    unit: "MB/s",
    peer: "boto3",
    peerValue,
    ratio,
    goal: `>= ${goalRatio}x boto3`,
    met: ratio >= goalRatio,
  };
}

async function run(): Promise<BenchResult[]> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const t0 = performance.now();
  const svc = await startS3({ bucket: "routerlab-bench" });
  const startSeconds = (performance.now() - t0) / 1000;
  try {
    const py = spawnSync(
      venvPython(),
      ["-c", PY_PEER, svc.url, svc.bucket, ...[OBJECTS, OBJECT_BYTES, PART_BYTES, PARTS].map(String)],
      {
        encoding: "utf8",
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: svc.accessKey,
          AWS_SECRET_ACCESS_KEY: svc.secretKey,
          AWS_REGION: svc.region,
        },
      },
    );
    if (py.status !== 0) throw new Error(`boto3 peer failed: ${py.stderr.slice(-2000)}`);
    const peer = PeerResult.parse(JSON.parse(py.stdout.trim().split("\n").at(-1) ?? ""));
    const ts = await tsRun(svc);
    const mb = (bytes: number): number => bytes / (1024 * 1024);
    const smallMb = mb(2 * OBJECTS * OBJECT_BYTES);
    const mpMb = mb(2 * PARTS * PART_BYTES);
    return [
      vsPeer("services.s3.roundtrip_1mib", smallMb / ts.small_s, smallMb / peer.small_s, 0.8),
      vsPeer("services.s3.multipart_32mib", mpMb / ts.multipart_s, mpMb / peer.multipart_s, 0.8),
      {
        name: "services.s3.start",
        value: startSeconds,
        unit: "s",
        peer: null,
        peerValue: null,
        ratio: null,
        goal: "<= 15 s",
        met: startSeconds <= 15,
      },
    ];
  } finally {
    await svc.stop();
  }
}

export const servicesBench: BenchArea = { prefix: "services.", run };
