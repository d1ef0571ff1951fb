#!/bin/bash
# Runs the quiver binary built by install_tool.sh (honours $QUIVER_BIN and $CARGO_TARGET_DIR).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${QUIVER_BIN:-}" ]; then exec "$QUIVER_BIN" "$@"; fi
exec "${CARGO_TARGET_DIR:-$REPO/target}/release/quiver" "$@"
