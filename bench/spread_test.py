"""How spread out generated cells are against the test split (BENCHMARKS.md, Session 19).

    python3 bench/spread_test.py ../shared/data/DATA GENERATED.h5ad [GENERATED.h5ad ...]

Cells are compared as training's validation compares them: library size 20,000, log1p, 50 principal components
fitted on DATA.train.h5ad's cells. Prints, for each generated file, the ratio of its total variance (the mean squared
distance of a cell from the mean cell on the components) to the test cells', overall, within cell types and between
them (the spread of the types' mean cells, weighted by their cells), and the share of the test cells' total that is
between types.
"""
import sys

import anndata
import numpy as np
import scipy.sparse as sp


def log_normalized(adata):
    counts = sp.csr_matrix(adata.X, dtype=np.float64)
    totals = np.asarray(counts.sum(1)).ravel()
    totals[totals == 0] = 1
    return np.log1p(sp.diags(20000 / totals) @ counts).toarray()


def main(prefix, generated_files):
    train = anndata.read_h5ad(prefix + ".train.h5ad")
    test = anndata.read_h5ad(prefix + ".test.h5ad")
    genes = list(test.var_names)
    train_values = log_normalized(train[:, genes])
    center = train_values.mean(0)
    components = np.linalg.svd(train_values - center, full_matrices=False)[2][:50].T

    def scores(adata):
        # genes the generated cells lack (filtered out in training) are zero, as the evaluator matches genes
        column = {gene: j for j, gene in enumerate(adata.var_names)}
        values = log_normalized(adata)
        aligned = np.zeros((adata.n_obs, len(genes)))
        for j, gene in enumerate(genes):
            if gene in column:
                aligned[:, j] = values[:, column[gene]]
        return (aligned - center) @ components

    def spread(points, labels):
        total = points.var(0).sum()
        within = sum(points[labels == t].var(0).sum() * (labels == t).sum() for t in np.unique(labels)) / len(labels)
        return total, within

    test_total, test_within = spread(scores(test), test.obs["cell_type"].astype(str).values)
    test_between = test_total - test_within
    print(f"test cells: {test_between / test_total:.3f} of the total variance is between types")
    for path in generated_files:
        generated = anndata.read_h5ad(path)
        total, within = spread(scores(generated), generated.obs["cell_type"].astype(str).values)
        print(f"{path}\ttotal variance ratio {total / test_total:.4f}\twithin types {within / test_within:.4f}"
              f"\tbetween types {(total - within) / test_between:.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
