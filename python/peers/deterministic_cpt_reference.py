"""Independent numpy reference for the deterministic-threshold CPT (docs/metrics.md §7a).

Written from the definition, not from the TypeScript code: a served router routes to strong iff score >= t for
one fixed t (or nobody, t above the maximum); CPT_det(p) is the smallest strong share among those thresholds whose
routed quality reaches Q_weak + p (Q_strong - Q_weak), or null when none does. Reads

  {"cases": [{"scores": [...], "yWeak": [...], "yStrong": [...], "ps": [...]}, ...]}

on stdin and writes {"results": [[{"value": share | null, "quality": q | null}, ...], ...]} (one list per case,
one entry per p) on stdout.
"""

import json
import sys

import numpy as np


def deterministic_cpt(scores, yw, ys, p):
    thresholds = np.unique(scores)
    # One row per threshold: who goes to strong with `score >= t`; plus the empty policy (t above the maximum).
    to_strong = scores[None, :] >= thresholds[:, None]
    to_strong = np.vstack([to_strong, np.zeros((1, len(scores)), dtype=bool)])
    share = to_strong.mean(axis=1)
    quality = np.where(to_strong, ys[None, :], yw[None, :]).mean(axis=1)
    target = yw.mean() + p * (ys.mean() - yw.mean())
    ok = quality >= target
    if not ok.any():
        return {"value": None, "quality": None}
    best = np.flatnonzero(ok)[np.argmin(share[ok])]
    return {"value": float(share[best]), "quality": float(quality[best])}


def main():
    doc = json.load(sys.stdin)
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise SystemExit("input must be an object with a 'cases' list")
    results = []
    for i, case in enumerate(doc["cases"]):
        for field in ("scores", "yWeak", "yStrong", "ps"):
            if field not in case:
                raise SystemExit(f"case {i}: missing field '{field}'")
        s = np.asarray(case["scores"], dtype=float)
        yw = np.asarray(case["yWeak"], dtype=float)
        ys = np.asarray(case["yStrong"], dtype=float)
        results.append([deterministic_cpt(s, yw, ys, float(p)) for p in case["ps"]])
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
