#!/bin/bash
# VNN-COMP tool interface: install quiver.  Usage: install_tool.sh v1
# Installs the build dependencies (Debian/Ubuntu, as root or with sudo) and builds quiver in
# release mode; the binary ends up in <repo>/target/release/quiver (or $CARGO_TARGET_DIR).
set -euo pipefail
VERSION_STRING=v1
if [ "${1:-}" != "$VERSION_STRING" ]; then
	echo "Expected first argument (version string) '$VERSION_STRING', got '${1:-}'" >&2
	exit 1
fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
if command -v apt-get >/dev/null; then
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q cmake libclang-dev libz3-dev z3 pkg-config build-essential curl
fi
if ! command -v cargo >/dev/null; then
	curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
	# shellcheck disable=SC1091
	. "$HOME/.cargo/env"
fi
cd "$REPO"
cargo build --release
"$(dirname "$0")/quiver_bin.sh" --version
