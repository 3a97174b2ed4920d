"""Cross-checks scgan's evaluator against scikit-learn, scipy and numpy on the same principal components.

python3 bench/check_evaluator.py [--trees 1000] [--work DIR] [--binary PATH]

1. Splits the embedded data/pbmc_facs_2k.h5ad (seed 0) into real (1,000 cells), a second set of real cells
   (1,000; the "generator" of the real-vs-real case) and a reference (the other 1,774), and makes a Poisson
   fake: 1,000 cells with independent per-gene Poisson counts at the per-type rates of the reference, each
   with the type and library size of a reference cell.
2. Runs `cargo run --release --example evaluate_dump` on real vs real and real vs Poisson (both with the
   reference as control), which writes the principal-component scores, folds and compared rows it used.
3. Recomputes on the SAME scores and folds: RandomForestClassifier(n_estimators=1000, random_state=0) and
   KNeighborsClassifier(15) with roc_auc_score per fold, the MMD in numpy; and from the h5ad files, on the
   same rows: gene mean/variance correlations (scipy), gene-gene correlation agreement, KS statistics.
4. Compares within stated tolerances (exit status 1 if one is exceeded):
   RF AUROC mean |diff| < 0.02 (different random streams; 1,000 trees), kNN AUROC per fold |diff| < 1e-9,
   MMD relative diff < 1e-6, gene statistics |diff| < 1e-4 (float32 log-normalised values), KS exact (1e-12).
Also times scikit-learn's forest (5 folds x 1,000 trees, n_jobs=2) on the same scores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial.distance import cdist, pdist
from scipy.stats import ks_2samp, pearsonr, spearmanr
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = {"rf": 0.02, "knn": 1e-9, "mmd_rel": 1e-6, "genes": 1e-4, "ks": 1e-12}


def make_data(work):
    adata = anndata.read_h5ad(os.path.join(ROOT, "data/pbmc_facs_2k.h5ad"))
    adata.X = sp.csr_matrix(adata.X)
    order = np.random.default_rng(0).permutation(adata.n_obs)
    real, second, reference = adata[order[:1000]].copy(), adata[order[1000:2000]].copy(), adata[order[2000:]].copy()
    rng = np.random.default_rng(1)
    x = reference.X.toarray().astype(np.float64)
    types = reference.obs["cell_type"].astype(str).values
    template = rng.choice(reference.n_obs, 1000, replace=False)
    rates = {t: x[types == t].sum(0) / x[types == t].sum() for t in np.unique(types)}
    library = x.sum(1)
    counts = np.stack([rng.poisson(library[i] * rates[types[i]]) for i in template]).astype(np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical(types[template])}, index=[f"fake-{i}" for i in range(1000)])
    fake = anndata.AnnData(X=sp.csr_matrix(counts), obs=obs, var=reference.var[[]].copy())
    paths = {}
    for name, data in [("real", real), ("second", second), ("reference", reference), ("poisson", fake)]:
        paths[name] = os.path.join(work, f"{name}.h5ad")
        data.write_h5ad(paths[name])
    return paths


def run_rust(paths, generated, out, trees, binary):
    args = [paths["real"], paths[generated], "--reference", paths["reference"], "--label-key", "cell_type",
            "--trees", str(trees), "--out", out]
    command = [binary] + args if binary else ["cargo", "run", "--quiet", "--release", "--example", "evaluate_dump", "--"] + args
    subprocess.run(command, check=True, cwd=ROOT)


def read_f64(path, dim):
    return np.fromfile(path, dtype="<f8").reshape(-1, dim)


def mmd(x, y, median):
    widths = [1.0 / (2.0 * (s * median) ** 2) for s in (0.5, 1.0, 2.0, 4.0)]
    k = lambda a, b: sum(np.exp(-cdist(a, b, "sqeuclidean") * w) for w in widths)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    unbiased = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    return unbiased, kxx.mean() + kyy.mean() - 2 * kxy.mean()


def classifiers(x, y, folds, trees):
    rf, knn, seconds = [], [], 0.0
    for f in range(folds.max() + 1):
        train, test = folds != f, folds == f
        start = time.perf_counter()
        forest = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=2).fit(x[train], y[train])
        rf.append(roc_auc_score(y[test], forest.predict_proba(x[test])[:, 1]))
        seconds += time.perf_counter() - start
        neighbours = KNeighborsClassifier(15).fit(x[train], y[train])
        knn.append(roc_auc_score(y[test], neighbours.predict_proba(x[test])[:, 1]))
    return np.array(rf), np.array(knn), seconds


def lognorm(a, rows):
    x = a.X[rows].astype(np.float64).toarray()
    return x, np.log1p(x * (20000.0 / np.maximum(x.sum(1, keepdims=True), 1e-300)))


def gene_figures(real_counts, real_log, other_counts, other_log):
    m1, m2 = real_log.mean(0), other_log.mean(0)
    v1, v2 = real_log.var(0, ddof=1), other_log.var(0, ddof=1)
    top = np.sort(np.argsort(-v1, kind="stable")[:500])

    def upper(x):
        z = x[:, top] - x[:, top].mean(0)
        norm = np.sqrt((z ** 2).sum(0))
        z = np.divide(z, norm, out=np.zeros_like(z), where=norm > 0)
        c = z.T @ z
        return c[np.triu_indices(len(top), 1)]

    per_cell = lambda c: ((c > 0).sum(1), c.sum(1))
    (d1, l1), (d2, l2) = per_cell(real_counts), per_cell(other_counts)
    g = real_counts.shape[1]
    return {
        "scc_gene_mean": spearmanr(m1, m2).statistic, "pcc_gene_mean": pearsonr(m1, m2).statistic,
        "scc_gene_variance": spearmanr(v1, v2).statistic, "pcc_gene_variance": pearsonr(v1, v2).statistic,
        "gene_correlation_agreement": pearsonr(upper(real_log), upper(other_log)).statistic,
        "ks_library_size": ks_2samp(l1, l2).statistic, "ks_genes_per_cell": ks_2samp(d1, d2).statistic,
        "ks_zeros_per_cell": ks_2samp(1 - d1 / g, 1 - d2 / g).statistic,
        "ks_zeros_per_gene": ks_2samp(1 - (real_counts > 0).mean(0), 1 - (other_counts > 0).mean(0)).statistic,
    }


def check(name, got, expected, tolerance, relative=False, failures=None):
    diff = abs(got - expected) / (abs(expected) if relative else 1.0)
    ok = diff <= tolerance
    print(f"  {name:28s} rust {got: .6f}  python {expected: .6f}  diff {diff:.2e}  {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(name)


def compare_case(case, out, paths, generated, trees, failures):
    meta = json.load(open(os.path.join(out, "meta.json")))
    evaluation = json.load(open(os.path.join(out, "evaluation.json")))
    dim = meta["dim"]
    real = read_f64(os.path.join(out, "real_pcs.f64"), dim)
    data = {k: anndata.read_h5ad(paths[k]) for k in ("real", generated, "reference")}
    sides = [("generated", read_f64(os.path.join(out, "generated_pcs.f64"), dim), "folds.txt", generated, "generated_cells"),
             ("control", read_f64(os.path.join(out, "reference_pcs.f64"), dim), "control_folds.txt", "reference", "reference_cells")]
    median = np.sort(pdist(real))[len(pdist(real)) // 2]
    print(f"\n== {case}: {len(real)} real cells, PCA on {evaluation['pca_fitted_on']} ({evaluation['pca_fit_cells']})")
    check("median distance", evaluation["median_distance"], median, 1e-9, True, failures)
    timings = []
    for side, other, fold_file, data_key, cell_key in sides:
        figures = evaluation[side]
        head = real[: len(other)]
        x = np.vstack([head, other])
        y = np.r_[np.zeros(len(head)), np.ones(len(other))].astype(int)
        folds = np.loadtxt(os.path.join(out, fold_file), dtype=int)
        rf, knn, seconds = classifiers(x, y, folds, trees)
        timings.append(seconds)
        print(f" {side}: sklearn RF folds {np.round(rf, 4).tolist()}; rust {np.round(figures['rf_auroc_folds'], 4).tolist()}")
        check("RF AUROC mean", figures["rf_auroc"]["mean"], rf.mean(), TOL["rf"], failures=failures)
        check("RF AUROC sd (ddof=1)", figures["rf_auroc"]["sd"], rf.std(ddof=1), 0.02, failures=failures)
        for f, (a, b) in enumerate(zip(figures["knn_auroc_folds"], knn)):
            check(f"kNN AUROC fold {f}", a, b, TOL["knn"], failures=failures)
        unbiased, biased = mmd(head, other, median)
        check("MMD unbiased", figures["mmd"], unbiased, TOL["mmd_rel"], True, failures)
        check("MMD biased", figures["mmd_biased"], biased, TOL["mmd_rel"], True, failures)
        real_counts, real_log = lognorm(data["real"], meta["real_cells"][: len(other)])
        other_counts, other_log = lognorm(data[data_key], meta[cell_key])
        for key, value in gene_figures(real_counts, real_log, other_counts, other_log).items():
            check(key, figures[key], value, TOL["ks"] if key.startswith("ks") else TOL["genes"], failures=failures)
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", type=int, default=1000)
    parser.add_argument("--work", default=None)
    parser.add_argument("--binary", default=None, help="a built evaluate_dump (default: cargo run --release)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="check_evaluator_")
    os.makedirs(work, exist_ok=True)
    paths = make_data(work)
    failures = []
    for case, generated in [("real vs real", "second"), ("real vs Poisson", "poisson")]:
        out = os.path.join(work, generated)
        start = time.perf_counter()
        run_rust(paths, generated, out, args.trees, args.binary)
        rust_seconds = time.perf_counter() - start
        timings = compare_case(case, out, paths, generated, args.trees, failures)
        print(f" time: scgan evaluate_dump (whole evaluation incl. reading, control, per-type) {rust_seconds:.1f} s; "
              f"sklearn forest alone, 5 folds x {args.trees} trees, n_jobs=2: generated {timings[0]:.1f} s, "
              f"control {timings[1]:.1f} s")
    print("\nall within tolerance" if not failures else f"\nFAILED: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
