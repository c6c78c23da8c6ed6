/** A minimal OTLP/HTTP JSON sender, for replaying simulated or exported traffic into `routerlab collect`. */
import { request } from "node:http";
import { gzipSync } from "node:zlib";

/**
 * POSTs each OTLP/JSON body to `endpoint` (`.../v1/traces`) in order, gzipped, retrying a 429/503
 * after its Retry-After; resolves with the number of accepted bodies or rejects on any other status.
 */
export async function sendOtlpJson(
  endpoint: string,
  bodies: readonly string[],
  opts: { token?: string; maxRetries?: number } = {},
): Promise<number> {
  let accepted = 0;
  for (const body of bodies) {
    const gz = gzipSync(Buffer.from(body, "utf8"));
    for (let attempt = 0; ; attempt++) {
      const r = await postOnce(endpoint, gz, opts.token);
      if (r.status === 200) break;
      if ((r.status === 429 || r.status === 503) && attempt < (opts.maxRetries ?? 20)) {
        await new Promise((res) => setTimeout(res, r.retryAfterSeconds * 1000));
        continue;
      }
      throw new Error(`${endpoint}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    }
    accepted++;
  }
  return accepted;
}

function postOnce(
  endpoint: string,
  body: Buffer,
  token?: string,
): Promise<{ status: number; body: string; retryAfterSeconds: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      endpoint,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          "content-length": String(body.length),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            retryAfterSeconds: Math.min(30, Math.max(0.05, Number(res.headers["retry-after"] ?? 1) || 1)),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
