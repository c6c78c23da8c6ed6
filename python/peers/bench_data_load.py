"""Python peer of bench/data.ts: read every bundled data file with pandas / json.

Input (argv[1]): JSON {"files": [{"path": str, "kind": "csv" | "jsonl" | "json"}], "repeats": int}.
Output (stdout): JSON {"seconds": [float per repeat], "rows": int}.
"""

import json
import sys
import time

import pandas as pd


def load(files):
    rows = 0
    for f in files:
        if f["kind"] == "csv":
            rows += len(pd.read_csv(f["path"]))
        elif f["kind"] == "jsonl":
            with open(f["path"], encoding="utf-8") as fh:
                rows += sum(1 for line in fh if line.strip() and json.loads(line) is not None)
        elif f["kind"] == "json":
            with open(f["path"], encoding="utf-8") as fh:
                v = json.load(fh)
            rows += len(v)
        else:
            raise ValueError("unknown kind %r" % f["kind"])
    return rows


def main():
    req = json.loads(sys.argv[1])
    seconds = []
    rows = 0
    for _ in range(int(req["repeats"])):
        t0 = time.perf_counter()
        rows = load(req["files"])
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": seconds, "rows": rows}))


if __name__ == "__main__":
    main()
