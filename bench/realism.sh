#!/usr/bin/env bash
# Realism of a trained run, as EVALUATION.md measures it: generate as many cells as the test split has, in its
# cell-type proportions, and evaluate them against the test split with the training split as the control.
#
#   bench/realism.sh RUN DATA_PREFIX [COUNTS] [SEED]
#   e.g. bench/realism.sh runs/q ../shared/data/pbmc_facs_2k rescale 0
#   (COUNTS: trained, the default: what `scgan generate` makes for the run; or detected, rescale, multinomial,
#    rounded-poisson, normalized; COUNT_NOISE=F in the environment passes `--count-noise F` to `scgan generate`)
#
# Prints one line: run, counts, RF AUROC, kNN AUROC, MMD ratio, SCC of gene means, KS library size, worst type.
set -euo pipefail
RUN=$1; DATA=$2; COUNTS=${3:-trained}; SEED=${4:-0}
if [ "$COUNTS" = trained ]; then
    # the counts `scgan generate` makes for this run by default: those its critic saw in training
    COUNTS=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["train"]
kind = t.get("critic_counts") or ("sampled" if t.get("count_sampling") else "rounded" if t.get("count_rounding") else "profiles")
generated = {"sampled": "multinomial", "rounded": "rescale", "profiles": "detected", "rounded_poisson": "rounded-poisson"}
print(generated[kind])' "$RUN/config.json")
fi
SCGAN=${SCGAN:-target/release/scgan}
LABEL=${LABEL:-cell_type}
THREADS=${THREADS:-2}
NOISE_FLAG=(); OUT=$RUN/realism-$COUNTS-$SEED
if [ -n "${COUNT_NOISE:-}" ]; then NOISE_FLAG=(--count-noise "$COUNT_NOISE"); OUT=$RUN/realism-$COUNTS-noise$COUNT_NOISE-$SEED; fi
mkdir -p "$OUT"
mapfile -t TYPES < <(python3 - "$DATA.test.h5ad" "$LABEL" <<'PY'
import sys, anndata
obs = anndata.read_h5ad(sys.argv[1], backed="r").obs
for name, n in obs[sys.argv[2]].value_counts().items():
    if n > 0:
        print(f"--cell-type={name}={n}")
PY
)
"$SCGAN" generate "$RUN" "${TYPES[@]}" $( [ "$COUNTS" = normalized ] && echo --normalized-only || echo --counts $COUNTS) "${NOISE_FLAG[@]}" --seed "$SEED" --threads "$THREADS" --out "$OUT/generated.h5ad" > /dev/null
"$SCGAN" evaluate --real "$DATA.test.h5ad" --generated "$OUT/generated.h5ad" --reference "$DATA.train.h5ad" \
    --label-key "$LABEL" --run "$RUN" --threads "$THREADS" --out "$OUT/report" > /dev/null
python3 - "$OUT/report/metrics.json" "$RUN" "$COUNTS" "$OUT/generated.h5ad" <<'PY'
import json, sys, anndata
m = json.load(open(sys.argv[1]))
# the count noise the cells were made with: --count-noise's, or the one the run chose on validation cells
noise = anndata.read_h5ad(sys.argv[4], backed="r").uns.get("scgan", {}).get("generated", {}).get("count_noise")
label = sys.argv[3] + (f" noise {float(noise):g}" if noise else "")
m = m.get("evaluation", m)
g = m["generated"]
types = {k: v["rf_auroc"]["mean"] for k, v in m["per_type"].items() if v.get("rf_auroc")}
worst = max(types.items(), key=lambda kv: kv[1]) if types else ("-", float("nan"))
print(f"{sys.argv[2]}\t{label}\tRF {g['rf_auroc']['mean']:.3f}\tkNN {g['knn_auroc']['mean']:.3f}"
      f"\tMMDratio {m['mmd_biased_ratio']:.2f}\tSCCmean {g['scc_gene_mean']:.3f}\tKSlib {g['ks_library_size']:.3f}"
      f"\tKSgenes {g['ks_genes_per_cell']:.3f}\tworst {worst[0]} {worst[1]:.3f}")
PY
