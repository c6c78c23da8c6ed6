"""Reference AUROC / Brier / ECE for routerlab's parity tests: scikit-learn's roc_auc_score and brier_score_loss,
and ECE with numpy (equal-width bins of [0, 1], p = 1 in the last bin, weighted by bin size).

Input (stdin JSON): {"cases": [{"p": [...], "y": [0 | 1, ...], "bins": 10}, ...]}.
Output (stdout JSON): {"results": [{"auroc": float | null, "brier": float, "ece": float}, ...]}.
"""

import json
import sys

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score


def ece(p, y, bins):
    idx = np.minimum(np.floor(p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


def main():
    out = []
    for case in json.load(sys.stdin)["cases"]:
        p = np.asarray(case["p"], dtype=np.float64)
        y = np.asarray(case["y"], dtype=np.int64)
        auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
        out.append({"auroc": auc, "brier": float(brier_score_loss(y, p)), "ece": ece(p, y, case["bins"])})
    print(json.dumps({"results": out}))


if __name__ == "__main__":
    main()
