"""Independent reference implementation of routerlab's routing metrics (numpy only).

Written from /work/shared/spec/metrics.md, not from the TypeScript code, so the test suite can check
that both agree on randomised curves. Reads one JSON object on stdin:

  {"cases": [ {"kind": "curve" | "points" | "aiq" | "wtp" | "simpleqa", ...}, ... ]}

and writes {"results": [...]} (one result per case, same order) on stdout. Unknown kinds or missing
fields raise an error naming the case index and field.
"""

import json
import sys

import numpy as np


def need(case, i, field):
    if field not in case:
        raise SystemExit(f"case {i}: missing field '{field}'")
    return case[field]


def sweep_point(scores, yw, ys, cw, cs, t, strict):
    to_strong = scores > t if strict else scores >= t
    quality = np.where(to_strong, ys, yw).mean()
    cost = np.where(to_strong, cs, cw).mean()
    return {"threshold": float(t), "strict": bool(strict), "x": float(to_strong.mean()),
            "quality": float(quality), "cost": float(cost)}


def curve(scores, yw, ys, cw, cs, mode):
    pts = []
    if mode == "fine":
        # Every distinct score with >=, plus "> max" (nobody to strong).
        pts.append(sweep_point(scores, yw, ys, cw, cs, scores.max(), True))
        for t in np.unique(scores):
            pts.append(sweep_point(scores, yw, ys, cw, cs, t, False))
    elif mode == "reference10":
        edges = np.quantile(scores, np.arange(11) / 10.0)
        uniq = []
        for e in edges:
            if not any(e == u for u in uniq):
                uniq.append(e)
        top = scores.max()
        for e in uniq:
            pts.append(sweep_point(scores, yw, ys, cw, cs, e, e == top))
        if len(uniq) == 1:
            pts.append(sweep_point(scores, yw, ys, cw, cs, top, False))
    else:
        raise SystemExit(f"unknown mode {mode}")
    order = np.argsort(np.array([p["x"] for p in pts]), kind="stable")
    return [pts[k] for k in order]


def apgr(x, q, qw, qs):
    order = np.argsort(x, kind="stable")
    x = np.asarray(x, dtype=float)[order]
    q = np.asarray(q, dtype=float)[order]
    area = 0.0
    for i in range(len(x) - 1):
        area += (x[i + 1] - x[i]) * (q[i] + q[i + 1]) / 2.0
    width = x[-1] - x[0]
    lo, hi = qw * width, qs * width
    if hi == lo:
        return None
    return (area - lo) / (hi - lo)


def cpt_first(x, q, qw, qs, p):
    order = np.argsort(x, kind="stable")
    x = np.asarray(x, dtype=float)[order]
    q = np.asarray(q, dtype=float)[order]
    target = qw + p * (qs - qw)
    hits = np.nonzero(q >= target)[0]
    if len(hits) == 0:
        first = None
    else:
        i = int(hits[0])
        if i == 0:
            first = float(x[0])
        else:
            first = float(x[i - 1] + (target - q[i - 1]) * (x[i] - x[i - 1]) / (q[i] - q[i - 1]))
    return {"value": first, "interp": float(np.interp(target, q, x)), "target": float(target)}


def hull(points):
    pts = sorted(((float(c), float(q)) for c, q in points))
    best = {}
    for c, q in pts:
        best[c] = max(best.get(c, -np.inf), q)
    cs = sorted(best)
    upper = []
    for c in cs:
        q = best[c]
        while len(upper) >= 2:
            (c1, q1), (c2, q2) = upper[-2], upper[-1]
            # slope test: drop the middle point unless the chain turns clockwise
            if (q2 - q1) * (c - c1) <= (q - q1) * (c2 - c1):
                upper.pop()
            else:
                break
        upper.append((c, q))
    k = int(np.argmax([q for _, q in upper]))
    return upper[: k + 1]


def aiq(points, c_min, c_max):
    h = hull(points)
    hc = np.array([c for c, _ in h])
    hq = np.array([q for _, q in h])
    grid = np.unique(np.concatenate([[c_min, c_max], hc[(hc > c_min) & (hc < c_max)]]))
    vals = np.interp(grid, hc, hq, left=np.nan, right=hq[-1]) if len(hc) > 1 else np.full(len(grid), hq[0])
    return float(np.sum((grid[1:] - grid[:-1]) * (vals[1:] + vals[:-1]) / 2.0) / (c_max - c_min)), h


def wtp(pred, true, cost, lambdas):
    out = []
    n = pred.shape[0]
    for lam in lambdas:
        value = lam * pred - cost
        choice = np.argmax(value, axis=1)  # first maximum on ties = fixed model order
        out.append({"lambda": lam, "cost": float(cost[np.arange(n), choice].mean()),
                    "quality": float(true[np.arange(n), choice].mean())})
    return out


def run_case(i, case):
    kind = need(case, i, "kind")
    if kind == "curve":
        scores = np.asarray(need(case, i, "scores"), dtype=float)
        yw = np.asarray(need(case, i, "yWeak"), dtype=float)
        ys = np.asarray(need(case, i, "yStrong"), dtype=float)
        cw = np.asarray(case.get("cWeak", np.zeros(len(scores))), dtype=float)
        cs = np.asarray(case.get("cStrong", np.zeros(len(scores))), dtype=float)
        qw, qs = float(yw.mean()), float(ys.mean())
        res = {}
        for mode in ("fine", "reference10"):
            pts = curve(scores, yw, ys, cw, cs, mode)
            x = [p["x"] for p in pts]
            q = [p["quality"] for p in pts]
            res[mode] = {"points": pts, "apgr": apgr(x, q, qw, qs),
                         "cpt": [cpt_first(x, q, qw, qs, p) for p in need(case, i, "ps")]}
        res["qWeak"], res["qStrong"] = qw, qs
        return res
    if kind == "points":
        x, q = need(case, i, "x"), need(case, i, "quality")
        qw, qs = float(need(case, i, "qWeak")), float(need(case, i, "qStrong"))
        return {"apgr": apgr(x, q, qw, qs), "cpt": [cpt_first(x, q, qw, qs, p) for p in need(case, i, "ps")]}
    if kind == "aiq":
        pts = need(case, i, "points")
        value, h = aiq([(p["cost"], p["quality"]) for p in pts], float(need(case, i, "cMin")),
                       float(need(case, i, "cMax")))
        return {"aiq": value, "hull": [{"cost": c, "quality": q} for c, q in h]}
    if kind == "wtp":
        m = int(need(case, i, "nModels"))
        pred = np.asarray(need(case, i, "predicted"), dtype=float).reshape(-1, m)
        true = np.asarray(need(case, i, "trueQuality"), dtype=float).reshape(-1, m)
        cost = np.asarray(need(case, i, "cost"), dtype=float).reshape(-1, m)
        return {"points": wtp(pred, true, cost, need(case, i, "lambdas"))}
    if kind == "simpleqa":
        a, b, c = (int(need(case, i, k)) for k in ("nA", "nB", "nC"))
        n = a + b + c
        correct, incorrect, na = a / n, b / n, c / n
        attempted = correct + incorrect
        cga = correct / attempted if attempted > 0 else 0.0
        f = 2 * cga * correct / (cga + correct) if (cga + correct) > 0 else 0.0
        return {"correct": correct, "incorrect": incorrect, "notAttempted": na, "cga": cga, "f": f}
    if kind == "sweep_bench":
        # Benchmark peer: the same threshold sweep as routerlab's BinarySweep, vectorised in numpy.
        # The file holds float64 scores, yWeak, yStrong (n each); timed from arrays in memory.
        import time
        n = int(need(case, i, "n"))
        arr = np.fromfile(need(case, i, "file"), dtype="<f8")
        scores, yw, ys = arr[:n], arr[n:2 * n], arr[2 * n:3 * n]
        thresholds = np.asarray(need(case, i, "thresholds"), dtype=float)
        best = float("inf")
        for _ in range(int(case.get("repeats", 3))):
            t0 = time.perf_counter()
            order = np.argsort(-scores, kind="stable")
            s_desc = scores[order]
            dq = np.concatenate([[0.0], np.cumsum(ys[order] - yw[order])])
            k = np.searchsorted(-s_desc, -thresholds, side="right")  # count of scores >= t
            x = k / n
            quality = (yw.sum() + dq[k]) / n
            best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "x": x.tolist(), "quality": quality.tolist()}
    raise SystemExit(f"case {i}: unknown kind '{kind}'")


def main():
    doc = json.load(sys.stdin)
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise SystemExit("input must be an object with a 'cases' list")
    json.dump({"results": [run_case(i, c) for i, c in enumerate(doc["cases"])]}, sys.stdout)


if __name__ == "__main__":
    main()
