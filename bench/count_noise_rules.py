#!/usr/bin/env python3
"""How well rules for choosing the count noise from validation figures do on the test split (BENCHMARKS.md, Session 18).

    python3 bench/count_noise_rules.py VALIDATION_DIR RUNS_DIR

VALIDATION_DIR holds one file per finished run, `NAME.txt`: the output of
`cargo run --release --example validate_run -- COPY_OF_RUN` (the validation figures of the run's saved model at every
count noise, with the training seed). RUNS_DIR/NAME is the run folder; it must hold the test figures at noise none,
0.25 and 0.5, as `COUNT_NOISE=N bench/realism.sh RUN ../shared/data/DATA rescale 0` writes them. A run's data set is
the training file in its config.json.

Prints, per data set, each rule's test figures averaged over the runs (the noise it chooses among none, 0.25 and 0.5),
and how often the paired validation difference (0.25 minus none) has the sign of the test MMD² ratio's difference.
"""
import json
import math
import os
import re
import sys
from pathlib import Path

NOISES = (0.0, 0.25, 0.5)
LINE = re.compile(r"^(\S+)\tstep \d+\t(?:seed \d+\t)?count noise ([\d.]+)\tkNN AUROC ([\d.]+)\tMMD (-?[\d.]+)")


def auroc_standard_error(a, n):
    """Hanley & McNeil's standard error of an AUROC `a` with `n` cells a side (as src/train/validation.rs)."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return math.sqrt((a * (1 - a) + (n - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (n * n))


def test_figures(run):
    """Test figures per noise: RF AUROC, MMD² ratio, worst type's RF AUROC."""
    figures = {}
    for noise in NOISES:
        path = run / f"realism-rescale-noise{noise:g}-0" / "report" / "metrics.json"
        if path.exists():
            m = json.loads(path.read_text())
            m = m.get("evaluation", m)
            per_type = [t["rf_auroc"]["mean"] for t in m["per_type"].values() if t.get("rf_auroc")]
            figures[noise] = (m["generated"]["rf_auroc"]["mean"], m["mmd_biased_ratio"], max(per_type))
    return figures


def load(validation_folder, runs_folder):
    runs = []
    for text in sorted(Path(validation_folder).glob("*.txt")):
        validation = {}
        for line in text.read_text().splitlines():
            if (m := LINE.match(line)) and float(m[2]) in NOISES:
                validation.setdefault(float(m[2]), (float(m[3]), float(m[4])))
        run = Path(runs_folder) / text.stem
        test = test_figures(run)
        if len(test) < len(NOISES) or len(validation) < len(NOISES):
            print(f"skipped {run}: figures at every noise missing", file=sys.stderr)
            continue
        config = json.loads((run / "config.json").read_text())
        data = os.path.basename(config["input"]).split(".")[0]
        n_validation = json.loads((run / "data.json").read_text())["n_validation"]
        runs.append((data, min(n_validation, 1000), validation, test))
    return runs


def least_within(figures, margin):
    lowest = min(figures[n][0] for n in NOISES)
    return next(n for n in NOISES if figures[n][0] <= lowest + margin(lowest))


RULES = {
    "always none": lambda v, n: 0.0,
    "always 0.25": lambda v, n: 0.25,
    "lowest kNN AUROC": lambda v, n: least_within(v, lambda low: 0.0),
    "within 0.01 of the lowest kNN AUROC": lambda v, n: least_within(v, lambda low: 0.01),
    "within 0.5 SE": lambda v, n: least_within(v, lambda low: 0.5 * auroc_standard_error(low, n)),
    "within 1 SE (scgan's rule)": lambda v, n: least_within(v, lambda low: auroc_standard_error(low, n)),
    "lowest validation MMD²": lambda v, n: min(NOISES, key=lambda k: v[k][1]),
    "kNN AUROC and MMD² both below none's": lambda v, n: min(
        (k for k in NOISES if k == 0.0 or (v[k][0] < v[0.0][0] and v[k][1] < v[0.0][1])), key=lambda k: v[k][0]
    ),
}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = load(sys.argv[1], sys.argv[2])
    for data in sorted({r[0] for r in runs}):
        mine = [r for r in runs if r[0] == data]
        print(f"{data}: {len(mine)} runs")
        for name, rule in {**RULES, "best on the test split (not a rule)": None}.items():
            chosen = [
                min(NOISES, key=lambda k: test[k][1]) if rule is None else rule(validation, n)
                for _, n, validation, test in mine
            ]
            figures = [test[k] for k, (_, _, _, test) in zip(chosen, mine)]
            mean = [sum(f[i] for f in figures) / len(figures) for i in range(3)]
            noisy = sum(1 for k in chosen if k > 0)
            print(f"  {name:38s} RF AUROC {mean[0]:.3f}  MMD² ratio {mean[1]:.2f}  worst type {mean[2]:.3f}  "
                  f"runs with noise {noisy}")
        agree = sum(
            1
            for _, _, v, t in mine
            if (v[0.25][0] - v[0.0][0] > 0) == (t[0.25][1] - t[0.0][1] > 0)
        )
        print(f"  the validation kNN AUROC's difference (0.25 - none) has the test MMD² ratio's sign in {agree} of "
              f"{len(mine)}")


if __name__ == "__main__":
    main()
