#!/usr/bin/env python3
"""How well the validation figure of training predicts the test figures (BENCHMARKS.md, Session 17).

    python3 bench/validation_vs_test.py RUNS_FOLDER [MIN_STEPS]

For every run folder RUN in RUNS_FOLDER that has RUN.out (the `bench/train_and_measure.sh` output, whose last line
holds the test figures) and RUN/log.jsonl with validation figures, takes the last validation kNN AUROC (at or after
MIN_STEPS, default 8000) and prints it beside the test kNN and RF AUROC, then per data set the correlations and the
mean gap between the validation and the test kNN AUROC.
"""
import glob
import json
import os
import re
import statistics
import sys


def correlation(a, b):
    mean_a, mean_b = statistics.mean(a), statistics.mean(b)
    covariance = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
    return covariance / (sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b)) ** 0.5


def main():
    folder = sys.argv[1]
    min_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    rows = []
    for out in sorted(glob.glob(os.path.join(folder, "*.out"))):
        run = out[:-4]
        log = os.path.join(run, "log.jsonl")
        figures = re.findall(r"RF ([0-9.]+)\tkNN ([0-9.]+)\tMMDratio ([0-9.]+)", open(out).read())
        if not os.path.exists(log) or not figures:
            continue
        test_rf, test_knn, _ = map(float, figures[-1])
        entries = [json.loads(line) for line in open(log)]
        validated = [e for e in entries if e.get("validation_knn_auroc") is not None]
        if not validated or validated[-1]["step"] < min_steps:
            continue
        data = "mouse_bladder" if "bladder" in run else "pbmc" if "pbmc" in run else "other"
        rows.append((data, os.path.basename(run), validated[-1]["validation_knn_auroc"], test_knn, test_rf))
    for data in sorted({row[0] for row in rows}):
        subset = [row for row in rows if row[0] == data]
        print(f"{data}: {len(subset)} runs")
        for _, name, validation, knn, rf in subset:
            print(f"  {name:<45} validation kNN {validation:.3f}  test kNN {knn:.3f}  test RF {rf:.3f}")
        if len(subset) > 2:
            validation = [row[2] for row in subset]
            knn = [row[3] for row in subset]
            rf = [row[4] for row in subset]
            gap = statistics.mean(k - v for v, k in zip(validation, knn))
            print(f"  correlation with test kNN {correlation(validation, knn):.2f}, with test RF "
                  f"{correlation(validation, rf):.2f}; test kNN - validation kNN {gap:.3f} on average")


if __name__ == "__main__":
    main()
