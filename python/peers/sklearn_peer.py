"""scikit-learn peer for routerlab's KNN and SVM routers (tests and benchmarks).

Input: one JSON object on stdin:
  {"estimator": "knn" | "svc", "params": {...estimator kwargs...}, "dir": "<temp dir>",
   "n_train": int, "n_test": int, "dim": int,
   "single_queries": int (optional, default 0: time that many one-row predict calls),
   "repeat": int (optional, default 1: batch predict repetitions for timing)}
Files in dir: X_train.f32, X_test.f32 (row-major little-endian float32), y_train.i32 (int32 labels).
Output files in dir: pred.i32 (predicted labels), and for svc decision.f64 (decision_function,
n_test x n_classes*(n_classes-1)/2 one-vs-one, or n_test for two classes).
stdout: one JSON object with timings (seconds) and fitted facts (classes, n_support, gamma).
Pinned behaviour: scikit-learn 1.8.0, numpy 2.4.1 (see python/requirements.txt).
"""

import json
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(2)


def main():
    cfg = json.load(sys.stdin)
    for key, kind in (("estimator", str), ("params", dict), ("dir", str), ("n_train", int), ("n_test", int), ("dim", int)):
        if not isinstance(cfg.get(key), kind):
            fail(f"config field '{key}' must be {kind.__name__}")
    d = cfg["dir"]
    n, m, dim = cfg["n_train"], cfg["n_test"], cfg["dim"]
    X = np.fromfile(os.path.join(d, "X_train.f32"), dtype="<f4")
    y = np.fromfile(os.path.join(d, "y_train.i32"), dtype="<i4")
    Xt = np.fromfile(os.path.join(d, "X_test.f32"), dtype="<f4")
    if X.size != n * dim or y.size != n or Xt.size != m * dim:
        fail(f"file sizes do not match n_train={n}, n_test={m}, dim={dim}")
    X = X.reshape(n, dim)
    Xt = Xt.reshape(m, dim)
    params = cfg["params"]
    if cfg["estimator"] == "knn":
        est = KNeighborsClassifier(algorithm="brute", metric="cosine", **params)
    elif cfg["estimator"] == "svc":
        est = SVC(**params)
    else:
        fail("estimator must be 'knn' or 'svc'")
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - t0
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__, "fit_seconds": fit_s, "classes": est.classes_.tolist()}
    repeat = int(cfg.get("repeat", 1))
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        pred = est.predict(Xt)
        times.append(time.perf_counter() - t0)
    out["predict_seconds"] = min(times)
    pred.astype("<i4").tofile(os.path.join(d, "pred.i32"))
    if cfg["estimator"] == "svc":
        dec = est.decision_function(Xt)
        np.asarray(dec, dtype="<f8").tofile(os.path.join(d, "decision.f64"))
        out["n_support"] = est.n_support_.tolist()
        out["gamma"] = float(est._gamma)
        out["intercept"] = est.intercept_.tolist()
    singles = int(cfg.get("single_queries", 0))
    if singles > 0:
        lat = []
        for i in range(singles):
            row = Xt[i % m : i % m + 1]
            t0 = time.perf_counter()
            est.predict(row)
            lat.append(time.perf_counter() - t0)
        out["single_p99_ms"] = float(np.percentile(np.array(lat) * 1000.0, 99))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
