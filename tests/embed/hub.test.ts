import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { assertGatewayCompatible, createEmbedder, defaultModelDir } from "../../lib/embed";
import type { EmbeddingMatrix } from "../../lib/embed";
import { generatedProbes, realQueries } from "../peers/embed-probe";
import { rowCosines } from "../peers/embed-reference";
import { RouterlabError } from "../../lib/util/errors";
import { venvPython } from "../../lib/util/paths";

/**
 * Hub-id loading (`createEmbedder({ model })`). The hub is unreachable here, so a local HTTP server speaks
 * its URL layout (`/<id>/resolve/<revision>/<file>`, LFS files redirected with their sha256 as ETag) and
 * serves a hub-style export made from the provisioned model: a plain BERT graph with inputs input_ids,
 * attention_mask, token_type_ids and output last_hidden_state, like the hub's onnx/model.onnx, so the
 * pooling happens in routerlab.
 */
const ID = "sentence-transformers/all-MiniLM-L6-v2";
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), "routerlab-embhub-"));
let localDir = "";
let hubOnnx: Buffer;
let probes: string[] = [];
let localVectors: EmbeddingMatrix;

/** Cuts the provisioned graph at BERT's output (the last LayerNormalization), like the hub's export. */
const HUB_STYLE_PY = `
import sys, onnx
from onnx import helper, TensorProto
src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
hidden = [n for n in m.graph.node if n.op_type == "LayerNormalization"][-1].output[0]
onnx.utils.extract_model(src, dst, ["input_ids", "attention_mask"], [hidden])
m2 = onnx.load(dst)
m2.graph.node.append(helper.make_node("Identity", [hidden], ["last_hidden_state"]))
del m2.graph.output[:]
m2.graph.output.append(helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", 384]))
m2.graph.input.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "sequence"]))
onnx.checker.check_model(m2)
onnx.save(m2, dst)
`;

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

interface HubServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** Serves `files` (remote path -> bytes) for ID at revision "main"; LFS-like files go through a redirect. */
async function startHub(
  files: Record<string, Buffer>,
  announce: Record<string, string> = {},
): Promise<HubServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? "";
    requests.push(url);
    const prefix = `/${ID}/resolve/main/`;
    const lfs = /^\/lfs\/(.+)$/.exec(url);
    if (lfs) {
      const name = decodeURIComponent(lfs[1]!);
      const body = files[name]!;
      res.writeHead(200, { "content-length": body.length, etag: `"${announce[name] ?? sha256(body)}"` });
      res.end(body);
      return;
    }
    if (url.startsWith(prefix) && files[url.slice(prefix.length)]) {
      const name = url.slice(prefix.length);
      if (name.endsWith(".onnx")) {
        res.writeHead(302, { location: `/lfs/${encodeURIComponent(name)}` });
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(files[name]);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Entry not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function hubFiles(onnx: Buffer): Record<string, Buffer> {
  return {
    "onnx/model.onnx": onnx,
    "tokenizer.json": readFileSync(path.join(localDir, "tokenizer.json")),
    "tokenizer_config.json": readFileSync(path.join(localDir, "tokenizer_config.json")),
    "config.json": readFileSync(path.join(localDir, "config.json")),
  };
}

/** A loopback port nothing listens on. */
async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<RouterlabError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof RouterlabError, `expected a RouterlabError, got ${String(caught)}`);
  assert.match(caught.message, re);
  return caught;
}

before(async () => {
  delete process.env.ROUTERLAB_ALLOW_REMOTE_MODELS;
  delete process.env.HF_ENDPOINT;
  // the local model (provisioned on first use) is the reference and the source of the served files
  const local = await createEmbedder({ threads: 1 });
  localDir = defaultModelDir();
  probes = [...realQueries(40, 3), ...generatedProbes(12)];
  localVectors = await local.embed(probes);
  await local.dispose();
  const out = path.join(tmpRoot, "hub-style.onnx");
  const r = spawnSync(venvPython(), ["-c", HUB_STYLE_PY, path.join(localDir, "model.onnx"), out], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  hubOnnx = readFileSync(out);
  // hub downloads go to <cache root>/models/hub: a fresh one per test file
  process.env.ROUTERLAB_CACHE_DIR = path.join(tmpRoot, "cache");
});

after(() => {
  rmSync(tmpRoot, { recursive: true, force: true });
});

test("without the opt-in a hub id gives one clear provisioning error and no network access", async () => {
  const hub = await startHub(hubFiles(hubOnnx));
  try {
    const e = await rejectsWith(
      createEmbedder({ model: ID, hubEndpoint: hub.url }),
      /all-MiniLM-L6-v2 is not available locally .* remote model loading is disabled/,
    );
    assert.match(e.hint ?? "", /ROUTERLAB_ALLOW_REMOTE_MODELS=1/);
    assert.match(e.hint ?? "", /routerlab embed-provision/);
    assert.deepEqual(hub.requests, []);
  } finally {
    await hub.close();
  }
});

test("with the opt-in, an unreachable endpoint fails with a network error naming the URL", async () => {
  const port = await refusedPort();
  process.env.ROUTERLAB_ALLOW_REMOTE_MODELS = "1";
  process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
  try {
    const e = await rejectsWith(createEmbedder({ model: ID }), /network error/);
    assert.ok(e.message.includes(`http://127.0.0.1:${port}/${ID}/resolve/main/onnx/model.onnx`), e.message);
    assert.match(e.message, /ECONNREFUSED/);
  } finally {
    delete process.env.ROUTERLAB_ALLOW_REMOTE_MODELS;
    delete process.env.HF_ENDPOINT;
  }
});

test("a 404 and a corrupt transfer are clear errors naming the URL; nothing is kept", async () => {
  const hub = await startHub(hubFiles(hubOnnx));
  try {
    await rejectsWith(
      createEmbedder({ model: "someone/no-such-model", allowRemote: true, hubEndpoint: hub.url }),
      /cannot download http:\/\/127\.0\.0\.1:\d+\/someone\/no-such-model\/resolve\/main\/onnx\/model\.onnx: HTTP 404/,
    );
  } finally {
    await hub.close();
  }
  const flipped = Buffer.from(hubOnnx);
  flipped[flipped.length >> 1]! ^= 0xff;
  const bad = await startHub(hubFiles(flipped), { "onnx/model.onnx": sha256(hubOnnx) });
  try {
    await rejectsWith(
      createEmbedder({ model: ID, allowRemote: true, hubEndpoint: bad.url }),
      /checksum mismatch downloading http:\/\/127\.0\.0\.1:\d+\/.*onnx\/model\.onnx/,
    );
    const dir = path.join(process.env.ROUTERLAB_CACHE_DIR!, "models", "hub");
    assert.ok(!existsSync(path.join(dir, "sentence-transformers--all-MiniLM-L6-v2", "main", "hub.json")));
  } finally {
    await bad.close();
  }
});

test("a server in the hub's URL layout works end to end: same vectors as the local model, reused offline", async () => {
  const hub = await startHub(hubFiles(hubOnnx));
  try {
    const e = await createEmbedder({ model: ID, allowRemote: true, hubEndpoint: hub.url, threads: 1 });
    try {
      assert.ok(hub.requests.includes(`/${ID}/resolve/main/onnx/model.onnx`), hub.requests.join(" "));
      assert.ok(
        hub.requests.some((r) => r.startsWith("/lfs/")),
        "followed the LFS redirect",
      );
      assert.equal(e.spec.modelId, ID);
      assert.equal(e.spec.dim, 384);
      assert.equal(e.spec.weightsSha256, sha256(hubOnnx));
      assertGatewayCompatible(e.spec);
      const got = await e.embed(probes);
      const cos = rowCosines(got, localVectors);
      let maxAbs = 0;
      for (let i = 0; i < got.data.length; i++)
        maxAbs = Math.max(maxAbs, Math.abs(got.data[i]! - localVectors.data[i]!));
      assert.ok(Math.min(...cos) >= 0.99999, `min cosine ${Math.min(...cos)}`);
      assert.ok(maxAbs < 1e-5, `max abs difference ${maxAbs}`);
      const one = await e.embedOne(probes[0]!);
      assert.ok(
        rowCosines(
          { data: one, rows: 1, dim: 384 },
          { data: localVectors.data.subarray(0, 384), rows: 1, dim: 384 },
        )[0]! > 0.99999,
      );
    } finally {
      await e.dispose();
    }
  } finally {
    await hub.close();
  }
  // the verified download is reused without the network, even without the opt-in
  const again = await createEmbedder({ model: ID, threads: 1 });
  try {
    const v = await again.embed(probes.slice(0, 4));
    assert.ok(
      Math.min(...rowCosines(v, { data: localVectors.data.subarray(0, 4 * 384), rows: 4, dim: 384 })) >=
        0.99999,
    );
  } finally {
    await again.dispose();
  }
});
