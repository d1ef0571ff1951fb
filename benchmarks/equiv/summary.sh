#!/usr/bin/env bash
# Tables of benchmarks/equiv/run.sh results: per pair, relation and ε, how many boxes were
# decided (verified = equivalent, falsified = a counterexample replayed on both networks),
# by which stage, and the time (the pipeline's seconds).
#   benchmarks/equiv/summary.sh OUT/results.jsonl
set -euo pipefail
jq -s -r '
  group_by([.pair, .relation, .eps]) | .[] |
  { pair: .[0].pair, relation: .[0].relation, eps: .[0].eps, n: length,
    verified: (map(select(.verdict == "verified")) | length),
    falsified: (map(select(.verdict == "falsified")) | length),
    unknown: (map(select(.verdict == "unknown")) | length),
    by_bounds: (map(select(.decided_by == "bounds (symbolic)")) | length),
    by_backend: (map(select(.decided_by != null and (.decided_by | startswith("backend")))) | length),
    by_search: (map(select(.decided_by == "search" or .decided_by == "probe")) | length),
    total: (map(.seconds) | add), max: (map(.seconds) | max),
    med: (map(.seconds) | sort | .[(length / 2 | floor)]),
    decided_total: (map(select(.verdict != "unknown") | .seconds) | add // 0),
    load: ([.[].load] | add / length) } |
  "| \(.pair) | `\(.relation)` | \(.eps) | \(.n) | \(.verified) | \(.falsified) | \(.unknown) | \((100 * (.verified + .falsified) / .n) | floor) % | \(.by_bounds) / \(.by_search) / \(.by_backend) | \(.med * 1000 | round / 1000) | \(.max * 1000 | round / 1000) | \(.total * 10 | round / 10) | \(.load * 10 | round / 10) |"
' "$1" | { echo "| pair | relation | ε | boxes | verified | falsified | unknown | decided | by bounds / search+probe / backend | median s | max s | total s | mean load |"; echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"; cat; }
