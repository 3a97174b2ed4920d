//! The evaluator on the embedded PBMC data: real vs real is indistinguishable, a per-gene Poisson generator is
//! clearly worse, shuffled genes are trivially told apart, and bad input gives clean errors.
//!
//! To keep the run short, the tests compare 600 cells per side with 200 trees per forest (100 per cell type);
//! the shuffled-genes test uses the full 1,000 trees (its trees are shallow).

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use scgan::evaluate::{evaluate, EvaluateParams, Evaluation};
use scgan::{io, Column, CountMatrix, CsrMatrix, Frame};

fn demo() -> CountMatrix {
    io::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pbmc_facs_2k.h5ad"), &io::ReadOptions::default())
        .expect("the embedded data set reads")
}

/// Disjoint random parts of `matrix` of the given sizes (the last may be `usize::MAX` for "the rest").
fn parts(matrix: &CountMatrix, sizes: &[usize], seed: u64) -> Vec<CountMatrix> {
    let mut order: Vec<usize> = (0..matrix.n_cells()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut start = 0usize;
    sizes
        .iter()
        .map(|&size| {
            let end = start.saturating_add(size).min(order.len());
            let mut part = matrix.select_cells(&order[start..end]);
            part.source = Some(format!("part{start}.h5ad").into());
            start = end;
            part
        })
        .collect()
}

fn fast_params(label_key: Option<&str>) -> EvaluateParams {
    EvaluateParams {
        n_cells: 600,
        n_trees: 200,
        n_trees_per_type: 100,
        label_key: label_key.map(str::to_string),
        ..Default::default()
    }
}

/// Cells with independent Poisson counts per gene: for each cell of `template` (its type and library size),
/// `count_g ~ Poisson(L * rate_tg)` with `rate_tg` the type's share of gene `g` in `source`.
fn poisson_fake(source: &CountMatrix, template: &CountMatrix, seed: u64) -> CountMatrix {
    let labels = |m: &CountMatrix| -> Vec<String> {
        m.labels("cell_type").unwrap().into_iter().map(|l| l.unwrap_or_default()).collect()
    };
    let (source_labels, template_labels) = (labels(source), labels(template));
    let n_genes = source.n_genes();
    let mut sums: std::collections::HashMap<&str, Vec<f64>> = Default::default();
    for (i, label) in source_labels.iter().enumerate() {
        let row = sums.entry(label).or_insert_with(|| vec![0.0; n_genes]);
        let (cols, values) = source.x.row(i);
        cols.iter().zip(values).for_each(|(&j, &v)| row[j as usize] += v as f64);
    }
    let library_sizes = template.x.row_sums();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (i, label) in template_labels.iter().enumerate() {
        let sum = &sums[label.as_str()];
        let total: f64 = sum.iter().sum();
        for (j, s) in sum.iter().enumerate() {
            let rate = library_sizes[i] * s / total;
            if rate > 0.0 {
                let k = Poisson::new(rate).unwrap().sample(&mut rng);
                if k > 0.0 {
                    rows.push(i as u32);
                    cols.push(j as u32);
                    values.push(k as f32);
                }
            }
        }
    }
    let x = CsrMatrix::from_triplets(template.n_cells(), n_genes, &rows, &cols, &values);
    let mut obs = Frame::new((0..template.n_cells()).map(|i| format!("fake-{i}")).collect());
    obs.insert("cell_type", Column::categorical_from(&template_labels));
    let mut fake = CountMatrix::new(x, obs, source.var.clone()).unwrap();
    fake.source = Some("poisson.h5ad".into());
    fake
}

fn check_json(evaluation: &Evaluation) {
    let value = serde_json::to_value(evaluation).unwrap();
    for side in ["generated", "control"] {
        let comparison = &value[side];
        if comparison.is_null() {
            continue;
        }
        for key in ["rf_auroc", "knn_auroc"] {
            assert!(comparison[key]["mean"].is_number() && comparison[key]["sd"].is_number(), "{side}.{key}");
        }
        for key in ["mmd", "mmd_biased", "scc_gene_mean", "scc_gene_variance", "ks_library_size", "ks_genes_per_cell"] {
            assert!(comparison[key].is_number(), "{side}.{key}: {}", comparison[key]);
        }
    }
    for (name, figures) in value["per_type"].as_object().unwrap() {
        assert!(figures.get("rf_auroc").is_some() && figures.get("mmd").is_some(), "{name}");
    }
    let back: Evaluation = serde_json::from_value(value).unwrap();
    assert_eq!(&back.generated.rf_auroc, &evaluation.generated.rf_auroc);
}

#[test]
fn real_vs_real_is_indistinguishable() {
    let data = demo();
    let halves = parts(&data, &[data.n_cells() / 2, usize::MAX], 1);
    let evaluation = evaluate(&halves[0], &halves[1], None, &fast_params(Some("cell_type"))).unwrap();
    let generated = &evaluation.generated;
    assert_eq!((evaluation.n_cells, evaluation.genes_used), (600, 2000));
    assert!(evaluation.pca_fitted_on.starts_with("real cells held apart"), "{}", evaluation.pca_fitted_on);
    assert!(evaluation.warnings.is_empty(), "{:?}", evaluation.warnings);
    assert!(generated.rf_auroc.mean < 0.6, "RF AUROC {:?}", generated.rf_auroc);
    assert!(generated.knn_auroc.mean < 0.6, "kNN AUROC {:?}", generated.knn_auroc);
    assert!(generated.mmd.abs() < 0.01, "MMD {}", generated.mmd);
    assert!(generated.scc_gene_mean > 0.9 && generated.pcc_gene_mean > 0.99, "{generated:?}");
    assert!(generated.ks_library_size < 0.1 && generated.ks_zeros_per_gene < 0.05, "{generated:?}");
    assert!(evaluation.label_proportion_tvd.unwrap() < 0.05);
    let compared: Vec<&String> =
        evaluation.per_type.iter().filter(|(_, t)| t.rf_auroc.is_some()).map(|(k, _)| k).collect();
    assert!(compared.len() >= 3, "{compared:?}");
    for (name, figures) in &evaluation.per_type {
        if let Some(rf) = figures.rf_auroc {
            assert!(rf.mean < 0.7, "{name}: {rf:?}");
        }
    }
    check_json(&evaluation);
}

#[test]
fn poisson_generator_is_clearly_worse_than_the_control() {
    let data = demo();
    // real (test-like) 600 cells, a reference of training cells, and Poisson cells modelled on the reference.
    let split = parts(&data, &[600, usize::MAX], 2);
    let (real, reference) = (&split[0], &split[1]);
    let template = &parts(reference, &[600], 3)[0];
    let fake = poisson_fake(reference, template, 4);
    let evaluation = evaluate(real, &fake, Some(reference), &fast_params(None)).unwrap();
    let (generated, control) = (&evaluation.generated, evaluation.control.as_ref().unwrap());
    eprintln!("generated {generated:?}\ncontrol {control:?}");
    assert!(evaluation.pca_fitted_on.starts_with("reference cells"), "{}", evaluation.pca_fitted_on);
    assert!(control.rf_auroc.mean < 0.6 && control.mmd.abs() < 0.01, "{control:?}");
    assert!(generated.rf_auroc.mean > 0.65, "RF AUROC {:?}", generated.rf_auroc);
    assert!(generated.knn_auroc.mean > control.knn_auroc.mean, "{generated:?}");
    // Real-vs-real unbiased MMD^2 is noise of about +-0.002 at 600 cells; the Poisson cells are several times that.
    assert!(generated.mmd > 0.005 && generated.mmd > 4.0 * control.mmd.abs(), "{} vs {}", generated.mmd, control.mmd);
    assert!(evaluation.mmd_biased_ratio.unwrap() > 2.0);
    // Library sizes were copied from real cells: their distribution matches; gene means do too.
    assert!(generated.ks_library_size < 0.1 && generated.scc_gene_mean > 0.9, "{generated:?}");
    check_json(&evaluation);
}

#[test]
fn shuffled_genes_are_told_apart_with_a_full_forest() {
    let data = demo();
    // 700 real cells: 500 compared, 200 held apart for the principal components.
    let split = parts(&data, &[700, 500], 5);
    let mut shuffled = split[1].clone();
    // Permute the columns: every cell keeps its values, attached to the wrong genes.
    let n_genes = shuffled.n_genes();
    let mut permutation: Vec<u32> = (0..n_genes as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for i in (1..n_genes).rev() {
        permutation.swap(i, rng.random_range(0..=i));
    }
    let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..shuffled.n_cells() {
        let (c, v) = shuffled.x.row(i);
        for (&j, &value) in c.iter().zip(v) {
            rows.push(i as u32);
            cols.push(permutation[j as usize]);
            values.push(value);
        }
    }
    shuffled.x = CsrMatrix::from_triplets(shuffled.n_cells(), n_genes, &rows, &cols, &values);
    let params = EvaluateParams { n_cells: 500, ..Default::default() };
    assert_eq!(params.n_trees, 1000);
    let evaluation = evaluate(&split[0], &shuffled, None, &params).unwrap();
    assert!(evaluation.pca_fitted_on.starts_with("real cells held apart"), "{}", evaluation.pca_fitted_on);
    let generated = &evaluation.generated;
    assert!(generated.rf_auroc.mean > 0.95, "{:?}", generated.rf_auroc);
    assert!(generated.knn_auroc.mean > 0.95, "{:?}", generated.knn_auroc);
    assert!(generated.scc_gene_mean < 0.5, "{}", generated.scc_gene_mean);
    // Shuffling genes keeps every cell's library size and number of detected genes.
    assert!(generated.ks_library_size < 0.15 && generated.ks_genes_per_cell < 0.15, "{generated:?}");
}

#[test]
fn bad_input_gives_errors_naming_file_and_field() {
    let data = demo();
    let split = parts(&data, &[200, 200, 5], 7);
    let params = EvaluateParams { n_trees: 10, ..fast_params(None) };
    // Too few cells.
    let message = evaluate(&split[0], &split[2], None, &params).unwrap_err().to_string();
    assert!(message.contains("part400.h5ad") && message.contains("at least 10"), "{message}");
    // No gene in common.
    let mut renamed = split[1].clone();
    renamed.var = Frame::new((0..renamed.n_genes()).map(|j| format!("gene-{j}")).collect());
    let message = evaluate(&split[0], &renamed, None, &params).unwrap_err().to_string();
    assert!(message.contains("part0.h5ad") && message.contains("var_names") && message.contains("gene-0"), "{message}");
    // Missing label column in the real data.
    let params = EvaluateParams { label_key: Some("tissue".into()), ..params };
    let message = evaluate(&split[0], &split[1], None, &params).unwrap_err().to_string();
    assert!(message.contains("part0.h5ad") && message.contains("obs['tissue']"), "{message}");
    // Bad settings.
    let params = EvaluateParams { n_folds: 1, label_key: None, ..params };
    assert!(evaluate(&split[0], &split[1], None, &params).unwrap_err().to_string().contains("n_folds"));
}

#[test]
fn fallbacks_are_recorded_as_warnings() {
    let data = demo();
    let split = parts(&data, &[200, 200], 8);
    let mut unlabelled = split[1].clone();
    unlabelled.obs.remove("cell_type");
    let params = EvaluateParams { n_trees: 10, n_trees_per_type: 10, ..fast_params(Some("cell_type")) };
    let evaluation = evaluate(&split[0], &unlabelled, None, &params).unwrap();
    assert_eq!(evaluation.n_cells, 200);
    assert_eq!(evaluation.pca_fitted_on, "compared cells (no held-apart cells available)");
    assert_eq!(evaluation.warnings.len(), 2, "{:?}", evaluation.warnings);
    assert!(evaluation.warnings.iter().any(|w| w.contains("no obs['cell_type']")), "{:?}", evaluation.warnings);
    assert!(evaluation.per_type.is_empty() && evaluation.label_proportion_tvd.is_none());
}
