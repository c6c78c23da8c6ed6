/**
 * The OTLP/HTTP trace receiver behind `routerlab collect` (node:http). `POST /v1/traces` takes
 * `application/x-protobuf` or `application/json`, plain, gzip or deflate; a request is answered 200
 * only once its records are fsynced (lib/collect/store.ts). Limits are enforced before work is done:
 * the body size while reading, the decompressed size while inflating (a gzip bomb stops at the cap),
 * and memory: requests beyond the in-flight budget get 503/429 with Retry-After, which OTLP
 * exporters retry. A bad request gets 400 with the reason; nothing a client sends stops the server.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzip, inflate } from "node:zlib";
import type { BatchCounts } from "./records";
import { addCounts, convertSpans, emptyCounts } from "./records";
import type { CollectStore } from "./store";
import { decodeTraceRequest, encodeStatus, encodeTraceResponse, ProtoError } from "./protobuf";
import { decodeJsonTraceRequest, WireError } from "./wire";

export interface CollectLimits {
  /** Request body as sent (compressed or not). */
  maxBodyBytes: number;
  /** Body after decompression. */
  maxDecodedBytes: number;
  /** Bytes held by requests being read, decoded or waiting for their fsync; beyond it: 503. */
  maxInflightBytes: number;
  /** Requests being handled at once; beyond it: 429. */
  maxConcurrent: number;
  maxSpansPerRequest: number;
  maxValueDepth: number;
}

export const DEFAULT_LIMITS: CollectLimits = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxDecodedBytes: 32 * 1024 * 1024,
  maxInflightBytes: 128 * 1024 * 1024,
  maxConcurrent: 64,
  maxSpansPerRequest: 100_000,
  maxValueDepth: 8,
};

export interface CollectServerOptions {
  host: string;
  port: number;
  /** Bearer token; required when host is not loopback. */
  token?: string;
  limits: CollectLimits;
  store: CollectStore;
  /** Seconds a refused client should wait (Retry-After). */
  retryAfterSeconds?: number;
}

export interface CollectStats {
  counts: BatchCounts;
  requestsAccepted: number;
  /** Refused requests by HTTP status. */
  refused: Record<number, number>;
  lastErrors: string[];
}

export interface RunningCollector {
  url: string;
  host: string;
  port: number;
  stats(): CollectStats;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return (
    h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1"
  );
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter = false,
  ) {
    super(message);
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Constant-time check of `Authorization: Bearer <token>` (digests have equal length whatever is sent). */
export function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const given = digest(m ? m[1]!.trim() : "\u0000no-token");
  return timingSafeEqual(given, tokenDigest) && m !== null;
}

function mediaType(h: string | undefined): string {
  return (h ?? "").split(";")[0]!.trim().toLowerCase();
}

function inflateCapped(kind: "gzip" | "deflate", body: Buffer, cap: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => {
      if (!err) return resolve(out);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError)
        reject(new HttpRefusal(413, `decompressed body exceeds the ${cap}-byte cap`));
      else reject(new HttpRefusal(400, `invalid ${kind} body: ${err.message}`));
    };
    if (kind === "gzip") gunzip(body, { maxOutputLength: cap }, done);
    else inflate(body, { maxOutputLength: cap }, done);
  });
}

export async function startCollectServer(opts: CollectServerOptions): Promise<RunningCollector> {
  const { limits, store } = opts;
  if (!isLoopback(opts.host) && (opts.token === undefined || opts.token === ""))
    throw new Error(`binding ${opts.host} (not loopback) requires a bearer token`);
  const tokenDigest = opts.token ? digest(opts.token) : null;
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  let inflight = 0;
  let active = 0;
  const stats: CollectStats = { counts: emptyCounts(), requestsAccepted: 0, refused: {}, lastErrors: [] };
  const note = (msg: string) => {
    stats.lastErrors.push(msg);
    if (stats.lastErrors.length > 20) stats.lastErrors.shift();
  };

  function reply(
    res: ServerResponse,
    status: number,
    proto: boolean,
    body: Uint8Array | string,
    extra: Record<string, string> = {},
  ) {
    res.writeHead(status, {
      "content-type": proto ? "application/x-protobuf" : "application/json",
      "content-length": String(typeof body === "string" ? Buffer.byteLength(body) : body.length),
      ...extra,
    });
    res.end(body);
  }

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    proto: boolean,
    r: HttpRefusal,
    closeAfter: boolean,
  ) {
    stats.refused[r.status] = (stats.refused[r.status] ?? 0) + 1;
    if (r.status === 400 || r.status === 413) note(`${r.status}: ${r.message}`);
    const extra: Record<string, string> = {};
    if (r.retryAfter) extra["retry-after"] = retryAfter;
    if (r.status === 401) extra["www-authenticate"] = 'Bearer realm="routerlab collect"';
    if (closeAfter) extra["connection"] = "close";
    const grpcCode = r.status === 400 ? 3 : r.status === 401 ? 16 : r.status === 413 ? 8 : 14;
    const body = proto
      ? encodeStatus(grpcCode, r.message)
      : JSON.stringify({ code: grpcCode, message: r.message });
    reply(res, r.status, proto, body, extra);
    // an unread body is not drained (it may be huge): the connection is closed instead
    if (closeAfter) res.on("finish", () => req.socket.destroy());
  }

  /** Reads the body up to `cap` bytes; what it holds is added to `inflight` and to `acct.held`. */
  function readBody(req: IncomingMessage, cap: number, acct: { held: number }): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on("data", (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > cap) {
          over = true;
          req.pause();
          reject(new HttpRefusal(413, `request body exceeds the ${cap}-byte cap`));
          return;
        }
        inflight += c.length;
        acct.held += c.length;
        chunks.push(c);
      });
      req.on("end", () => {
        if (!over) resolve(Buffer.concat(chunks, size));
      });
      req.on("error", (e) => reject(e));
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = (req.url ?? "").split("?")[0];
    const proto = mediaType(req.headers["content-type"]) === "application/x-protobuf";
    if (tokenDigest && !bearerMatches(req.headers.authorization, tokenDigest))
      return refuse(req, res, proto, new HttpRefusal(401, "missing or wrong bearer token"), true);
    if (url !== "/v1/traces")
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(404, `no such endpoint ${url}; use POST /v1/traces`),
        true,
      );
    if (req.method !== "POST") return refuse(req, res, proto, new HttpRefusal(405, "use POST"), true);
    const type = mediaType(req.headers["content-type"]);
    if (type !== "application/x-protobuf" && type !== "application/json")
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(
          415,
          `content-type ${JSON.stringify(type)}: use application/x-protobuf or application/json`,
        ),
        true,
      );
    const enc = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
    if (enc !== "identity" && enc !== "gzip" && enc !== "deflate")
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(415, `content-encoding ${JSON.stringify(enc)}: use gzip, deflate or none`),
        true,
      );
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes)
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(413, `request body of ${declared} bytes exceeds the ${limits.maxBodyBytes}-byte cap`),
        true,
      );
    if (active >= limits.maxConcurrent)
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(429, `more than ${limits.maxConcurrent} requests in flight; retry later`, true),
        true,
      );
    const expected = Number.isFinite(declared) ? declared : 0;
    if (inflight + store.pendingBytes() + expected > limits.maxInflightBytes)
      return refuse(
        req,
        res,
        proto,
        new HttpRefusal(503, "receiver is saturated (writes pending); retry later", true),
        true,
      );

    active++;
    const acct = { held: 0 };
    try {
      const body = await readBody(req, limits.maxBodyBytes, acct);
      let raw = body;
      if (enc !== "identity") {
        raw = await inflateCapped(enc as "gzip" | "deflate", body, limits.maxDecodedBytes);
        inflight += raw.length;
        acct.held += raw.length;
      } else if (raw.length > limits.maxDecodedBytes)
        throw new HttpRefusal(413, `request body exceeds the ${limits.maxDecodedBytes}-byte decoded cap`);
      let spans;
      let bad: { path: string; reason: string }[] = [];
      try {
        if (proto)
          spans = decodeTraceRequest(raw, {
            maxSpans: limits.maxSpansPerRequest,
            maxValueDepth: limits.maxValueDepth,
            maxAttributes: limits.maxSpansPerRequest * 64,
          });
        else {
          let doc: unknown;
          try {
            doc = JSON.parse(raw.toString("utf8"));
          } catch (e) {
            throw new WireError(`invalid JSON: ${(e as Error).message}`);
          }
          ({ spans, bad } = decodeJsonTraceRequest(doc, {
            maxSpans: limits.maxSpansPerRequest,
            maxValueDepth: limits.maxValueDepth,
          }));
        }
      } catch (e) {
        if (e instanceof ProtoError)
          throw new HttpRefusal(400, `invalid protobuf ExportTraceServiceRequest: ${e.message}`);
        if (e instanceof WireError) throw new HttpRefusal(400, e.message);
        throw e;
      }
      const conv = convertSpans(spans, bad);
      const text = conv.records.map((r) => JSON.stringify(r) + "\n").join("");
      // the decoded body is no longer needed once the records are built
      inflight -= acct.held;
      acct.held = Buffer.byteLength(text);
      inflight += acct.held;
      try {
        await store.append(text, conv.counts);
      } catch (e) {
        note(`write failed: ${(e as Error).message}`);
        throw new HttpRefusal(503, `the dataset could not be written: ${(e as Error).message}`, true);
      }
      stats.counts = addCounts(stats.counts, conv.counts);
      stats.requestsAccepted++;
      const rejected = conv.counts.rejected;
      const msg = conv.errors.join("; ");
      if (conv.errors.length > 0) note(`partial: ${msg}`);
      if (proto)
        reply(
          res,
          200,
          true,
          encodeTraceResponse(rejected, rejected > 0 || conv.counts.decisions_rejected > 0 ? msg : ""),
        );
      else
        reply(
          res,
          200,
          false,
          JSON.stringify(
            rejected > 0 || conv.counts.decisions_rejected > 0
              ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: msg } }
              : {},
          ),
        );
    } catch (e) {
      if (e instanceof HttpRefusal) refuse(req, res, proto, e, e.status === 413);
      else {
        note(`500: ${(e as Error).message}`);
        refuse(req, res, proto, new HttpRefusal(500, `internal error: ${(e as Error).message}`), false);
      }
    } finally {
      inflight -= acct.held;
      active--;
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      note(`unhandled: ${(e as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on("clientError", (_e, socket) => socket.destroy());
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    stats: () => ({ ...stats, refused: { ...stats.refused }, lastErrors: [...stats.lastErrors] }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
