//! Times `evaluate()` on 1,000 vs 1,000 cells with 1,000 trees, on a 2-thread pool.
//!
//! ```text
//! cargo run --release --example bench_evaluate                      # embedded PBMC data, split 1000/1000/1774
//! cargo run --release --example bench_evaluate -- REAL GEN [REF]    # your files
//! ```
//!
//! With the embedded data the generated side is real cells too: real-vs-real is the slowest case for the forest
//! (the trees must grow deepest to reach purity). Prints the whole evaluation's time, with and without the
//! control, and the random-forest cross-validation alone (5 folds x 1,000 trees on 1,600 x 50 rows).

use std::path::Path;
use std::time::Instant;

use scgan::evaluate::classify::{cross_validated_auroc, Classifier};
use scgan::evaluate::{evaluate_detailed, EvaluateParams};
use scgan::{io, CountMatrix};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = io::ReadOptions::default();
    let (real, generated, reference): (CountMatrix, CountMatrix, Option<CountMatrix>) = if args.len() >= 2 {
        let reference = args.get(2).map(|p| io::read(p, &options)).transpose()?;
        (io::read(&args[0], &options)?, io::read(&args[1], &options)?, reference)
    } else {
        let data = io::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pbmc_facs_2k.h5ad"), &options)?;
        let order = scgan::evaluate::prepare::permutation(data.n_cells(), 0);
        let part = |range: std::ops::Range<usize>| data.select_cells(&order[range]);
        (part(0..1000), part(1000..2000), Some(part(2000..data.n_cells())))
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
    let params = EvaluateParams { label_key: Some("cell_type".into()), ..Default::default() };
    let has_labels = real.obs.get("cell_type").is_some();
    let params = if has_labels { params } else { EvaluateParams { label_key: None, ..params } };
    println!(
        "real {} cells, generated {}, reference {:?}; {} trees, {} per type, 2 threads",
        real.n_cells(),
        generated.n_cells(),
        reference.as_ref().map(|r| r.n_cells()),
        params.n_trees,
        params.n_trees_per_type
    );
    pool.install(|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let start = Instant::now();
        let (evaluation, details) = evaluate_detailed(&real, &generated, reference.as_ref(), &params)?;
        println!("evaluate() with control and per-type: {:.2} s", start.elapsed().as_secs_f64());
        println!(
            "  RF AUROC {:.3} +- {:.3}, kNN {:.3}, MMD {:.5}; control RF {:?}; PCA on {} ({} cells); {} types compared",
            evaluation.generated.rf_auroc.mean,
            evaluation.generated.rf_auroc.sd,
            evaluation.generated.knn_auroc.mean,
            evaluation.generated.mmd,
            evaluation.control.as_ref().map(|c| (c.rf_auroc.mean * 1000.0).round() / 1000.0),
            evaluation.pca_fitted_on,
            evaluation.pca_fit_cells,
            evaluation.per_type.values().filter(|t| t.rf_auroc.is_some()).count(),
        );
        let start = Instant::now();
        let no_types = EvaluateParams { label_key: None, ..params.clone() };
        evaluate_detailed(&real, &generated, reference.as_ref(), &no_types)?;
        println!("evaluate() with control, no per-type: {:.2} s", start.elapsed().as_secs_f64());
        let start = Instant::now();
        evaluate_detailed(&real, &generated, None, &no_types)?;
        println!("evaluate() without control: {:.2} s", start.elapsed().as_secs_f64());

        let mut x = details.real_pcs.clone();
        x.extend_from_slice(&details.generated_pcs);
        let n = details.real_pcs.len() / details.dim;
        let labels: Vec<bool> = (0..x.len() / details.dim).map(|i| i >= n).collect();
        let start = Instant::now();
        let forest = Classifier::Forest { n_trees: params.n_trees, seed: 0 };
        let folds = cross_validated_auroc(&x, details.dim, &labels, &details.folds, params.n_folds, forest);
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "random forest alone: {} folds x {} trees on {} x {} rows: {:.2} s ({:.2} ms per tree-core), AUROC {:?}",
            params.n_folds,
            params.n_trees,
            x.len() / details.dim * (params.n_folds - 1) / params.n_folds,
            details.dim,
            seconds,
            seconds * 2.0 * 1000.0 / (params.n_folds * params.n_trees) as f64,
            folds.iter().map(|a| (a * 1000.0).round() / 1000.0).collect::<Vec<_>>()
        );
        Ok(())
    })?;
    Ok(())
}
