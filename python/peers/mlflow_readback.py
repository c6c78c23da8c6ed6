"""Reads a run back with MLflow's own Python client and prints it as JSON (routerlab tracking tests).

Input (JSON on stdin):
  {"tracking_uri": str, "run_id": str, "experiment_id": str, "metric_keys": [str],
   "artifacts": [str], "model": {"name": str, "alias": str} | null, "dst_dir": str}
Output (JSON on stdout):
  {"search": {...one row of mlflow.search_runs...}, "status": str, "params": {}, "tags": {},
   "history": {key: [[step, timestamp, value], ...]}, "artifacts": {path: sha256},
   "artifact_list": [path], "inputs": [{name, digest, context}], "model_version": {...} | null}
"""

import hashlib
import json
import math
import os
import sys

import mlflow
from mlflow import MlflowClient


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def num(v: float):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def list_all(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.extend(list_all(client, run_id, f.path))
        else:
            out.append(f.path)
    return out


def main() -> None:
    req = json.load(sys.stdin)
    for key in ("tracking_uri", "run_id", "experiment_id", "dst_dir"):
        if not isinstance(req.get(key), str):
            raise SystemExit(f"mlflow_readback: input field '{key}' must be a string")
    mlflow.set_tracking_uri(req["tracking_uri"])
    client = MlflowClient(req["tracking_uri"])
    run_id = req["run_id"]

    df = mlflow.search_runs(experiment_ids=[req["experiment_id"]], filter_string=f"attributes.run_id = '{run_id}'")
    rows = df.to_dict(orient="records")
    if len(rows) != 1:
        raise SystemExit(f"mlflow_readback: search_runs found {len(rows)} runs for {run_id}")
    search = {k: (None if isinstance(v, float) and math.isnan(v) else str(v)) for k, v in rows[0].items()}

    run = client.get_run(run_id)
    history = {}
    for key in req.get("metric_keys", []):
        history[key] = [[m.step, m.timestamp, num(m.value)] for m in client.get_metric_history(run_id, key)]

    artifacts = {}
    os.makedirs(req["dst_dir"], exist_ok=True)
    for path in req.get("artifacts", []):
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=req["dst_dir"])
        artifacts[path] = sha256(local)

    inputs = []
    for di in run.inputs.dataset_inputs:
        ctx = next((t.value for t in di.tags if t.key == "mlflow.data.context"), None)
        inputs.append({"name": di.dataset.name, "digest": di.dataset.digest, "context": ctx})

    model_version = None
    if req.get("model"):
        mv = client.get_model_version_by_alias(req["model"]["name"], req["model"]["alias"])
        model_version = {"name": mv.name, "version": str(mv.version), "source": mv.source, "run_id": mv.run_id}

    json.dump(
        {
            "search": search,
            "status": run.info.status,
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
            "history": history,
            "artifacts": artifacts,
            "artifact_list": sorted(list_all(client, run_id)),
            "inputs": inputs,
            "model_version": model_version,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
