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

    test_labels = test.obs["cell_type"].astype(str).values
    test_total, test_within = spread(scores(test), test_labels)
    test_between = test_total - test_within
    print(f"test cells: {test_between / test_total:.3f} of the total variance is between types")
    for path in generated_files:
        generated = anndata.read_h5ad(path)
        total, within = spread(scores(generated), generated.obs["cell_type"].astype(str).values)
        print(f"{path}\ttotal variance ratio {total / test_total:.4f}\twithin types {within / test_within:.4f}"
              f"\tbetween types {(total - within) / test_between:.4f}")
    caricature(train, test, test_labels, generated_files)


def caricature(train, test, test_labels, generated_files):
    types = np.unique(test_labels)
    weights = np.array([(test_labels == t).mean() for t in types])
    train_labels = train.obs["cell_type"].astype(str).values
    bins = [(0, 1, "peak < 1 count"), (1, 5, "1-5 counts"), (5, np.inf, "5+ counts")]
    train_genes = set(train.var_names)

    def deviations(adata, labels, genes):
        values = log_normalized(adata[:, genes])
        means = np.array([values[labels == t].mean(0) for t in types])
        return means - weights @ means

    def slopes(adata, labels):
        # on the genes the cells have (the generator's are those kept in training)
        genes = [gene for gene in adata.var_names if gene in train_genes]
        reference, deviation = deviations(train, train_labels, genes), deviations(adata, labels, genes)
        train_counts = sp.csr_matrix(train[:, genes].X, dtype=np.float64)
        peak_count = np.array([np.asarray(train_counts[train_labels == t].mean(0)).ravel() for t in types]).max(0)

        def slope(chosen):
            a, b = reference[:, chosen], deviation[:, chosen]
            return (weights[:, None] * a * b).sum() / (weights[:, None] * a * a).sum()
        by_level = [f"{name} {slope((peak_count >= lo) & (peak_count < hi)):.3f}" for lo, hi, name in bins]
        return f"slope {slope(np.ones(len(genes), bool)):.3f}\t" + "\t".join(by_level)

    print(f"type means against the training cells'\ttest split (control)\t{slopes(test, test_labels)}")
    for path in generated_files:
        generated = anndata.read_h5ad(path)
        labels = generated.obs["cell_type"].astype(str).values
        print(f"type means against the training cells'\t{path}\t{slopes(generated, labels)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
