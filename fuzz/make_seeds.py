"""Writes the fuzzers' seed files: tiny valid inputs of every layout the readers accept.

Run once (python3 fuzz/make_seeds.py) from the repository root; needs numpy, scipy, h5py and anndata.
The checkpoint seeds are written without the safetensors package (the format is an 8-byte header length,
a JSON header, then raw little-endian data).
"""
import gzip, json, os, struct, sys
import numpy as np, scipy.sparse as sp, h5py, anndata as ad, pandas as pd

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
def out(target, name):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    return os.path.join(root, target, name)

counts = np.array([[3, 0, 1, 0], [0, 2, 0, 0], [1, 0, 0, 5]], dtype=np.float32)
obs = pd.DataFrame({"cell_type": pd.Categorical(["B", "T", "B"])}, index=["c1", "c2", "c3"])
var = pd.DataFrame(index=["g1", "g2", "g3", "g4"])

# h5ad: CSR, CSC, dense, with a layer and uns.
for name, x in [("csr", sp.csr_matrix(counts)), ("csc", sp.csc_matrix(counts)), ("dense", counts)]:
    a = ad.AnnData(X=x, obs=obs, var=var)
    a.layers["counts"] = sp.csr_matrix(counts)
    a.uns["note"] = {"k": 1}
    a.write_h5ad(out("h5ad", f"{name}.h5ad"))

# 10x HDF5 v3 (features x barcodes CSC = barcodes x features CSR) and v2.
m = sp.csr_matrix(counts)
def tenx(path, v3):
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix" if v3 else "GRCh38")
        g["data"] = m.data.astype(np.int32)
        g["indices"] = m.indices.astype(np.int64)
        g["indptr"] = m.indptr.astype(np.int64)
        g["shape"] = np.array([4, 3], dtype=np.int32)
        g["barcodes"] = np.array([b"AAAC-1", b"AAAG-1", b"AAAT-1"])
        if v3:
            fe = g.create_group("features")
            fe["id"] = np.array([b"E1", b"E2", b"A1", b"E3"])
            fe["name"] = np.array([b"G1", b"G2", b"CD3", b"G1"])
            fe["feature_type"] = np.array([b"Gene Expression", b"Gene Expression", b"Antibody Capture", b"Gene Expression"])
            fe["genome"] = np.array([b"GRCh38"] * 4)
        else:
            g["genes"] = np.array([b"E1", b"E2", b"A1", b"E3"])
            g["gene_names"] = np.array([b"G1", b"G2", b"CD3", b"G1"])
tenx(out("tenx_h5", "v3.h5"), True)
tenx(out("tenx_h5", "v2.h5"), False)
with h5py.File(out("tenx_h5", "v3_gzip.h5"), "w") as f:
    g = f.create_group("matrix")
    for k, v in [("data", m.data.astype(np.int32)), ("indices", m.indices.astype(np.int64))]:
        g.create_dataset(k, data=v, chunks=(2,), compression="gzip")
    g["indptr"] = m.indptr.astype(np.int64)
    g["shape"] = np.array([4, 3], dtype=np.int32)
    g.create_dataset("barcodes", data=np.array([b"AAAC-1", b"AAAG-1", b"AAAT-1"]), chunks=(2,), compression="gzip")
    fe = g.create_group("features")
    fe["id"] = np.array([b"E1", b"E2", b"A1", b"E3"])
    fe["name"] = np.array([b"G1", b"G2", b"CD3", b"G1"])

# Matrix Market: the matrix alone (fixed barcodes/features in the target), gzip, and all three parts.
mtx = b"%%MatrixMarket matrix coordinate integer general\n% test\n4 3 5\n1 1 3\n3 1 9\n2 2 1\n4 3 7\n1 3 2\n"
open(out("mtx", "plain"), "wb").write(mtx)
open(out("mtx", "real"), "wb").write(mtx.replace(b"integer", b"real").replace(b"1 3 2", b"1 3 2.5e0"))
open(out("mtx", "gzip"), "wb").write(gzip.compress(mtx, mtime=0))
open(out("mtx", "three_parts"), "wb").write(
    mtx.replace(b"4 3 5", b"2 3 2").split(b"\n2 2 1")[0] + b"\n" + b"\x1eAAAC-1\nAAAG-1\nAAAT-1\n\x1eE1\tG1\nE2\tG2\n")

# Checkpoints: the loop state in the metadata, tensors named as the model's (wrong and right shapes).
def safetensors(path, tensors, metadata):
    header, blob = {"__metadata__": metadata}, b""
    for name, shape in tensors:
        n = int(np.prod(shape)) if shape else 1
        data = np.arange(n, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + blob)
loop = json.dumps({"step": 10, "epoch": 0, "position": 5, "rng_word_pos": 1234, "elapsed_seconds": 1.5, "best": [0.5, 10]})
meta = {"format": "scgan checkpoint 1", "scgan_version": "0.1.0", "step": "10", "loop": loop}
safetensors(out("checkpoint", "small"), [("generator.dense1.weight", [2, 3]), ("critic.out.bias", [1])], meta)
safetensors(out("checkpoint", "empty"), [], meta)
safetensors(out("checkpoint", "no_loop"), [("a", [2])], {"step": "1"})
