"""Reference Bradley-Terry (LMSYS arena `compute_mle_elo`) fit with scikit-learn, for routerlab's parity tests.

Input (stdin JSON): {"models": [...], "a": [...], "b": [...], "outcome": [1 | 0 | 0.5, ...]}.
Output (stdout JSON): {"ratings": [...]} in `models` order.

As LMSYS: design rows +log(10) for model a and -log(10) for model b, y = 1 when a wins, a tie split into a win
and a loss of half weight each; unpenalised logistic regression without intercept; rating = 400 * coef + 1000. The
likelihood only sees differences, so the first model's column is dropped for the solve (full rank) and the
coefficients are centred afterwards (the sum-zero point lbfgs reaches from zero).
"""

import json
import math
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression


def main():
    d = json.load(sys.stdin)
    models = d["models"]
    k = len(models)
    rows, ys, ws = [], [], []
    for a, b, o in zip(d["a"], d["b"], d["outcome"]):
        x = np.zeros(k)
        x[a] += math.log(10)
        x[b] -= math.log(10)
        if o == 0.5:
            rows += [x, x]
            ys += [1, 0]
            ws += [0.5, 0.5]
        else:
            rows.append(x)
            ys.append(1 if o == 1 else 0)
            ws.append(1.0)
    X = np.array(rows)[:, 1:]
    lr = LogisticRegression(penalty=None, fit_intercept=False, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    lr.fit(X, np.array(ys), sample_weight=np.array(ws))
    beta = np.concatenate([[0.0], lr.coef_[0]])
    beta -= beta.mean()
    print(json.dumps({"ratings": (400 * beta + 1000).tolist()}))


if __name__ == "__main__":
    main()
