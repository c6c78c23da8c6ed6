#!/usr/bin/env bash
# Registers the tslab (TypeScript) Jupyter kernels into routerlab's Python environment (.venv), so notebooks
# run headlessly with nbclient (tests) or interactively with Jupyter. Idempotent and cached: it re-registers only
# when the tslab version, the node binary or the checkout location changes. Needs .venv (scripts/setup-python.sh)
# and node_modules (npm ci).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${ROUTERLAB_VENV:-$root/.venv}"
tslab="$root/node_modules/.bin/tslab"
stamp="$venv/.routerlab-tslab-kernel"

if [ ! -x "$venv/bin/python" ]; then
  bash "$root/scripts/setup-python.sh"
fi
if [ ! -x "$tslab" ]; then
  echo "routerlab: $tslab is missing; run 'npm ci' first" >&2
  exit 1
fi
version="$(node -p 'require(process.argv[1]).version' "$root/node_modules/tslab/package.json")"
want="tslab=$version node=$(command -v node) root=$root"
kernels="$venv/share/jupyter/kernels"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$kernels/tslab/kernel.json" ] && [ -f "$kernels/jslab/kernel.json" ]; then
  exit 0
fi
# tslab loads its native ZeroMQ binding (zeromq ships prebuilt linux/macOS/windows binaries in its npm tarball,
# so no install script is needed); fail here, with a clear message, rather than inside a kernel later.
if ! (cd "$root" && node -e 'require("zeromq")') >/dev/null 2>&1; then
  echo "routerlab: tslab's zeromq binding does not load on this machine:" >&2
  (cd "$root" && node -e 'require("zeromq")') >&2 || true
  exit 1
fi
echo "[routerlab] registering the tslab Jupyter kernel in $venv ..." >&2
"$tslab" install --python="$venv/bin/python" --prefix="$venv" --binary="$tslab" >&2
"$venv/bin/jupyter" kernelspec list >&2
echo "$want" > "$stamp"
