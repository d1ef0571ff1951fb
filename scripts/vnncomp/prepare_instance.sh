#!/bin/bash
# VNN-COMP tool interface: prepare one instance.
# Usage: prepare_instance.sh v1 CATEGORY ONNX_FILE VNNLIB_FILE
# quiver has no per-instance preparation beyond checking that it can read the network: a
# network quiver cannot verify (e.g. a float, non-quantized ONNX graph) still returns 0 here,
# and run_instance.sh then writes `error` with the reason on stderr.
VERSION_STRING=v1
if [ "$1" != "$VERSION_STRING" ]; then
	echo "Expected first argument (version string) '$VERSION_STRING', got '$1'" >&2
	exit 1
fi
CATEGORY=$2
ONNX_FILE=$3
VNNLIB_FILE=$4
echo "Preparing quiver for category '$CATEGORY', onnx '$ONNX_FILE', vnnlib '$VNNLIB_FILE'"
# No leftover processes to clean up: a quiver run is one process that ends with its time limit.
"$(dirname "$0")/quiver_bin.sh" info "$ONNX_FILE" >/dev/null || echo "note: quiver cannot load $ONNX_FILE; run_instance will report error"
exit 0
