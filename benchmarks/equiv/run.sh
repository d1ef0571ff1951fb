#!/usr/bin/env bash
# Equivalence benchmark: `quiver equiv A B` on a list of input boxes, one process at a time,
# appending one JSON line per run to OUT/results.jsonl (pair name, image index, ε, relation, the
# verdict, the stage that decided, the pipeline's seconds, wall seconds, load average before the
# run). Resumable: a run already in the file is skipped.
#
#   benchmarks/equiv/run.sh OUT NAME A B DATASET "IDS" "EPSS" -- [extra quiver equiv options]
# Relations run: --same-class --tie first-index, then $RELATION2 (default: --delta-real 0.5).
# Environment: QUIVER (the binary, default: quiver on PATH).
set -euo pipefail
out=$1 name=$2 a=$3 b=$4 dataset=$5 ids=$6 epss=$7
shift 7
[ "${1:-}" = "--" ] && shift
extra=("$@")
quiver=${QUIVER:-quiver}
rel2=${RELATION2:---delta-real 0.5}
mkdir -p "$out"
for index in $ids; do
  for eps in $epss; do
    for rel in "--same-class --tie first-index" "$rel2"; do
      key="\"pair\":\"$name\",\"index\":$index,\"eps\":$eps,\"relation\":\"$rel\""
      if grep -qF "$key" "$out/results.jsonl" 2>/dev/null; then continue; fi
      load=$(cut -d' ' -f1 /proc/loadavg)
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      json=$("$quiver" equiv "$a" "$b" --dataset "$dataset" --index "$index" --eps "$eps" $rel --json "${extra[@]}" || true)
      t1=$(date +%s.%N)
      echo "$json" | jq -c --arg p "$name" --argjson i "$index" --argjson e "$eps" --arg r "$rel" \
        --argjson w "$(echo "$t1 - $t0" | bc)" --argjson l "$load" \
        '{pair: $p, index: $i, eps: $e, relation: $r, verdict, reason: (.reason // null),
          decided_by: (if .verdict == "unknown" then null else (.stages | last | .name) end),
          seconds, wall_s: $w, load: $l, disjuncts: .stats.disjuncts, violation: (.pair.violation // null)}' \
        >>"$out/results.jsonl"
      tail -1 "$out/results.jsonl" >&2
    done
  done
done
