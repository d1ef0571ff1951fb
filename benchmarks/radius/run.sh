#!/usr/bin/env bash
# Radius benchmark: `quiver radius` (the reusing search) against the per-ε loop (`--strategy
# linear`) on every STEP-th test id of a QVIP suite, one process at a time, interleaved per id so
# that both strategies see the same machine load. Appends one JSON line per run to OUT/results.jsonl
# (the `--json` report plus index, strategy, wall seconds, load average before the run).
#
#   benchmarks/radius/run.sh SUITE.csv OUT [STEP] [-- extra quiver radius options]
# Environment: QUIVER (the binary, default: quiver on PATH), QUIVER_EXTERNAL (as for suites).
set -euo pipefail
suite=$1 out=$2 step=${3:-10}
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
extra=("$@")
quiver=${QUIVER:-quiver}
here=$(cd "$(dirname "$0")/../.." && pwd)
ext=${QUIVER_EXTERNAL:-$here/../shared/external}
mkdir -p "$out"
# Distinct test ids of the suite (the eps column is ignored: radius searches over ε).
mapfile -t rows < <(tail -n +2 "$suite" | grep -v '^#' | awk -F, '!seen[$4]++' | sort -t, -k4,4n)
for ((k = 0; k < ${#rows[@]}; k += step)); do
  IFS=, read -r model images labels index _ <<<"${rows[$k]}"
  model=${model/#external:/$ext/}; images=${images/#external:/$ext/}; labels=${labels/#external:/$ext/}
  for strategy in search linear; do
    if grep -q "\"index\":$index,\"strategy\":\"$strategy\"" "$out/results.jsonl" 2>/dev/null; then
      continue # resumable
    fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    json=$("$quiver" radius "$model" --dataset "$images" --labels "$labels" --index "$index" \
      --tie first-index --strategy "$strategy" --json "${extra[@]}" || true)
    t1=$(date +%s.%N)
    echo "$json" | jq -c --argjson i "$index" --arg s "$strategy" --argjson w "$(echo "$t1 - $t0" | bc)" \
      --argjson l "$load" '{index: $i, strategy: $s, wall_s: $w, load: $l} + del(.witness)' >>"$out/results.jsonl"
    echo "id $index $strategy: $(tail -1 "$out/results.jsonl" | jq -r '"radius \(.radius) [\(.lower), \(.upper)) \(.wall_s)s"')" >&2
  done
done
