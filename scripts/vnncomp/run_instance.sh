#!/bin/bash
# VNN-COMP tool interface: run one instance.
# Usage: run_instance.sh v1 CATEGORY ONNX_FILE VNNLIB_FILE RESULTS_FILE TIMEOUT
# Writes RESULTS_FILE: `sat` followed by the counterexample ((X_0 v) … (Y_0 v)), `unsat`,
# `timeout`, `unknown` or `error` (see docs/experiments.md). VNN-LIB variables are read as real
# values (the quantized network's float inputs/outputs); quiver's own time limit is the
# competition's minus a small margin for loading. Exit status 0 whenever a result was written.
VERSION_STRING=v1
if [ "$1" != "$VERSION_STRING" ]; then
	echo "Expected first argument (version string) '$VERSION_STRING', got '$1'" >&2
	exit 1
fi
CATEGORY=$2
ONNX_FILE=$3
VNNLIB_FILE=$4
RESULTS_FILE=$5
TIMEOUT=$6
echo "Running quiver on category '$CATEGORY', onnx '$ONNX_FILE', vnnlib '$VNNLIB_FILE', results '$RESULTS_FILE', timeout $TIMEOUT"
LIMIT=$(awk -v t="$TIMEOUT" 'BEGIN { l = t * 0.9 - 1; if (l < 1) l = (t > 1 ? t / 2 : 0.5); print l }')
"$(dirname "$0")/quiver_bin.sh" verify "$ONNX_FILE" --vnnlib "$VNNLIB_FILE" --timeout "$LIMIT" \
	--search-budget "$(awk -v l="$LIMIT" 'BEGIN { b = l / 10; if (b > 5) b = 5; print b }')" \
	--vnncomp-result "$RESULTS_FILE"
CODE=$?
echo "quiver exit code $CODE: $(head -n 1 "$RESULTS_FILE" 2>/dev/null)"
if [ -s "$RESULTS_FILE" ]; then exit 0; fi
echo "error" > "$RESULTS_FILE"
exit 0
