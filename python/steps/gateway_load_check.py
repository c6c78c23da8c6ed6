"""Loads routerlab artifacts the way the RouteIQ gateway does (gateway-contract.md §6-§9) and prints decisions.

Input: one JSON object on stdin (schema-checked below). Output: one JSON object on stdout.

  {"mode": "decide", "kind": "mlp"|"mf"|"elo"|"knn"|"svm", "artifact": path, "probes": path-to-float32-file, "dim": 384}
      -> {"decisions": [label, ...], "load": {...}}
  {"mode": "manifest", "manifest": path, "served": path, "public_key_b64": str|null, "hmac_secret": str|null}
      -> {"ok": bool, "error": str|null}

The MLP and MF modules are written from the contract, not imported from the gateway.
"""

import base64
import hashlib
import hmac
import json
import os
import pickle
import sys

import numpy as np


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(2)


def require(obj, key, typ):
    if key not in obj or not isinstance(obj[key], typ):
        fail(f"input field '{key}' must be {typ}")
    return obj[key]


def companion_of(path):
    root, _ = os.path.splitext(path)
    return root + ".json"


def load_probes(path, dim):
    data = np.fromfile(path, dtype="<f4")
    if data.size % dim:
        fail(f"probe file size {data.size} is not a multiple of {dim}")
    return data.reshape(-1, dim)


def decide_torch(kind, artifact, probes):
    import torch
    from torch import nn

    with open(companion_of(artifact), "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        fail("companion JSON has a BOM")
    cfg = json.loads(raw.decode("utf-8"))
    state = torch.load(artifact, map_location="cpu", weights_only=True)
    idx_to_model = {int(k): v for k, v in cfg["idx_to_model"].items()}

    if kind == "mlp":
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid, "identity": nn.Identity}

        class MLP(nn.Module):
            def __init__(self, input_dim, hidden, num_classes, activation):
                super().__init__()
                dims = [input_dim, *hidden, num_classes]
                self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
                self.act = acts.get(activation, nn.ReLU)()

            def forward(self, x):
                for layer in self.layers[:-1]:
                    x = self.act(layer(x))
                return self.layers[-1](x)

        model = MLP(cfg["input_dim"], cfg["hidden_layer_sizes"], cfg["num_classes"], cfg["activation"])
    else:

        class MF(nn.Module):
            def __init__(self, num_models, latent_dim, text_dim):
                super().__init__()
                self.P = nn.Embedding(num_models, latent_dim)
                self.text_proj = nn.Linear(text_dim, latent_dim, bias=False)
                self.classifier = nn.Linear(latent_dim, 1, bias=False)

            def forward(self, x):
                p = self.text_proj(x)
                P = self.P.weight / self.P.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
                return (P.unsqueeze(0) * p.unsqueeze(1) * self.classifier.weight[0]).sum(-1)

        model = MF(cfg["num_models"], cfg["latent_dim"], cfg["text_dim"])
    model.load_state_dict(state, strict=True)
    for v in state.values():
        if v.dtype != torch.float32:
            fail(f"tensor dtype {v.dtype} is not float32")
    model.eval()
    out = []
    with torch.no_grad():
        for row in probes:
            z = model(torch.from_numpy(row.reshape(1, -1)))[0]
            idx = int(torch.argmax(z).item())  # torch.argmax returns the first maximal index
            out.append(idx_to_model.get(idx, str(idx)))
    return out, {"keys": list(state.keys()), "shapes": [list(v.shape) for v in state.values()]}


def decide(req):
    kind = require(req, "kind", str)
    artifact = require(req, "artifact", str)
    dim = require(req, "dim", int)
    probes = load_probes(require(req, "probes", str), dim)
    if kind in ("mlp", "mf"):
        decisions, info = decide_torch(kind, artifact, probes)
    elif kind == "elo":
        with open(artifact, "r", encoding="utf-8") as f:
            ratings = json.load(f)
        if not isinstance(ratings, dict) or not ratings:
            fail("ELO file is not a non-empty object")
        best = max(ratings, key=lambda k: ratings[k])  # first maximal key in file order
        decisions, info = [best for _ in range(len(probes))], {"keys": list(ratings.keys())}
    elif kind in ("knn", "svm"):
        with open(artifact, "rb") as f:
            model = pickle.load(f)
        if not hasattr(model, "predict"):
            fail("unpickled object has no predict")
        decisions = [str(model.predict(row.reshape(1, -1).astype(np.float32))[0]) for row in probes]
        info = {"type": type(model).__module__ + "." + type(model).__name__}
    else:
        fail(f"unknown kind {kind}")
    return {"decisions": decisions, "load": info}


def check_manifest(req):
    """Hash + signature verification per §8/§9, with the `cryptography` package."""
    path = require(req, "manifest", str)
    served = require(req, "served", str)
    with open(path, "r", encoding="utf-8") as f:
        m = json.load(f)
    arts = m.get("artifacts") or []
    if any("path" not in a or "sha256" not in a for a in arts):
        return {"ok": False, "error": "manifest absent (entry without path/sha256)"}
    entry = None
    for a in arts:
        p = a["path"]
        if p == served or served.endswith(p) or os.path.basename(p) == os.path.basename(served):
            entry = a
            break
    if entry is None:
        return {"ok": False, "error": "no manifest entry for served file"}
    with open(served, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != entry["sha256"]:
        return {"ok": False, "error": "SHA256 hash mismatch"}
    stype = str(m.get("signature_type", "none")).lower()
    if stype not in ("ed25519", "hmac-sha256"):
        return {"ok": True, "error": None}
    content = {
        "version": m.get("version", "1.0"),
        "artifacts": sorted(({"path": a["path"], "sha256": a["sha256"]} for a in arts), key=lambda a: a["path"]),
    }
    if m.get("created_at"):
        content["created_at"] = m["created_at"]
    if m.get("description"):
        content["description"] = m["description"]
    signed = json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")
    sig = base64.b64decode(m.get("signature") or "", validate=True)
    if stype == "hmac-sha256":
        secret = req.get("hmac_secret")
        if not secret:
            return {"ok": False, "error": "no HMAC secret"}
        ok = hmac.compare_digest(hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest(), sig)
        return {"ok": ok, "error": None if ok else "signature mismatch"}
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    kb = req.get("public_key_b64")
    if not kb:
        return {"ok": False, "error": "no public key"}
    raw = base64.b64decode(kb)
    key = load_pem_public_key(raw) if raw.startswith(b"-----BEGIN") else Ed25519PublicKey.from_public_bytes(raw)
    try:
        key.verify(sig, signed)
        return {"ok": True, "error": None}
    except InvalidSignature:
        return {"ok": False, "error": "signature mismatch"}


def main():
    req = json.load(sys.stdin)
    if not isinstance(req, dict):
        fail("input must be a JSON object")
    mode = require(req, "mode", str)
    if mode == "decide":
        res = decide(req)
    elif mode == "manifest":
        res = check_manifest(req)
    else:
        fail(f"unknown mode {mode}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
