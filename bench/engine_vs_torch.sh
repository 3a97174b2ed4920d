#!/usr/bin/env bash
# Training throughput, scgan's CPU engine next to the PyTorch peer (../shared/peers/scgan_torch.py), in the same
# run of measurements, same thread count, alternating runs. Needs `pip install torch anndata` and an idle machine.
# bash bench/engine_vs_torch.sh [THREADS] [RUNS]   -> one JSON line per run, prefixed with the engine's name
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
runs=${2:-3}
peer=../shared/peers/scgan_torch.py
cargo build --release --example bench_step --example bench_gemm
for config in "--genes 2000 --classes 0" "--genes 16791 --classes 0" "--genes 2000 --classes 10"; do
  steps=20
  [[ $config == *16791* ]] && steps=6
  for run in $(seq "$runs"); do
    echo "scgan $(target/release/examples/bench_step $config --threads "$threads" --steps $steps)"
    echo "torch $(python3 $peer $config --threads "$threads" --steps $steps)"
  done
done
echo "gemm $(target/release/examples/bench_gemm --threads "$threads")"
