"""Writes the synthetic benchmark matrix: 100,000 cells x 20,000 genes, 5% non-zero, integer counts (h5ad, CSR).

python3 bench/make_synthetic.py OUT.h5ad [--cells 100000] [--genes 20000] [--density 0.05]
"""
import argparse
import anndata, numpy as np, pandas as pd, scipy.sparse as sp

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--cells", type=int, default=100_000)
p.add_argument("--genes", type=int, default=20_000)
p.add_argument("--density", type=float, default=0.05)
a = p.parse_args()
rng = np.random.default_rng(0)
blocks = []
for start in range(0, a.cells, 5_000):
    n = min(5_000, a.cells - start)
    mask = rng.random((n, a.genes), dtype=np.float32) < a.density
    rows, cols = np.nonzero(mask)
    values = (1 + rng.poisson(1.0, size=rows.size)).astype(np.float32)
    blocks.append(sp.csr_matrix((values, (rows, cols)), shape=(n, a.genes)))
x = sp.vstack(blocks, format="csr")
x.indices = x.indices.astype(np.int32)
x.indptr = x.indptr.astype(np.int64)
obs = pd.DataFrame(index=[f"cell{i}" for i in range(a.cells)])
obs["cell_type"] = pd.Categorical(rng.choice([f"type{k}" for k in range(10)], size=a.cells))
var = pd.DataFrame(index=[f"gene{j}" for j in range(a.genes)])
anndata.AnnData(X=x, obs=obs, var=var).write_h5ad(a.out)
print(f"wrote {a.out}: {a.cells} x {a.genes}, {x.nnz} non-zero")
