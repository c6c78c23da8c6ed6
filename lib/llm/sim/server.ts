/**
 * routerlab's local OpenAI-compatible simulator (node:http, no framework): POST /v1/chat/completions,
 * GET /v1/models, GET /healthz. Every response is labelled simulated (`x-routerlab-simulated: 1`,
 * `system_fingerprint: "routerlab-sim"`). See docs/sim-server.md for the behaviour of each model kind, the faults
 * and idempotency.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { RouterlabError } from "../../util/errors";
import type { TokenUsage } from "../types";
import { answerFor, genericAnswer } from "./answer";
import { SimFaultsSchema, SimModelsSchema } from "./config";
import { FactIndex, type IndexedFact } from "./facts";
import { FaultPlan, type FaultKind } from "./faults";
import { gradeLetter, graderReply, parseGraderPrompt } from "./grader";
import { judgeFact, judgeReply, parseJudgePrompt } from "./judge";
import { JsonlLog } from "./log";
import { countTokens, hash53, promptTokens, truncateTokens } from "./text";
import type { SimModel, SimRequestRecord, SimServer, SimServerOptions } from "./types";
import { issueKeyPath, parseWith } from "../../util/zod-error";

export const SIM_FINGERPRINT = "routerlab-sim";
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const MessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(ContentPart), z.null()]),
});
/** The part of OpenAI's chat-completions request the simulator reads; other fields are accepted and ignored. */
export const ChatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  seed: z.number().int().nullish(),
  n: z.number().int().positive().nullish(),
  stream: z.boolean().nullish(),
});
type ChatBody = z.infer<typeof ChatBodySchema>;

/** A record with the simulator's additions to the contract. */
export interface SimLogRecord extends SimRequestRecord {
  /** Usage was added to `usage()` (status 200, no fault, not a replay). */
  readonly billed: boolean;
  readonly temperature: number | null;
}

interface Completed {
  readonly requestHash: string;
  readonly body: string;
  readonly usage: TokenUsage;
  readonly model: string;
  readonly question: string | null;
}

/** Sorted-key JSON, so that the request hash does not depend on the client's key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

function messageText(content: ChatBody["messages"][number]["content"]): string {
  if (content === null) return "";
  if (typeof content === "string") return content;
  return content.map((p) => p.text ?? "").join("");
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function errorBody(e: HttpError): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

const BASE_HEADERS = { "content-type": "application/json", "x-routerlab-simulated": "1" } as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "request body too large", "invalid_request_error", "body_too_large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

interface Reply {
  readonly text: string;
  readonly fact: IndexedFact | null;
  /** Grader: this reply is a noisy form (remembered so a retry at temperature 0 gets the clean letter). */
  readonly noisyKey: string | null;
}

/** The contract's SimServer plus what the CLI and tests use. */
export interface RunningSimServer extends SimServer {
  readonly port: number;
  /** Distinct known questions. */
  readonly facts: number;
  requests(): readonly SimLogRecord[];
  /** Resolves once every request so far is in the log file. */
  flush(): Promise<void>;
}

export async function startSimServer(opts: SimServerOptions): Promise<RunningSimServer> {
  parseWith(SimModelsSchema, opts.models, {
    file: "(SimServerOptions.models)",
    jsonPath: "$",
    what: "invalid simulator models",
  });
  if (opts.faults !== undefined)
    parseWith(SimFaultsSchema, opts.faults, {
      file: "(SimServerOptions.faults)",
      jsonPath: "$",
      what: "invalid simulator faults",
    });
  const byId = new Map<string, SimModel>(opts.models.map((m) => [m.id, m]));
  const seed = opts.seed;
  const index = new FactIndex(opts.facts);
  const faults = new FaultPlan(opts.faults, seed);
  const log = opts.logFile !== undefined ? new JsonlLog(opts.logFile) : null;
  const records: SimLogRecord[] = [];
  const billed: Record<string, { promptTokens: number; completionTokens: number }> = {};
  const completed = new Map<string, Completed>();
  const inFlight = new Map<string, Promise<void>>();
  const noisyServed = new Set<string>();
  const hangs = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  const record = (r: Omit<SimLogRecord, "seq" | "time">): void => {
    const full: SimLogRecord = { seq: ++seq, time: new Date().toISOString(), ...r };
    records.push(full);
    log?.append(full);
  };

  const replyFor = (model: SimModel, body: ChatBody, temperature: number): Reply => {
    let lastUser = "";
    for (let i = body.messages.length - 1; i >= 0; i--) {
      const m = body.messages[i]!;
      if (m.role === "user") {
        lastUser = messageText(m.content);
        break;
      }
    }
    switch (model.kind) {
      case "answer": {
        const fact = index.find(lastUser);
        const a = answerFor(model, fact, index, seed);
        return { text: fact ? a.text : genericAnswer(model.id, lastUser, seed), fact, noisyKey: null };
      }
      case "grader": {
        const p = parseGraderPrompt(lastUser);
        if (p === null) return { text: genericAnswer(model.id, lastUser, seed), fact: null, noisyKey: null };
        const fact = index.exactMatch(p.question);
        const key = `${model.id}\u0000${hash53(lastUser, seed).toString(36)}`;
        const retry = temperature === 0 && noisyServed.has(key);
        const r = graderReply(model, gradeLetter(p), key, seed, retry);
        return { text: r.text, fact, noisyKey: r.noisy ? key : null };
      }
      case "judge": {
        const p = parseJudgePrompt(lastUser);
        if (p === null) return { text: "tie", fact: null, noisyKey: null };
        const fact = judgeFact(p, index);
        const key = hash53(lastUser, seed).toString(36);
        return { text: judgeReply(model, p, fact, key, seed).text, fact, noisyKey: null };
      }
    }
  };

  // A string body goes out in one write with the headers (a Buffer would take a writev of two chunks).
  const send = (res: http.ServerResponse, status: number, body: string, extra?: http.OutgoingHttpHeaders) => {
    res.writeHead(status, { ...BASE_HEADERS, "content-length": Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  const chat = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let modelName = "";
    let temperature: number | null = null;
    const base = {
      question: null,
      requestHash: "",
      idempotencyKey: null,
      fault: null,
      replay: false,
      usage: null,
    };
    const idemHeader = req.headers["idempotency-key"];
    const idempotencyKey = typeof idemHeader === "string" && idemHeader !== "" ? idemHeader : null;
    try {
      if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`)
        throw new HttpError(
          401,
          "Incorrect API key provided (routerlab simulator).",
          "invalid_request_error",
          "invalid_api_key",
        );
      let json: unknown;
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {
        throw new HttpError(
          400,
          "We could not parse the JSON body of your request.",
          "invalid_request_error",
          null,
        );
      }
      const parsed = ChatBodySchema.safeParse(json);
      if (!parsed.success) {
        const param = issueKeyPath(parsed.error.issues[0]!).map(String).join(".");
        const issue = parsed.error.issues[0]!;
        throw new HttpError(
          400,
          `Invalid '${param || "body"}': ${issue.message}`,
          "invalid_request_error",
          null,
          param,
        );
      }
      const body = parsed.data;
      modelName = body.model;
      temperature = body.temperature ?? null;
      if (body.stream === true)
        throw new HttpError(
          400,
          "stream=true is not supported by the simulator",
          "invalid_request_error",
          null,
          "stream",
        );
      if ((body.n ?? 1) !== 1)
        throw new HttpError(
          400,
          "only n=1 is supported by the simulator",
          "invalid_request_error",
          null,
          "n",
        );
      const model = byId.get(body.model);
      if (!model)
        throw new HttpError(
          404,
          `The model '${body.model}' does not exist (simulated models: ${[...byId.keys()].join(", ")})`,
          "invalid_request_error",
          "model_not_found",
          "model",
        );
      const requestHash = createHash("sha256").update(canonicalJson(json)).digest("hex");

      if (idempotencyKey !== null) {
        // Concurrent requests with one key are served once: wait until no request with it is in flight.
        for (let p = inFlight.get(idempotencyKey); p !== undefined; p = inFlight.get(idempotencyKey)) await p;
        const done = completed.get(idempotencyKey);
        if (done) {
          if (done.requestHash !== requestHash)
            throw new HttpError(
              400,
              "Idempotency-Key was already used with a different request body",
              "invalid_request_error",
              "idempotency_key_reused",
            );
          record({
            ...base,
            model: done.model,
            question: done.question,
            requestHash,
            idempotencyKey,
            status: 200,
            replay: true,
            usage: done.usage,
            billed: false,
            temperature,
          });
          send(res, 200, done.body, { "idempotent-replayed": "true" });
          return;
        }
      }

      let finish: () => void = () => {};
      if (idempotencyKey !== null) inFlight.set(idempotencyKey, new Promise<void>((r) => (finish = r)));
      try {
        await serve(res, model, body, requestHash, idempotencyKey, temperature);
      } finally {
        if (idempotencyKey !== null) inFlight.delete(idempotencyKey);
        finish();
      }
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      record({ ...base, model: modelName, idempotencyKey, status: e.status, billed: false, temperature });
      send(res, e.status, errorBody(e));
    }
  };

  const serve = async (
    res: http.ServerResponse,
    model: SimModel,
    body: ChatBody,
    requestHash: string,
    idempotencyKey: string | null,
    temperature: number | null,
  ): Promise<void> => {
    const reply = replyFor(model, body, temperature ?? 1);
    const question = reply.fact?.fact.question ?? null;
    const common = { model: model.id, question, requestHash, idempotencyKey, replay: false, temperature };
    const fault: FaultKind | null = faults.decide(requestHash);
    if (fault === "429" || fault === "500") {
      record({ ...common, status: Number(fault), fault, usage: null, billed: false });
      const e =
        fault === "429"
          ? new HttpError(429, "Rate limit reached (simulated).", "requests", "rate_limit_exceeded")
          : new HttpError(
              500,
              "The server had an error while processing your request (simulated).",
              "server_error",
              null,
            );
      send(
        res,
        e.status,
        errorBody(e),
        fault === "429" ? { "retry-after": String(faults.retryAfterSeconds) } : {},
      );
      return;
    }
    if (fault === "timeout") {
      // Not awaited: the hang must not hold the idempotency key, or the client's retry would wait it out too.
      record({ ...common, status: 0, fault, usage: null, billed: false });
      const t = setTimeout(() => {
        hangs.delete(t);
        res.destroy();
      }, faults.timeoutHangMs);
      hangs.add(t);
      res.on("close", () => {
        clearTimeout(t);
        hangs.delete(t);
      });
      return;
    }
    if (model.latencyMs) await sleep(model.latencyMs);

    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
    let text = reply.text;
    let finishReason = "stop";
    if (maxTokens !== null && countTokens(text) > maxTokens) {
      text = truncateTokens(text, maxTokens);
      finishReason = "length";
    }
    const usage: TokenUsage = {
      promptTokens: promptTokens(
        body.messages.map((m) => ({ role: m.role, content: messageText(m.content) })),
      ),
      completionTokens: fault === "empty" ? 0 : countTokens(text),
    };
    const id = `chatcmpl-sim-${requestHash.slice(0, 24)}`;
    const response = {
      id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      system_fingerprint: SIM_FINGERPRINT,
      choices:
        fault === "empty"
          ? []
          : [
              {
                index: 0,
                message: { role: "assistant", content: text, refusal: null },
                logprobs: null,
                finish_reason: finishReason,
              },
            ],
      usage: {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
      },
    };
    const out = JSON.stringify(response);
    if (fault === "empty") {
      record({ ...common, status: 200, fault, usage: null, billed: false });
      send(res, 200, out);
      return;
    }
    if (fault === "truncated") {
      record({ ...common, status: 200, fault, usage: null, billed: false });
      const bytes = Buffer.from(out);
      res.writeHead(200, { ...BASE_HEADERS, "content-length": bytes.length });
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
      return;
    }
    if (reply.noisyKey !== null) noisyServed.add(reply.noisyKey);
    if (idempotencyKey !== null)
      completed.set(idempotencyKey, { requestHash, body: out, usage, model: model.id, question });
    const b = (billed[model.id] ??= { promptTokens: 0, completionTokens: 0 });
    b.promptTokens += usage.promptTokens;
    b.completionTokens += usage.completionTokens;
    record({ ...common, status: 200, fault: null, usage, billed: true });
    send(res, 200, out);
  };

  const modelsBody = JSON.stringify({
    object: "list",
    data: opts.models.map((m) => ({
      id: m.id,
      object: "model",
      created: 0,
      owned_by: SIM_FINGERPRINT,
      kind: m.kind,
    })),
  });

  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const route = `${req.method ?? "GET"} ${url}`;
    const fail = (e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const err =
        e instanceof HttpError
          ? e
          : new HttpError(
              500,
              `simulator bug: ${e instanceof Error ? e.message : String(e)}`,
              "server_error",
              null,
            );
      send(res, err.status, errorBody(err));
    };
    if (route === "POST /v1/chat/completions") {
      chat(req, res).catch(fail);
      return;
    }
    if (route === "GET /healthz") {
      send(res, 200, JSON.stringify({ status: "ok", simulated: true, models: byId.size, facts: index.size }));
      return;
    }
    if (route === "GET /v1/models") {
      if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        fail(
          new HttpError(
            401,
            "Incorrect API key provided (routerlab simulator).",
            "invalid_request_error",
            "invalid_api_key",
          ),
        );
        return;
      }
      send(res, 200, modelsBody);
      return;
    }
    fail(
      new HttpError(
        404,
        `no route ${route} on the routerlab simulator`,
        "invalid_request_error",
        "not_found",
      ),
    );
  });
  server.keepAliveTimeout = 30_000;

  const listenHost = opts.host ?? "127.0.0.1";
  const listenPort = opts.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) =>
      reject(
        new RouterlabError(
          `the simulator cannot listen on ${listenHost}:${listenPort}: ${e.message}`,
          undefined,
          "pick another port, or port 0 for a free one",
        ),
      );
    server.once("error", onError);
    server.listen(listenPort, listenHost, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address === "0.0.0.0" || addr.address === "::" ? "127.0.0.1" : addr.address;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  const sim: RunningSimServer = {
    url: `http://${urlHost}:${addr.port}/v1`,
    port: addr.port,
    facts: index.size,
    requests: () => records,
    usage: () => {
      const out: Record<string, TokenUsage> = {};
      for (const [k, v] of Object.entries(billed)) out[k] = { ...v };
      return out;
    },
    flush: async () => {
      await log?.flush();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of hangs) clearTimeout(t);
      hangs.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      await log?.close();
    },
  };
  return sim;
}
