"""Executes a Jupyter notebook headlessly with nbclient; never writes outputs back.

Input (argv[1]): JSON {"path": str, "timeout_s": number, "kernel": str | null, "output_path": str | null}.
With "output_path", the executed notebook (outputs included, up to the failing cell) is written there.
The notebook runs with its own folder as working directory, in the kernel named in its metadata
(or "kernel" when given). Output (stdout, one JSON line):
  {"ok": true, "cells": <executed code cells>, "kernel": <name>}
  {"ok": false, "kind": "cell", "cell_index": i, "source": ..., "ename": ..., "evalue": ..., "traceback": ...}
  {"ok": false, "kind": "timeout" | "kernel" | "input", "message": ...}
Exit code 0 when ok, 1 otherwise. Pinned behaviour: nbclient 0.10.2, nbformat 5.10.4.
"""

import json
import os
import re
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    try:
        req = json.loads(sys.argv[1])
        path = os.path.abspath(str(req["path"]))
        timeout_s = float(req.get("timeout_s", 600))
        kernel = req.get("kernel")
        output_path = req.get("output_path")
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - reported to the caller as a structured error
        emit({"ok": False, "kind": "input", "message": f"{type(e).__name__}: {e}"})
        return 1

    kernel_name = kernel or nb.metadata.get("kernelspec", {}).get("name") or "tslab"
    client = NotebookClient(
        nb,
        timeout=int(max(1, timeout_s)),
        kernel_name=kernel_name,
        resources={"metadata": {"path": os.path.dirname(path)}},
        allow_errors=False,
        record_timing=False,
    )
    # Locate the failing cell ourselves: nbclient's error carries the traceback but not the index.
    current = {"index": -1}
    original = client.async_execute_cell

    async def tracking_execute_cell(cell, cell_index, *args, **kwargs):
        current["index"] = cell_index
        return await original(cell, cell_index, *args, **kwargs)

    client.async_execute_cell = tracking_execute_cell
    try:
        try:
            client.execute()
        finally:
            if output_path:
                nbformat.write(nb, output_path)
    except CellExecutionError as e:
        i = current["index"]
        source = nb.cells[i].source if 0 <= i < len(nb.cells) else ""
        emit(
            {
                "ok": False,
                "kind": "cell",
                "cell_index": i,
                "source": source,
                "ename": e.ename,
                "evalue": ANSI.sub("", str(e.evalue)),
                "traceback": ANSI.sub("", str(e.traceback))[-4000:],
            }
        )
        return 1
    except CellTimeoutError as e:
        i = current["index"]
        source = nb.cells[i].source if 0 <= i < len(nb.cells) else ""
        emit({"ok": False, "kind": "timeout", "cell_index": i, "source": source, "message": str(e)[-2000:]})
        return 1
    except DeadKernelError as e:
        emit({"ok": False, "kind": "kernel", "message": f"kernel {kernel_name} died: {e}"})
        return 1
    except Exception as e:  # noqa: BLE001 - e.g. NoSuchKernel
        emit({"ok": False, "kind": "kernel", "message": f"{type(e).__name__}: {e}"})
        return 1
    cells = sum(1 for c in nb.cells if c.cell_type == "code")
    emit({"ok": True, "cells": cells, "kernel": kernel_name})
    return 0


if __name__ == "__main__":
    sys.exit(main())
