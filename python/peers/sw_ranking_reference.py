"""Reference similarity-weighted ranking (RouteLLM `sw_ranking` definition) with numpy + scipy, for parity tests.

Input (stdin JSON): {"models": [...], "train": [[...], ...], "queries": [[...], ...], "base": 10,
                     "a": [...], "b": [...], "outcome": [1 | 0 | 0.5, ...], "query": [training row per battle]}.
Output (stdout JSON): {"ratings": [[...per model...] per query], "strong_win": [...]} (strong = models[1]).

Per query: cosine similarity s_r to every training row (numpy, float64); w_r = base ** (s_r / max s) when
max s > 0, else 1; each battle weighs w of its training row; Bradley-Terry by weighted maximum likelihood
(P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / 400)), a tie half a win for each side), solved with
scipy.optimize.minimize (trust-exact, analytic gradient and Hessian) then polished by Newton steps
(numpy.linalg.solve), the first model's beta fixed at 0, then centred; rating = 400 * beta + 1000.
"""

import json
import math
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

LN = math.log(10)


def fit(k, a, b, y, w):
    w = w / w.sum()

    def parts(free):
        beta = np.concatenate([[0.0], free])
        z = LN * (beta[a] - beta[b])
        p = expit(z)
        f = np.sum(w * (np.logaddexp(0, z) - y * z))
        r = LN * w * (p - y)
        g = np.zeros(k)
        np.add.at(g, a, r)
        np.add.at(g, b, -r)
        h = LN * LN * w * p * (1 - p)
        H = np.zeros((k, k))
        np.add.at(H, (a, a), h)
        np.add.at(H, (b, b), h)
        np.add.at(H, (a, b), -h)
        np.add.at(H, (b, a), -h)
        return f, g[1:], H[1:, 1:]

    res = minimize(
        lambda v: parts(v)[0],
        np.zeros(k - 1),
        jac=lambda v: parts(v)[1],
        hess=lambda v: parts(v)[2],
        method="trust-exact",
        options={"gtol": 1e-14, "maxiter": 500},
    )
    free = res.x
    # trust-exact stops on its own gradient test; finish with plain Newton steps to machine precision.
    for _ in range(50):
        _, g, H = parts(free)
        step = np.linalg.solve(H, g)
        free = free - step
        if np.max(np.abs(step)) < 1e-15:
            break
    beta = np.concatenate([[0.0], free])
    beta -= beta.mean()
    return 400 * beta + 1000


def main():
    d = json.load(sys.stdin)
    k = len(d["models"])
    train = np.asarray(d["train"], dtype=np.float64)
    a = np.asarray(d["a"], dtype=np.int64)
    b = np.asarray(d["b"], dtype=np.int64)
    y = np.asarray(d["outcome"], dtype=np.float64)
    row = np.asarray(d["query"], dtype=np.int64)
    norms = np.linalg.norm(train, axis=1)
    out, strong = [], []
    for q in np.asarray(d["queries"], dtype=np.float64):
        denom = norms * np.linalg.norm(q)
        with np.errstate(invalid="ignore", divide="ignore"):
            sims = np.where(denom > 0, train @ q / denom, 0.0)
        top = sims.max()
        w = d["base"] ** (sims / top) if top > 0 else np.ones_like(sims)
        r = fit(k, a, b, y, w[row])
        out.append(r.tolist())
        strong.append(float(1 / (1 + 10 ** ((r[0] - r[1]) / 400))) if k >= 2 else None)
    print(json.dumps({"ratings": out, "strong_win": strong}))


if __name__ == "__main__":
    main()
