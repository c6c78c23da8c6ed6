#!/usr/bin/env bash
# Installs the headless browser the browser tests drive (playwright-core against Debian's `chromium`), when it is
# missing. Idempotent: prints the browser's path and does nothing else when one is already there.
# ROUTERLAB_CHROMIUM may name another Chromium/Chrome binary.
set -euo pipefail
if [ -n "${ROUTERLAB_CHROMIUM:-}" ]; then
  if [ -x "$ROUTERLAB_CHROMIUM" ]; then echo "$ROUTERLAB_CHROMIUM"; exit 0; fi
  echo "routerlab: ROUTERLAB_CHROMIUM=$ROUTERLAB_CHROMIUM is not an executable" >&2
  exit 1
fi
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "routerlab: no chromium found and no apt-get to install it; install Chromium and set ROUTERLAB_CHROMIUM" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "routerlab: installing chromium needs root (apt-get install chromium)" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "[routerlab] installing Debian's chromium for the browser tests (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2
command -v chromium
