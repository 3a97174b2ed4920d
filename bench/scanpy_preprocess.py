"""scanpy's time and peak memory for the same steps as examples/bench_preprocess.rs: read the h5ad, filter cells
(min_genes 10) and genes (min_cells 3), normalise to 20,000 (no log), optionally Seurat v3 HVG.

python3 bench/scanpy_preprocess.py FILE [--hvg N]   (prints one JSON line)
"""
import argparse, json, resource, time, warnings
warnings.filterwarnings("ignore")
import scanpy as sc

p = argparse.ArgumentParser()
p.add_argument("file")
p.add_argument("--hvg", type=int)
a = p.parse_args()
start = time.perf_counter()
adata = sc.read_h5ad(a.file)
read_s = time.perf_counter() - start
x = adata.X
csr_mb = (x.data.nbytes + x.indices.nbytes + x.indptr.nbytes) / 1e6
sc.pp.filter_cells(adata, min_genes=10)
sc.pp.filter_genes(adata, min_cells=3)
if a.hvg:
    sc.pp.highly_variable_genes(adata, flavor="seurat_v3", n_top_genes=a.hvg, subset=True)
adata.obs["library_size"] = adata.X.sum(axis=1).A1
sc.pp.normalize_total(adata, target_sum=20_000)
total_s = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
print(json.dumps({"file": a.file, "csr_mb": csr_mb, "peak_rss_mb": peak_mb, "read_s": read_s,
                  "read_preprocess_s": total_s, "out_shape": list(adata.shape)}))
