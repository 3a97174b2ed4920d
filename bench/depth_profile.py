"""How generated cells' counts look at each depth, next to real ones (BENCHMARKS.md, Session 15).

    python3 bench/depth_profile.py REAL.h5ad GENERATED.h5ad [GENERATED.h5ad ...]
    e.g. python3 bench/depth_profile.py ../shared/data/mouse_bladder.test.h5ad runs/q/realism-rescale-0/generated.h5ad

Cells are put in five bins by library size (the real cells' fifths). For each bin it prints the cells, the
fraction of a cell's detected genes that have exactly one count (mean ± sd over cells) and the genes detected per
cell. A real cell's fraction falls with depth and varies little at one depth; a generator that does not know the
depth its profile is counted at gets both wrong. Needs anndata and numpy.
"""
import sys

import anndata
import numpy as np


def dense(path):
    x = anndata.read_h5ad(path).X
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    real = dense(sys.argv[1])
    edges = np.quantile(real.sum(1), [0.2, 0.4, 0.6, 0.8])
    for path in sys.argv[1:]:
        x = real if path == sys.argv[1] else dense(path)
        sizes, detected = x.sum(1), (x > 0).sum(1)
        singletons = (x == 1).sum(1) / np.maximum(detected, 1)
        bins = np.digitize(sizes, edges)
        cells = []
        for b in range(5):
            m = bins == b
            if m.any():
                cells.append(f"n {m.sum():4d} one-count {singletons[m].mean():.3f} ± {singletons[m].std():.3f}"
                             f" genes {detected[m].mean():5.0f}")
            else:
                cells.append("n    0")
        print(("real      " if path == sys.argv[1] else "generated ") + path)
        print("    " + "\n    ".join(f"depth fifth {b + 1}: {c}" for b, c in enumerate(cells)))


if __name__ == "__main__":
    main()
