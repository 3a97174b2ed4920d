"""Mean and spread over seeds of realism figures (BENCHMARKS.md's ablation rows).

    python3 bench/seeds_summary.py runs/a-seed0/realism-rescale-0/report/metrics.json runs/a-seed1/... ...

Prints one line per figure: mean, sample standard deviation and the values, in the order given. The worst type
is the type with the highest RF AUROC in each run (its name is printed beside each value).
"""
import json
import statistics
import sys


def figures(path):
    m = json.load(open(path))
    m = m.get("evaluation", m)
    g = m["generated"]
    types = {k: v["rf_auroc"]["mean"] for k, v in m["per_type"].items() if v.get("rf_auroc")}
    worst = max(types.items(), key=lambda kv: kv[1]) if types else ("-", float("nan"))
    return {
        "RF AUROC": g["rf_auroc"]["mean"],
        "kNN AUROC": g["knn_auroc"]["mean"],
        "MMD2 ratio": m["mmd_biased_ratio"],
        "SCC gene means": g["scc_gene_mean"],
        "KS library size": g["ks_library_size"],
        "KS genes/cell": g["ks_genes_per_cell"],
        "worst type RF AUROC": worst[1],
    }, worst[0]


def main(paths):
    runs = [figures(p) for p in paths]
    for name in runs[0][0]:
        values = [r[0][name] for r in runs]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        shown = ", ".join(f"{v:.3f}" + (f" ({r[1]})" if name.startswith("worst") else "") for v, r in zip(values, runs))
        print(f"{name:20s} {statistics.mean(values):.3f} ± {spread:.3f}   [{shown}]")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
