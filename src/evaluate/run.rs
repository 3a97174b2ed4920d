//! The evaluation itself: sampling, projection, and every figure of [`super::Evaluation`].

use std::collections::BTreeMap;
use std::time::Instant;

use super::classify::{cross_validated_auroc, stratified_folds, Classifier};
use super::forest::mix_seed;
use super::genes::{cell_statistics, gene_agreement};
use super::mmd::{median_pairwise_distance, mmd_with_median};
use super::prepare::{self, fit_pca, match_genes, pcs_rows, permutation, project, Side};
use super::stats::total_variation;
use super::{Comparison, EvaluateParams, Evaluation, Files, MeanSd, TypeComparison};
use crate::data::CountMatrix;
use crate::error::{Error, Result};

/// Fewest cells a file must have.
pub const MIN_CELLS: usize = 10;

/// What the figures were computed on, for cross-checks and pictures.
#[derive(Debug, Clone)]
pub struct Details {
    /// Number of principal components (columns of the score matrices).
    pub dim: usize,
    /// Scores of the real compared cells, row-major `(n_cells, dim)`.
    pub real_pcs: Vec<f64>,
    /// Scores of the generated compared cells.
    pub generated_pcs: Vec<f64>,
    /// Scores of the reference cells of the control.
    pub reference_pcs: Option<Vec<f64>>,
    /// Row of every real compared cell in the real file.
    pub real_cells: Vec<usize>,
    /// Row of every generated compared cell in the generated file.
    pub generated_cells: Vec<usize>,
    /// Row of every reference cell of the control in the reference file.
    pub reference_cells: Option<Vec<usize>>,
    /// Fold of every row of `[real; generated]` in the generated comparison.
    pub folds: Vec<usize>,
    /// Fold of every row of `[first n_control real; reference]` in the control.
    pub control_folds: Option<Vec<usize>>,
}

fn check_params(params: &EvaluateParams) -> Result<()> {
    let positive = [
        ("n_cells", params.n_cells),
        ("n_components", params.n_components),
        ("n_trees", params.n_trees),
        ("n_trees_per_type", params.n_trees_per_type),
        ("knn_k", params.knn_k),
        ("n_hvg_correlation", params.n_hvg_correlation),
    ];
    for (name, value) in positive {
        if value == 0 {
            return Err(Error::parameter(name, "must be at least 1"));
        }
    }
    if params.n_cells < MIN_CELLS {
        return Err(Error::parameter("n_cells", format!("must be at least {MIN_CELLS}")));
    }
    if !(2..=MIN_CELLS).contains(&params.n_folds) {
        return Err(Error::parameter("n_folds", format!("must be between 2 and {MIN_CELLS}")));
    }
    if params.min_cells_per_type < params.n_folds {
        return Err(Error::parameter("min_cells_per_type", "must be at least n_folds"));
    }
    Ok(())
}

fn check_cells(matrix: &CountMatrix, role: &str) -> Result<()> {
    if matrix.n_cells() < MIN_CELLS {
        return Err(Error::invalid_data(
            matrix.display_path(),
            "X",
            format!(
                "the {role} cells number {}; an evaluation needs at least {MIN_CELLS} on every side",
                matrix.n_cells()
            ),
        ));
    }
    Ok(())
}

/// The two-sided figures of `real` vs `other` (same number of cells, projected).
fn compare(real: &Side, other: &Side, dim: usize, median: f64, params: &EvaluateParams) -> (Comparison, Vec<usize>) {
    let n = real.n_cells();
    let mut x = real.pcs.clone();
    x.extend_from_slice(&other.pcs);
    let labels: Vec<bool> = (0..n + other.n_cells()).map(|i| i >= n).collect();
    let folds = stratified_folds(&labels, params.n_folds, mix_seed(params.seed, 1));
    let forest = Classifier::Forest { n_trees: params.n_trees, seed: mix_seed(params.seed, 2) };
    let rf = cross_validated_auroc(&x, dim, &labels, &folds, params.n_folds, forest);
    let knn = cross_validated_auroc(&x, dim, &labels, &folds, params.n_folds, Classifier::Knn { k: params.knn_k });
    let mmd = mmd_with_median(&real.pcs, &other.pcs, dim, median);
    let genes = gene_agreement(&real.lognorm, &other.lognorm, params.n_hvg_correlation);
    let cells = cell_statistics(&real.counts, &other.counts);
    let comparison = Comparison {
        n_cells: n,
        rf_auroc: MeanSd::of(&rf),
        rf_auroc_folds: rf,
        knn_auroc: MeanSd::of(&knn),
        knn_auroc_folds: knn,
        mmd: mmd.unbiased,
        mmd_biased: mmd.biased,
        scc_gene_mean: genes.scc_mean,
        pcc_gene_mean: genes.pcc_mean,
        scc_gene_variance: genes.scc_variance,
        pcc_gene_variance: genes.pcc_variance,
        gene_correlation_agreement: genes.correlation_agreement,
        ks_library_size: cells.ks_library_size,
        ks_zeros_per_cell: cells.ks_zeros_per_cell,
        ks_genes_per_cell: cells.ks_genes_per_cell,
        ks_zeros_per_gene: cells.ks_zeros_per_gene,
    };
    (comparison, folds)
}

/// Forest AUROC and MMD of two sets of scores of one type; MMD bandwidths from `median`.
fn compare_type(
    real: &[f64],
    other: &[f64],
    dim: usize,
    median: f64,
    seed: u64,
    params: &EvaluateParams,
) -> (MeanSd, f64, f64) {
    let n = real.len() / dim;
    let mut x = real.to_vec();
    x.extend_from_slice(other);
    let labels: Vec<bool> = (0..n + other.len() / dim).map(|i| i >= n).collect();
    let folds = stratified_folds(&labels, params.n_folds, mix_seed(seed, 1));
    let forest = Classifier::Forest { n_trees: params.n_trees_per_type, seed: mix_seed(seed, 2) };
    let rf = cross_validated_auroc(&x, dim, &labels, &folds, params.n_folds, forest);
    let mmd = mmd_with_median(real, other, dim, median);
    (MeanSd::of(&rf), mmd.unbiased, mmd.biased)
}

/// Rows of `side` labelled `label`, in order.
fn rows_of(side: &Side, label: &str) -> Vec<usize> {
    side.labels.as_ref().map(|l| (0..l.len()).filter(|&i| l[i].as_deref() == Some(label)).collect()).unwrap_or_default()
}

fn per_type(
    real: &Side,
    generated: &Side,
    reference: Option<&Side>,
    dim: usize,
    params: &EvaluateParams,
) -> BTreeMap<String, TypeComparison> {
    let mut types: Vec<&str> = [Some(real), Some(generated), reference]
        .into_iter()
        .flatten()
        .filter_map(|s| s.labels.as_ref())
        .flat_map(|l| l.iter().flatten().map(String::as_str))
        .collect();
    types.sort_unstable();
    types.dedup();
    let min = params.min_cells_per_type;
    let mut out = BTreeMap::new();
    for (t, &label) in types.iter().enumerate() {
        let (real_rows, generated_rows) = (rows_of(real, label), rows_of(generated, label));
        let reference_rows = reference.map(|r| rows_of(r, label));
        let mut figures = TypeComparison {
            n_real: real_rows.len(),
            n_generated: generated_rows.len(),
            n_reference: reference_rows.as_ref().map(Vec::len),
            n_compared: 0,
            rf_auroc: None,
            mmd: None,
            mmd_biased: None,
            control_rf_auroc: None,
            control_mmd: None,
            control_mmd_biased: None,
        };
        if real_rows.len() >= min && generated_rows.len() >= min {
            let m = real_rows.len().min(generated_rows.len());
            let real_pcs = pcs_rows(&real.pcs, dim, &real_rows[..m]);
            let median = median_pairwise_distance(&real_pcs, dim).max(1e-12);
            let seed = mix_seed(params.seed, 100 + t as u64);
            let (rf, mmd, mmd_biased) = compare_type(
                &real_pcs,
                &pcs_rows(&generated.pcs, dim, &generated_rows[..m]),
                dim,
                median,
                seed,
                params,
            );
            figures.n_compared = m;
            (figures.rf_auroc, figures.mmd, figures.mmd_biased) = (Some(rf), Some(mmd), Some(mmd_biased));
            if let (Some(reference), Some(rows)) = (reference, &reference_rows) {
                if rows.len() >= min {
                    let m = real_rows.len().min(rows.len());
                    let real_pcs = pcs_rows(&real.pcs, dim, &real_rows[..m]);
                    let (rf, mmd, mmd_biased) =
                        compare_type(&real_pcs, &pcs_rows(&reference.pcs, dim, &rows[..m]), dim, median, seed, params);
                    (figures.control_rf_auroc, figures.control_mmd, figures.control_mmd_biased) =
                        (Some(rf), Some(mmd), Some(mmd_biased));
                }
            }
        }
        out.insert(label.to_string(), figures);
    }
    out
}

/// Counts per label of a whole file.
fn label_counts(labels: &[Option<String>]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for label in labels.iter().flatten() {
        *counts.entry(label.as_str()).or_insert(0) += 1;
    }
    counts
}

/// As [`super::evaluate`], also returning what the figures were computed on.
///
/// # Errors
/// As [`super::evaluate`].
pub fn evaluate_detailed(
    real: &CountMatrix,
    generated: &CountMatrix,
    reference: Option<&CountMatrix>,
    params: &EvaluateParams,
) -> Result<(Evaluation, Details)> {
    let start = Instant::now();
    check_params(params)?;
    check_cells(real, "real")?;
    check_cells(generated, "generated")?;
    if let Some(reference) = reference {
        check_cells(reference, "reference")?;
    }
    let genes = match_genes(real, generated, reference)?;
    let mut warnings = Vec::new();

    // Labels: required in the real and reference files when asked for; optional in the generated one.
    let (mut real_labels, mut generated_labels, mut reference_labels) = (None, None, None);
    if let Some(key) = &params.label_key {
        real_labels = Some(real.labels(key)?);
        if let Some(reference) = reference {
            reference_labels = Some(reference.labels(key)?);
        }
        match generated.obs.get(key) {
            Some(column) => generated_labels = Some(column.to_labels()),
            None => warnings.push(format!(
                "{} has no obs['{key}'] (an unconditional model?): no per-type figures",
                generated.display_path().display()
            )),
        }
    }

    // Samples.
    let n = params.n_cells.min(real.n_cells()).min(generated.n_cells());
    let real_order = permutation(real.n_cells(), mix_seed(params.seed, 11));
    let generated_order = permutation(generated.n_cells(), mix_seed(params.seed, 12));
    let reference_order = reference.map(|r| permutation(r.n_cells(), mix_seed(params.seed, 13)));
    let n_control = reference.map(|r| n.min(r.n_cells()));

    // The cells the components are fitted on.
    let spare_real = &real_order[n..];
    let spare_reference = match (&reference_order, n_control) {
        (Some(order), Some(m)) => &order[m..],
        _ => &[][..],
    };
    let (fit_matrix, fit_rows, fit_columns, fitted_on) = if spare_real.len() >= prepare::MIN_PCA_FIT_CELLS {
        (real, spare_real, &genes.real, "real cells held apart from the compared ones")
    } else if let (Some(reference), Some(columns), true) =
        (reference, &genes.reference, spare_reference.len() >= prepare::MIN_PCA_FIT_CELLS)
    {
        (reference, spare_reference, columns, "reference cells not used in the control")
    } else {
        warnings.push(
            "the principal components were fitted on the compared real cells (no held-apart cells available): \
             even real-vs-real cells look separable this way; pass more real cells or a reference"
                .to_string(),
        );
        (real, &real_order[..n], &genes.real, "compared cells (no held-apart cells available)")
    };
    let fit_rows = &fit_rows[..fit_rows.len().min(prepare::MAX_PCA_FIT_CELLS)];
    let fit_cells = Side::new(fit_matrix, fit_rows, fit_columns, None)?;
    let pca = fit_pca(&fit_cells.lognorm, params.n_components, params.seed)
        .map_err(|e| e.in_file(&fit_matrix.display_path()))?;
    drop(fit_cells);
    let dim = pca.n_components();

    let mut real_side = Side::new(real, &real_order[..n], &genes.real, real_labels.as_deref())?;
    let mut generated_side =
        Side::new(generated, &generated_order[..n], &genes.generated, generated_labels.as_deref())?;
    let mut reference_side = match (reference, &reference_order, n_control, &genes.reference) {
        (Some(matrix), Some(order), Some(m), Some(columns)) => {
            Some(Side::new(matrix, &order[..m], columns, reference_labels.as_deref())?)
        }
        _ => None,
    };
    real_side.pcs = project(&pca, &real_side.lognorm);
    generated_side.pcs = project(&pca, &generated_side.lognorm);
    if let Some(side) = reference_side.as_mut() {
        side.pcs = project(&pca, &side.lognorm);
    }
    if generated_side.counts.data().iter().any(|v| v.fract() != 0.0) {
        warnings.push(format!(
            "{} holds non-integer values in X (normalised profiles?): the library-size and zero statistics \
             describe those values, not counts",
            generated.display_path().display()
        ));
    }

    let median = median_pairwise_distance(&real_side.pcs, dim).max(1e-12);
    let (generated_comparison, folds) = compare(&real_side, &generated_side, dim, median, params);
    let (control, control_folds) = match &reference_side {
        Some(reference_side) => {
            let real_head = real_side.head(reference_side.n_cells());
            let (comparison, folds) = compare(&real_head, reference_side, dim, median, params);
            (Some(comparison), Some(folds))
        }
        None => (None, None),
    };
    let per_type = if real_side.labels.is_some() && generated_side.labels.is_some() {
        per_type(&real_side, &generated_side, reference_side.as_ref(), dim, params)
    } else {
        BTreeMap::new()
    };
    let tvd = |other: &Option<Vec<Option<String>>>| match (&real_labels, other) {
        (Some(a), Some(b)) => Some(total_variation(&label_counts(a), &label_counts(b))),
        _ => None,
    };
    let evaluation = Evaluation {
        mmd_biased_ratio: control.as_ref().map(|c| generated_comparison.mmd_biased / c.mmd_biased),
        mmd_unbiased_excess: control.as_ref().map(|c| generated_comparison.mmd - c.mmd),
        generated: generated_comparison,
        control,
        per_type,
        label_proportion_tvd: tvd(&generated_labels),
        control_label_proportion_tvd: tvd(&reference_labels),
        n_cells: n,
        n_control_cells: n_control,
        genes_used: genes.names.len(),
        pca_fitted_on: fitted_on.to_string(),
        pca_fit_cells: fit_rows.len(),
        pca_components: dim,
        pca_explained_variance: pca.explained_variance_ratio().iter().sum(),
        median_distance: median,
        files: Files {
            real: real.display_path().display().to_string(),
            generated: generated.display_path().display().to_string(),
            reference: reference.map(|r| r.display_path().display().to_string()),
        },
        warnings,
        seconds: start.elapsed().as_secs_f64(),
        params: params.clone(),
    };
    let details = Details {
        dim,
        real_pcs: real_side.pcs,
        generated_pcs: generated_side.pcs,
        reference_pcs: reference_side.map(|s| s.pcs),
        real_cells: real_order[..n].to_vec(),
        generated_cells: generated_order[..n].to_vec(),
        reference_cells: reference_order.zip(n_control).map(|(order, m)| order[..m].to_vec()),
        folds,
        control_folds,
    };
    Ok((evaluation, details))
}
