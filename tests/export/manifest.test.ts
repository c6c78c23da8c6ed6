import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { Manifest } from "../../lib/export/manifest";
import {
  canonicalBytes,
  ed25519PrivateKey,
  ed25519PublicKey,
  parseManifest,
  publicKeyB64,
  pythonJsonDumps,
  signManifest,
  signingKeyFromEnv,
  verifyKeyFromEnv,
  verifyManifestSignature,
} from "../../lib/export/manifest";

const RFC8032_TEST1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

function workedExample(): Manifest {
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  return {
    version: "1.0",
    created_at: "2026-02-01T12:00:00+00:00",
    description: "MLP router \u2013 caf\u00e9",
    signature_type: "none",
    artifacts: [
      { path: "router.pt", sha256: sha("abc"), tags: ["mlp"] },
      { path: "router.json", sha256: sha("") },
    ],
  };
}

test("canonical bytes reproduce the contract's §8.3 worked example", () => {
  const bytes = canonicalBytes(workedExample());
  assert.equal(bytes.length, 312);
  assert.equal(
    createHash("sha256").update(bytes).digest("hex"),
    "a5654902d4ea313c2a72e08a0200cadf0bedc9cb2f5342857dac699c64423951",
  );
  assert.ok(bytes.toString("latin1").includes('"description":"MLP router \\u2013 caf\\u00e9"'));
});

test("HMAC and Ed25519 signatures equal the contract's worked example", () => {
  const hmac = signManifest(workedExample(), { type: "hmac-sha256", secret: Buffer.from("s3cr3t") });
  assert.equal(hmac.signature, "ds3vZUg2VXVS9mmkKjt76hZsRaEIoOqTX3u75+W36Cc=");
  assert.equal(hmac.signature_type, "hmac-sha256");
  const priv = ed25519PrivateKey(Buffer.from(RFC8032_TEST1, "hex"));
  const ed = signManifest(workedExample(), { type: "ed25519", key: priv });
  assert.equal(
    ed.signature,
    "3aTc0dVe54dFdOUVGKBRQWXmys8hKUB/FlRrNFjWQ9unL1Iv7Yf4b8XvrAB+sMATiw5SKJ+XtkqgnCJ1hhQDCg==",
  );
  assert.equal(publicKeyB64(priv), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  const pub = ed25519PublicKey(
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
  );
  assert.equal(verifyManifestSignature(ed, { type: "ed25519", key: pub }), true);
  // Signed fields changed → rejected; unsigned fields (tags) changed → still valid.
  assert.equal(
    verifyManifestSignature({ ...ed, description: "other" }, { type: "ed25519", key: pub }),
    false,
  );
  const retagged = { ...ed, artifacts: ed.artifacts.map((a) => ({ ...a, tags: ["x"] })) };
  assert.equal(verifyManifestSignature(retagged, { type: "ed25519", key: pub }), true);
  assert.equal(verifyManifestSignature(hmac, { type: "hmac-sha256", secret: Buffer.from("wrong") }), false);
});

test("keys come from the environment in every supported encoding", () => {
  const raw = Buffer.from(RFC8032_TEST1, "hex");
  const k1 = signingKeyFromEnv({ ROUTERLAB_SIGNING_KEY_ED25519: raw.toString("base64") });
  assert.equal(k1?.type, "ed25519");
  const pem = ed25519PrivateKey(raw).export({ format: "pem", type: "pkcs8" }).toString();
  const k2 = signingKeyFromEnv({ ROUTERLAB_SIGNING_KEY_ED25519: pem });
  const m = workedExample();
  assert.equal(signManifest(m, k1).signature, signManifest(m, k2).signature);
  assert.equal(signingKeyFromEnv({}), undefined);
  const vk = verifyKeyFromEnv("ed25519", {
    LLMROUTER_MODEL_PUBLIC_KEY_B64: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
  });
  assert.ok(vk);
  assert.equal(verifyManifestSignature(signManifest(m, k1), vk), true);
});

test("python json.dumps escaping: DEL, control chars, astral characters, key order by code point", () => {
  assert.equal(pythonJsonDumps('a\u007fb\u0001/"\\\n\t'), '"a\\u007fb\\u0001/\\"\\\\\\n\\t"');
  assert.equal(pythonJsonDumps("\u{1F600}"), '"\\ud83d\\ude00"');
  assert.equal(
    pythonJsonDumps({ b: 1, a: [true, "x"], "\u{1F600}": 2, "\uffff": 3 }),
    '{"a":[true,"x"],"b":1,"\\uffff":3,"\\ud83d\\ude00":2}',
  );
});

test("parseManifest names the field and rejects a numeric version", () => {
  assert.throws(
    () =>
      parseManifest(
        '{"version": 1.0, "signature_type": "none", "artifacts": [{"path": "a", "sha256": "b"}]}',
        "m.json",
      ),
    /m\.json.*version/,
  );
  assert.throws(
    () =>
      parseManifest('{"version": "1.0", "signature_type": "none", "artifacts": [{"path": "a"}]}', "m.json"),
    /sha256/,
  );
});
