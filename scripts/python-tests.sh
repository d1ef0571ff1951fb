#!/usr/bin/env bash
# Build quiver's Python package (PyO3 binding, python/) into a venv and run its pytest suite.
# Reuses the cargo target directory ($CARGO_TARGET_DIR, default ~/.cache/quiver-target) so the
# Rust library is not compiled twice. The venv (default ~/.cache/quiver-venv, or $QUIVER_VENV)
# gets the pinned packages of scripts/requirements-{onnx,python}.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiver-target}"
venv="${QUIVER_VENV:-$HOME/.cache/quiver-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { echo "python-tests: cannot create a venv at $venv (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-onnx.txt -r scripts/requirements-python.txt
# --no-build-isolation: build with the pinned maturin above instead of downloading another one.
PATH="$venv/bin:$PATH" "$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation .
QUIVER_BIN="${QUIVER_BIN:-$CARGO_TARGET_DIR/release/quiver}" "$py" -m pytest -q python/tests
