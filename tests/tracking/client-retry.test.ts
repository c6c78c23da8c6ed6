import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { MlflowClient, MlflowUnavailableError } from "../../lib/tracking/client";

// A server that drops the connection without a reply on the first request of each method, the way
// a keep-alive socket the server already closed fails a request: reads are retried, writes are not.
const seen: string[] = [];
const server = http.createServer((req, res) => {
  seen.push(req.method ?? "?");
  if (seen.filter((m) => m === req.method).length === 1) {
    req.socket.destroy();
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ experiment: { experiment_id: "7", name: "e", lifecycle_stage: "active" } }));
});
after(() => server.close());

test("a read whose connection drops is sent again; a write is not (the journal re-syncs writes)", async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const client = new MlflowClient(`http://127.0.0.1:${port}`);
  const exp = await client.getExperimentByName("e");
  assert.equal(exp?.experiment_id, "7");
  assert.deepEqual(seen, ["GET", "GET"]);
  await assert.rejects(client.createExperiment("x"), MlflowUnavailableError);
  assert.deepEqual(seen, ["GET", "GET", "POST"]);
});
