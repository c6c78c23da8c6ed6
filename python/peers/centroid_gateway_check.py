"""Loads routerlab's centroid files the way the RouteIQ gateway's CentroidClassifier does (contract §6.6) and
classifies probe embeddings with its rule, re-implemented here from the contract.

Input (stdin JSON): {"dir": path, "probes": path-to-float32-file, "dim": 384}.
Output (stdout JSON): {"complex": [bool, ...], "dtype": {...}, "shape": {...}, "norm": {...}}.
"""

import json
import os
import sys

import numpy as np


def main():
    d = json.load(sys.stdin)
    out = {"dtype": {}, "shape": {}, "norm": {}}
    cents = {}
    for name in ("simple", "complex"):
        arr = np.load(os.path.join(d["dir"], f"{name}_centroid.npy"), allow_pickle=False)
        out["dtype"][name] = arr.dtype.str
        out["shape"][name] = list(arr.shape)
        norm = float(np.linalg.norm(arr))
        out["norm"][name] = norm
        if arr.shape != (384,):
            raise SystemExit(f"{name} centroid has shape {arr.shape}")
        if abs(norm - 1.0) > 0.01:
            arr = arr / norm
        cents[name] = arr
    probes = np.fromfile(d["probes"], dtype="<f4").reshape(-1, d["dim"])
    decisions = []
    for emb in probes:
        emb = emb / np.linalg.norm(emb)
        sim_simple = float(np.dot(emb, cents["simple"]))
        sim_complex = float(np.dot(emb, cents["complex"]))
        confidence = abs(sim_complex - sim_simple)
        decisions.append(bool(confidence < 0.06 or sim_complex > sim_simple))
    out["complex"] = decisions
    print(json.dumps(out))


if __name__ == "__main__":
    main()
