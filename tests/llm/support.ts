/**
 * A scripted OpenAI-compatible HTTP server for the client tests: real sockets, real HTTP, with faults served in a
 * given order (the sim server draws them at random), and what the client sent recorded (headers, bodies, timing,
 * the most requests in flight at once).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | "ok"
  | "500"
  | "503"
  | "400"
  | "hang"
  | "truncated"
  | "invalid-json"
  | "empty"
  | { status: 429; retryAfter?: string; retryAfterMs?: string };

export interface Seen {
  time: number;
  headers: IncomingMessage["headers"];
  body: { model: string; messages: { role: string; content: string }[]; [k: string]: unknown };
  fault: Fault;
}

export interface ScriptedServer {
  url: string;
  seen: Seen[];
  maxInFlight: number;
  /** Requests whose socket the client closed before a reply (e.g. aborted). */
  clientAborts: number;
  /** Faults to serve next, in order; "ok" once empty. */
  script: Fault[];
  close(): Promise<void>;
}

export interface ScriptedOptions {
  latencyMs?: number;
  /** Fault for request number i (0-based), consulted after the script is exhausted. */
  faultFor?: (i: number) => Fault;
}

/** Deterministic usage for a request: prompt = characters/4 of all messages, completion = 7. */
export function usageFor(body: Seen["body"]): { prompt_tokens: number; completion_tokens: number } {
  const chars = body.messages.reduce((n, m) => n + m.content.length, 0);
  return { prompt_tokens: Math.ceil(chars / 4) + 3, completion_tokens: 7 };
}

export async function startScriptedServer(opts: ScriptedOptions = {}): Promise<ScriptedServer> {
  let inFlight = 0;
  let count = 0;
  const hanging = new Set<ServerResponse>();
  const state: ScriptedServer = {
    url: "",
    seen: [],
    maxInFlight: 0,
    clientAborts: 0,
    script: [],
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const i = count++;
      const fault: Fault = state.script.shift() ?? opts.faultFor?.(i) ?? "ok";
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Seen["body"];
      state.seen.push({ time: performance.now(), headers: req.headers, body, fault });
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        inFlight--;
        hanging.delete(res);
      };
      res.on("close", () => {
        if (!res.writableFinished) state.clientAborts++;
        finish();
      });
      const reply = (): void => serve(res, fault, body, hanging, String(req.headers.authorization ?? ""));
      if (opts.latencyMs) setTimeout(reply, opts.latencyMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

function serve(
  res: ServerResponse,
  fault: Fault,
  body: Seen["body"],
  hanging: Set<ServerResponse>,
  authorization: string,
): void {
  const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(value));
  };
  const last = body.messages[body.messages.length - 1]?.content ?? "";
  const completion = {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 0,
    model: body.model,
    choices: [
      { index: 0, message: { role: "assistant", content: `answer to: ${last}` }, finish_reason: "stop" },
    ],
    usage: { ...usageFor(body), total_tokens: 0 },
  };
  if (typeof fault === "object") {
    const headers: Record<string, string> = {};
    if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
    if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = fault.retryAfterMs;
    json(429, { error: { message: "rate limited", type: "rate_limit" } }, headers);
    return;
  }
  switch (fault) {
    case "ok":
      json(200, completion);
      return;
    case "500":
    case "503":
      json(Number(fault), { error: { message: `injected ${fault}` } });
      return;
    case "400":
      // Echoes the credential, as careless proxies do: the client must not repeat it in its error.
      json(400, { error: { message: `bad request (auth was '${authorization.replace(/^Bearer /, "")}')` } });
      return;
    case "hang":
      hanging.add(res);
      return;
    case "truncated": {
      const text = JSON.stringify(completion);
      res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      setTimeout(() => res.destroy(), 5);
      return;
    }
    case "invalid-json":
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"choices": [ {"message": ');
      return;
    case "empty":
      json(200, { ...completion, choices: [] });
      return;
  }
}
