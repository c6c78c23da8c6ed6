"""Reference RouterArena optimality scores and LLMRouterBench's gap to the oracle for routerlab's parity tests, in
numpy from the definitions in docs/evaluation.md.

Input (stdin JSON): {"cases": [{"chosen": [int, ...], "quality": [[...M], ...], "cost": [[...M], ...],
"correct_at": float}, ...]}.
Output (stdout JSON): {"results": [{"optimal_selection", "optimal_cost", "optimal_accuracy", "n_with_optimal",
"quality", "oracle", "gap", "relative_gap"}, ...]} (null where undefined).
"""

import json
import sys

import numpy as np


def case_result(case):
    chosen = np.asarray(case["chosen"], dtype=np.int64)
    y = np.asarray(case["quality"], dtype=np.float64)
    c = np.asarray(case["cost"], dtype=np.float64)
    rows = np.arange(len(chosen))
    correct = y >= case["correct_at"]
    has_opt = correct.any(axis=1)
    c_opt = np.where(correct, c, np.inf).min(axis=1)
    y_sel, c_sel = y[rows, chosen], c[rows, chosen]
    hit = correct[rows, chosen] & (c_sel == c_opt)
    n_opt = int(has_opt.sum())
    best_single = y.mean(axis=0).max()
    quality, oracle = y_sel.mean(), y.max(axis=1).mean()
    return {
        "optimal_selection": float(hit[has_opt].mean()) if n_opt else None,
        "optimal_cost": float((c_opt[has_opt] / c_sel[has_opt]).mean()) if n_opt else None,
        "optimal_accuracy": float(quality / best_single) if best_single > 0 else None,
        "n_with_optimal": n_opt,
        "quality": float(quality),
        "oracle": float(oracle),
        "gap": float(oracle - quality),
        "relative_gap": float((oracle - quality) / oracle) if oracle != 0 else None,
    }


def main():
    print(json.dumps({"results": [case_result(c) for c in json.load(sys.stdin)["cases"]]}))


if __name__ == "__main__":
    main()
