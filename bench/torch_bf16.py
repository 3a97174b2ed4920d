"""The PyTorch peer (../shared/peers/scgan_torch.py) with every op under CPU bf16 autocast, for comparing
`scgan --precision bf16` with PyTorch's own mixed precision (oneDNN, AMX where the CPU has it).

python3 bench/torch_bf16.py PEER [peer arguments...]   -> the peer's JSON line
"""
import runpy
import sys

import torch

peer = sys.argv[1]
sys.argv = [peer] + sys.argv[2:]
# Autocast is per thread and stays on for everything the peer runs: forward, double backward and optimizer
# (which keeps f32 weights, as autocast leaves parameters alone).
torch.autocast("cpu", dtype=torch.bfloat16).__enter__()
runpy.run_path(peer, run_name="__main__")
