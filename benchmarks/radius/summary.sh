#!/usr/bin/env bash
# Markdown tables from a radius benchmark's results.jsonl (see run.sh): per strategy, the radii
# decided, the time per radius, the interval widths; then one row per test id.
#   benchmarks/radius/summary.sh OUT/results.jsonl
set -euo pipefail
f=$1
echo "| strategy | ids | decided | unbounded | mean interval width (undecided) | total s | mean s / radius | median s | pipeline runs | levels by bounds alone | soundness alarms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for s in search linear; do
  jq -rs --arg s "$s" '
    [.[] | select(.strategy == $s)] as $r
    | ($r | map(.wall_s) | sort) as $t
    | ($r | map(select(.radius == null and (.unbounded | not)))) as $u
    | "| \($s) | \($r | length) | \($r | map(select(.radius != null)) | length) | \($r | map(select(.unbounded)) | length) | "
      + (if ($u | length) > 0 then ($u | map(((.upper // (.max_eps + 1)) - .lower - 1)) | add / length * 100 | round / 100 | tostring) else "–" end)
      + " | \($t | add * 10 | round / 10) | \($t | add / length * 100 | round / 100) | \($t[(($t | length) / 2 | floor)] * 100 | round / 100)"
      + " | \($r | map([.runs[] | select(.method == "pipeline")] | length) | add) | \($r | map([.runs[] | select(.method == "bounds" and .verdict == "verified")] | length) | add)"
      + " | \($r | map(select(.disagreement != null)) | length) |"' "$f"
done
echo
echo "| id | label | search: radius [lower, upper) | s | linear: radius [lower, upper) | s | load |"
echo "|---|---|---|---|---|---|---|"
jq -rs '
  group_by(.index)[]
  | (map(select(.strategy == "search"))[0]) as $a | (map(select(.strategy == "linear"))[0]) as $b
  | def cell(r): if r == null then "– | –" else "\(r.radius // "–") [\(r.lower), \(r.upper // "–")) | \(r.wall_s * 10 | round / 10)" end;
    "| \(.[0].index) | \(.[0].label) | \(cell($a)) | \(cell($b)) | \(.[0].load) |"' "$f"
