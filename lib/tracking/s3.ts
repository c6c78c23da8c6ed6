import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { RouterlabError } from "../util/errors";
import { sha256File } from "../util/hash";
import { redactString } from "./redact";

/** Where S3 artifacts go: endpoint from MLFLOW_S3_ENDPOINT_URL, credentials from the AWS variables. */
export interface S3Options {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Files at least this big use multipart upload. */
  multipartThreshold?: number;
  partSize?: number;
  /** Attempts per request (with exponential backoff) before giving up. */
  attempts?: number;
  backoffMs?: number;
}

export class S3UploadError extends RouterlabError {
  constructor(message: string) {
    super(
      message,
      undefined,
      "the upload stays pending in the run journal; run `routerlab tracking sync` when S3 is reachable",
    );
    this.name = "S3UploadError";
  }
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new RouterlabError(`not an s3:// URI: ${redactString(uri)}`);
  return { bucket: m[1]!, key: m[2]!.replace(/\/+$/, "") };
}

export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Options {
  return {
    endpoint: env.MLFLOW_S3_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Direct S3/MinIO artifact store with multipart upload, retries with backoff and sha256 readback. */
export class S3ArtifactStore {
  private readonly client: S3Client;
  private readonly opts: Required<
    Pick<S3Options, "multipartThreshold" | "partSize" | "attempts" | "backoffMs">
  >;
  readonly endpoint: string | undefined;

  constructor(options: S3Options = s3OptionsFromEnv()) {
    this.endpoint = options.endpoint;
    this.client = new S3Client({
      region: options.region ?? "us-east-1",
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      maxAttempts: 1,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    this.opts = {
      multipartThreshold: options.multipartThreshold ?? 16 * 1024 * 1024,
      partSize: options.partSize ?? 8 * 1024 * 1024,
      attempts: options.attempts ?? 4,
      backoffMs: options.backoffMs ?? 250,
    };
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      try {
        return await fn();
      } catch (e) {
        last = e;
        if (attempt < this.opts.attempts) await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
      }
    }
    const msg = last instanceof Error ? `${last.name}: ${last.message}` : String(last);
    throw new S3UploadError(
      `S3 ${what} failed after ${this.opts.attempts} attempts (endpoint ${redactString(this.endpoint ?? "aws")}): ${redactString(msg)}`,
    );
  }

  /** Uploads a file and verifies it by reading the object back and comparing sha256. */
  async uploadFile(localFile: string, bucket: string, key: string, expectedSha256?: string): Promise<void> {
    const size = statSync(localFile).size;
    const sha = expectedSha256 ?? (await sha256File(localFile));
    if (size >= this.opts.multipartThreshold) await this.multipart(localFile, size, bucket, key, sha);
    else {
      const body = readRange(localFile, 0, size);
      await this.retry(`PUT s3://${bucket}/${key}`, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            Metadata: { "routerlab-sha256": sha },
          }),
        ),
      );
    }
    const remote = await this.retry(`GET s3://${bucket}/${key} (verify)`, () =>
      this.sha256Object(bucket, key),
    );
    if (remote !== sha) {
      throw new S3UploadError(`checksum mismatch for s3://${bucket}/${key}: local ${sha}, remote ${remote}`);
    }
  }

  private async multipart(
    localFile: string,
    size: number,
    bucket: string,
    key: string,
    sha: string,
  ): Promise<void> {
    const created = await this.retry(`create multipart upload s3://${bucket}/${key}`, () =>
      this.client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: { "routerlab-sha256": sha } }),
      ),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new S3UploadError(`S3 returned no UploadId for s3://${bucket}/${key}`);
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let offset = 0, n = 1; offset < size; offset += this.opts.partSize, n++) {
        const body = readRange(localFile, offset, Math.min(this.opts.partSize, size - offset));
        const md5 = createHash("md5").update(body).digest("base64");
        const r = await this.retry(`upload part ${n} of s3://${bucket}/${key}`, () =>
          this.client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: n,
              Body: body,
              ContentMD5: md5,
            }),
          ),
        );
        if (!r.ETag) throw new S3UploadError(`S3 returned no ETag for part ${n}`);
        parts.push({ ETag: r.ETag, PartNumber: n });
      }
      await this.retry(`complete multipart upload s3://${bucket}/${key}`, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      );
    } catch (e) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
      throw e;
    }
  }

  async sha256Object(bucket: string, key: string): Promise<string> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash("sha256");
    for await (const chunk of r.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest("hex");
  }

  async getObject(bucket: string, key: string): Promise<Buffer> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const chunks: Buffer[] = [];
    for await (const chunk of r.Body as Readable) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  destroy(): void {
    this.client.destroy();
  }
}

function readRange(file: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(file, "r");
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}
