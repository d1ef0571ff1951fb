#!/bin/bash
# Submit the shards of a quiver experiment and the merge step that depends on them.
#   scripts/slurm/submit.sh N SUITE OUT [CONFIGS]
# e.g. scripts/slurm/submit.sh 16 benchmarks/suites/aaai21_mnist.csv results/aaai21 my-configs.toml
# Extra `quiver bench` flags can be passed in EXTRA, e.g. EXTRA="--tie first-index --timeout 600".
set -euo pipefail
N=${1:?number of shards}; SUITE=${2:?suite CSV}; OUT=${3:?results directory}; CONFIGS=${4:-}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE OUT CONFIGS EXTRA="${EXTRA:-}" QUIVER="${QUIVER:-$PWD/target/release/quiver}"
ARRAY=$(sbatch --parsable --export=ALL --array="1-$N" "$HERE/quiver-shards.sbatch")
MERGE=$(sbatch --parsable --export=ALL --dependency="afterany:$ARRAY" "$HERE/quiver-merge.sbatch")
echo "submitted shards $ARRAY (1-$N) and merge $MERGE; report in $OUT/report"
