#!/usr/bin/env bash
# Install the system packages quiver's build needs on Debian/Ubuntu: cmake and libclang (HiGHS is
# compiled from source), libz3-dev and z3 (the SMT backends), pkg-config; python3-venv for the
# ONNX Runtime conformance suite. Runs apt-get directly as root (containers, CI) and through sudo
# otherwise; installs only what is missing, so it is quick to rerun. Then the test suite's pinned
# Python packages (ONNX Runtime for the conformance suite, maturin and pytest for the Python
# package) go into a venv outside the clone, ~/.cache/quiver-venv (or $QUIVER_VENV), where the
# tests look for them; OR-Tools' native CP-SAT library (the `cpsat` backend) goes, without its
# Python dependencies, into ~/.cache/quiver-ortools (or $QUIVER_ORTOOLS_DIR).
set -euo pipefail

packages=(cmake libclang-dev libz3-dev z3 pkg-config python3-venv)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: no apt-get here; install these (or your system's equivalents) yourself: ${packages[*]}" >&2
  exit 1
fi

cd "$(dirname "$0")/.."
python_packages() {
  local venv="${QUIVER_VENV:-$HOME/.cache/quiver-venv}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/requirements-onnx.txt -r scripts/requirements-python.txt
  local ortools="${QUIVER_ORTOOLS_DIR:-$HOME/.cache/quiver-ortools}"
  if ! ls "$ortools"/ortools/.libs/libortools.so* >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$ortools" -r scripts/requirements-cpsat.txt
  fi
}

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  python_packages
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup.sh: not root and no sudo: run as root, or install: ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
python_packages
