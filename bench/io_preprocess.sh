#!/usr/bin/env bash
# Read + preprocess benchmark, scgan next to scanpy, on an idle machine. Medians of 3 runs go into BENCHMARKS.md.
# bash bench/io_preprocess.sh [SYNTHETIC.h5ad]   (makes the synthetic file with bench/make_synthetic.py if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
synthetic=${1:-/tmp/scgan_synthetic_100k.h5ad}
[ -f "$synthetic" ] || python3 bench/make_synthetic.py "$synthetic"
cargo build --release --example bench_preprocess
for file in ../shared/data/pbmc_facs.h5ad "$synthetic"; do
  for run in 1 2 3; do
    echo "scgan  $(target/release/examples/bench_preprocess "$file" --hvg 2000)"
    echo "scanpy $(python3 bench/scanpy_preprocess.py "$file" --hvg 2000)"
  done
done
