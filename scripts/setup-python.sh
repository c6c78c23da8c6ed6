#!/usr/bin/env bash
# Creates or refreshes routerlab's Python environment (.venv) from python/requirements.txt.
# Idempotent and cached: it reinstalls only when the requirements file changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
req="$root/python/requirements.txt"
stamp="$venv/.routerlab-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
python="${ROUTERLAB_BASE_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "routerlab: Python 3.11+ is needed for the test services and export step; install python3 (with venv and pip)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "routerlab: $("$python" --version 2>&1) is too old; Python 3.11+ is needed (set ROUTERLAB_BASE_PYTHON to another)" >&2
  exit 1
fi
echo "[routerlab] setting up the Python environment in .venv (first run takes a few minutes) ..." >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
