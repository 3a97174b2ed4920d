#!/usr/bin/env python3
"""scVI reference for the realism benchmark (EVALUATION.md).

Trains scvi.model.SCVI (default architecture, default max_epochs) on PREFIX.train.h5ad and
generates as many cells per cell type as PREFIX.test.h5ad has. For each type: draw that many
training cells of the type at random (with replacement), sample z ~ q(z|x) for each (a draw,
not the posterior mean), decode with the observed library size of that cell, and sample integer
counts from the model's likelihood p(x|z, l) (ZINB for scVI's default, NB with
--gene-likelihood nb). This is --protocol posterior (the default).

--protocol latent: for each type, fit a Gaussian (full covariance + 1e-4 ridge on the diagonal;
prior N(0, I) if the type has < 2 training cells) to the posterior MEANS of that type's training
cells, draw n new z from it, draw each cell's library size from that type's observed training
totals (with replacement), decode with module.generative(z, log library) and sample counts from px.

--model-dir: if it holds a saved model (model.pt), load it instead of training; otherwise train and
save it there (model.save), so both protocols can be generated from one trained model. Writes OUT/generated.h5ad (X = counts, CSR float32; obs[label-key]
categorical; var_names = the train var_names) and OUT/scvi_run.json (versions, wall time, epochs).

Setup (not part of the test suite; scvi-tools 1.4.2 over the machine's torch, so that pip pulls no CUDA torch):

    python3 -m venv --system-site-packages .venv-scvi
    pip freeze | grep -Ei '^(torch|numpy|scipy|pandas|anndata|nvidia|triton)' > constraints.txt
    .venv-scvi/bin/pip install scvi-tools==1.4.2 -c constraints.txt

Then, for BENCHMARKS.md's scVI rows (issue 7's table is matched by --protocol latent):

    .venv-scvi/bin/python bench/scvi_reference.py --data ../shared/data/pbmc_facs_2k --seed 0 --protocol latent \
        --model-dir runs/scvi/pbmc0_model --out runs/scvi/pbmc0_latent
    scgan evaluate --real ../shared/data/pbmc_facs_2k.test.h5ad --generated runs/scvi/pbmc0_latent/generated.h5ad \
        --reference ../shared/data/pbmc_facs_2k.train.h5ad --label-key cell_type --out runs/scvi/pbmc0_latent/report
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prefix of PREFIX.train.h5ad / PREFIX.test.h5ad")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--label-key", default="cell_type")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--gene-likelihood", default=None, choices=["zinb", "nb", "poisson"],
                   help="scVI likelihood; default: scvi-tools' own default (zinb)")
    p.add_argument("--max-epochs", type=int, default=None, help="only for smoke tests; default: scvi-tools' heuristic")
    p.add_argument("--protocol", default="posterior", choices=["posterior", "latent"])
    p.add_argument("--model-dir", default=None, help="load the model from here if saved, else train and save here")
    p.add_argument("--ridge", type=float, default=1e-4, help="latent protocol: diagonal ridge on the covariance")
    return p.parse_args()


args = parse_args()
# Cap the BLAS/OpenMP pools before torch and numpy load: this machine is shared.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import anndata  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
import scvi  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(args.threads)
scvi.settings.num_threads = args.threads
scvi.settings.dl_num_workers = 0
scvi.settings.seed = args.seed  # seeds python, numpy and torch (lightning's seed_everything)

os.makedirs(args.out, exist_ok=True)
train = anndata.read_h5ad(f"{args.data}.train.h5ad")
test = anndata.read_h5ad(f"{args.data}.test.h5ad")
train.X = sp.csr_matrix(train.X, dtype=np.float32)
assert np.allclose(train.X.data, np.round(train.X.data)), "train X must hold raw integer counts"

# --- train: no batch, no labels given to the model (plain unsupervised scVI) ---
saved = args.model_dir is not None and os.path.exists(os.path.join(args.model_dir, "model.pt"))
if saved:
    model = scvi.model.SCVI.load(args.model_dir, adata=train, accelerator="cpu")
    tinfo = json.load(open(os.path.join(args.model_dir, "train_info.json")))
    train_seconds, epochs = tinfo["train_seconds"], tinfo["epochs"]
    print(f"loaded model from {args.model_dir} ({epochs} epochs, trained in {train_seconds:.1f} s)", file=sys.stderr)
else:
    scvi.model.SCVI.setup_anndata(train)
    model_kwargs = {} if args.gene_likelihood is None else {"gene_likelihood": args.gene_likelihood}
    model = scvi.model.SCVI(train, **model_kwargs)
    t0 = time.time()
    model.train(max_epochs=args.max_epochs, accelerator="cpu", devices=1)  # default max_epochs: get_max_epochs_heuristic(n_obs)
    train_seconds = time.time() - t0
    epochs = len(model.history["elbo_train"])
    print(f"trained {epochs} epochs in {train_seconds:.1f} s", file=sys.stderr)
    if args.model_dir is not None:
        model.save(args.model_dir, overwrite=True, save_anndata=False)
        json.dump({"train_seconds": round(train_seconds, 1), "epochs": epochs, "seed": args.seed,
                   "elbo_validation_last": float(model.history["elbo_validation"].iloc[-1, 0])
                   if "elbo_validation" in model.history else None},
                  open(os.path.join(args.model_dir, "train_info.json"), "w"), indent=1)

module = model.module
module.eval()
rng = np.random.default_rng(args.seed)
train_labels = train.obs[args.label_key].astype(str).to_numpy()
wanted = test.obs[args.label_key].astype(str).value_counts()
blocks, labels, type_info = [], [], {}
if args.protocol == "posterior":
    # --- generate: per type, resample training cells and draw from p(x | z ~ q(z|x), l = their library) ---
    with torch.no_grad():
        for cell_type, n in wanted.items():
            pool = np.flatnonzero(train_labels == cell_type)
            if n == 0 or len(pool) == 0:
                continue
            idx = rng.choice(pool, size=n, replace=True)
            x = torch.from_numpy(train.X[idx].toarray())
            batch_index = torch.zeros((n, 1), dtype=torch.long)
            # inference: z is a reparameterised draw from q(z|x); library = log of the observed counts
            inf = module.inference(x=x, batch_index=batch_index, n_samples=1)
            gen = module.generative(z=inf["z"], library=inf["library"], batch_index=batch_index)
            counts = gen["px"].sample()  # integer-valued draw from the likelihood (ZINB/NB)
            blocks.append(sp.csr_matrix(counts.numpy().astype(np.float32)))
            labels += [cell_type] * n
else:
    # --- generate: per type, z ~ N(mean, cov) fitted to the posterior means of the type's training cells ---
    assert module.use_observed_lib_size and not module.use_size_factor_key
    torch.manual_seed(args.seed)
    zmean = model.get_latent_representation(adata=train, give_mean=True)  # (n_train, n_latent) = qz.loc
    lib_all = np.asarray(train.X.sum(axis=1)).ravel()  # observed totals
    d = zmean.shape[1]
    with torch.no_grad():
        for cell_type, n in wanted.items():
            pool = np.flatnonzero(train_labels == cell_type)
            if n == 0 or len(pool) == 0:
                continue
            if len(pool) >= 2:
                mu = zmean[pool].mean(axis=0)
                cov = np.cov(zmean[pool], rowvar=False) + args.ridge * np.eye(d)
                src = "fit"
            else:
                mu, cov, src = np.zeros(d), np.eye(d), "prior"
            z = rng.multivariate_normal(mu, cov, size=n).astype(np.float32)
            lib = rng.choice(lib_all[pool], size=n, replace=True).astype(np.float32)
            batch_index = torch.zeros((n, 1), dtype=torch.long)
            # SCVI.generative takes the LOG library size (decoder: px_rate = exp(library) * px_scale)
            gen = module.generative(z=torch.from_numpy(z), library=torch.log(torch.from_numpy(lib)).unsqueeze(1),
                                    batch_index=batch_index)
            counts = gen["px"].sample()
            blocks.append(sp.csr_matrix(counts.numpy().astype(np.float32)))
            labels += [cell_type] * n
            type_info[cell_type] = {"n_train": int(len(pool)), "n_generated": int(n), "z_source": src}

X = sp.vstack(blocks).tocsr().astype(np.float32)
obs = pd.DataFrame({args.label_key: pd.Categorical(labels, categories=sorted(set(labels)))},
                   index=[f"scvi_{i}" for i in range(X.shape[0])])
gen_adata = anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=train.var_names.copy()))
gen_adata.write_h5ad(os.path.join(args.out, "generated.h5ad"))

info = {
    "data": args.data, "seed": args.seed, "protocol": args.protocol, "model_dir": args.model_dir,
    "model_loaded": saved, "per_type": type_info, "threads": args.threads,
    "gene_likelihood": module.gene_likelihood,
    "n_latent": module.n_latent, "train_cells": int(train.n_obs), "generated_cells": int(X.shape[0]),
    "epochs": epochs, "train_seconds": round(train_seconds, 1),
    "elbo_validation_last": tinfo.get("elbo_validation_last") if saved else
    (float(model.history["elbo_validation"].iloc[-1, 0]) if "elbo_validation" in model.history else None),
    "versions": {"scvi-tools": scvi.__version__, "torch": torch.__version__,
                 "anndata": anndata.__version__, "numpy": np.__version__},
}
json.dump(info, open(os.path.join(args.out, "scvi_run.json"), "w"), indent=1)
print(json.dumps(info))
