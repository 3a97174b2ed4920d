#!/usr/bin/env bash
# One command for a realism figure of BENCHMARKS.md ("Realism per minute"): train cscGAN on DATA.train.h5ad for
# STEPS steps with a preset (and any extra `scgan train` flags), then bench/realism.sh against DATA.test.h5ad.
#
#   bench/train_and_measure.sh default 1000 ../shared/data/pbmc_facs_2k [extra train flags...]
#   (COUNTS="rescale detected" evaluates each of those counts; default: the counts `scgan generate` makes for the run)
set -euo pipefail
PRESET=$1; STEPS=$2; DATA=$3; shift 3
SCGAN=${SCGAN:-target/release/scgan}
THREADS=${THREADS:-1}
RUN=${RUN:-runs/$PRESET-$STEPS-$(basename "$DATA")}
mkdir -p "$(dirname "$RUN")"
"$SCGAN" train "$DATA.train.h5ad" --label-key "${LABEL:-cell_type}" --preset "$PRESET" --steps "$STEPS" \
    --threads "$THREADS" --out "$RUN" "$@" > "$RUN.train.log" 2>&1 || { cat "$RUN.train.log"; exit 1; }
for counts in ${COUNTS:-trained}; do
    SCGAN=$SCGAN "$(dirname "$0")/realism.sh" "$RUN" "$DATA" "$counts"
done
