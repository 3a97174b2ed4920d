#!/usr/bin/env bash
# Training throughput, scgan's CPU engine next to the PyTorch peer (../shared/peers/scgan_torch.py), in the same
# run of measurements, same thread count, alternating runs. Needs `pip install torch anndata` and an idle machine.
# bash bench/engine_vs_torch.sh [THREADS] [RUNS]   -> one JSON line per run, prefixed with the engine's name
# On a CPU with AMX-BF16 each size also runs scgan with bf16 products (`--precision bf16`, "scgan-bf16") and the
# peer under PyTorch's CPU bf16 autocast (bench/torch_bf16.py, "torch-bf16").
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
runs=${2:-3}
peer=../shared/peers/scgan_torch.py
cargo build --release --example bench_gemm
cargo bench --no-run --bench step
for config in "--genes 2000 --classes 0" "--genes 16791 --classes 0" "--genes 2000 --classes 10"; do
  steps=20
  [[ $config == *16791* ]] && steps=6
  for run in $(seq "$runs"); do
    echo "scgan $(cargo bench -q --bench step -- $config --threads "$threads" --steps $steps)"
    if grep -q amx_bf16 /proc/cpuinfo 2>/dev/null; then
      echo "scgan-bf16 $(cargo bench -q --bench step -- $config --threads "$threads" --steps $steps --precision bf16)"
    fi
    echo "torch $(python3 $peer $config --threads "$threads" --steps $steps)"
    if grep -q amx_bf16 /proc/cpuinfo 2>/dev/null; then
      echo "torch-bf16 $(python3 bench/torch_bf16.py $peer $config --threads "$threads" --steps $steps)"
    fi
  done
done
echo "gemm $(target/release/examples/bench_gemm --threads "$threads")"
if grep -q amx_bf16 /proc/cpuinfo 2>/dev/null; then
  echo "gemm-bf16 $(target/release/examples/bench_gemm --threads "$threads" --precision bf16)"
fi
