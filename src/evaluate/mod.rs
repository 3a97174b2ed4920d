//! Measuring how realistic generated cells are, by the protocol of the published comparisons (EVALUATION.md).
//!
//! ## Brief overview
//! [`evaluate`] compares held-out real cells with generated cells (and, as the control, with other real cells:
//! the reference, usually the training cells) and returns an [`Evaluation`]: one [`Comparison`] for real vs
//! generated, one for real vs reference (the floor no generator can beat), and per-cell-type figures
//! ([`TypeComparison`]). `serde_json::to_value(&evaluation)` is the report's `metrics.json`.
//!
//! ## The protocol, step by step
//! 1. **Genes** are matched by name (those in every file, in the real data's order). Every side is processed
//!    identically: counts scaled to 20,000 per cell over the matched genes, then `log1p`. (A generated file made
//!    with `--normalized-only` holds profiles instead of counts; scaling them to 20,000 gives the same values.)
//! 2. **Cells**: `n = min(n_cells, real, generated)` cells are drawn from each side with seeded random orders;
//!    the control draws `min(n, reference)` reference cells the same way and compares them with the first of the
//!    real cells drawn.
//! 3. **Principal components** (50) are fitted on real cells *held apart from the compared ones*: the real cells
//!    not drawn (if at least [`prepare::MIN_PCA_FIT_CELLS`]), else the reference cells not drawn for the
//!    control, else (with a warning) the compared real cells themselves, which makes even real-vs-real cells
//!    separable because the components then carry the compared cells' own noise. Every side is projected on
//!    the same components, so generated and control figures are comparable.
//! 4. **Classifier AUROC**: real (0) vs generated (1) on the components, 5-fold stratified cross-validation, a
//!    random forest ([`forest`], 1,000 trees) and 15 nearest neighbours ([`classify`]); mean and standard
//!    deviation over folds. 0.5 means indistinguishable, 1 always told apart.
//! 5. **MMD** ([`mmd`]) on the components, Gaussian kernels at 0.5, 1, 2 and 4 times the median distance among
//!    the real compared cells; the control uses the same bandwidths, so that the ratio of the biased estimates
//!    (generated / control, 1 is ideal) and the difference of the unbiased ones are meaningful.
//! 6. **Genes** ([`genes`]): Spearman and Pearson correlation of gene means and variances (log-normalised), and
//!    agreement of the gene-gene correlation matrices of the 500 most variable genes.
//! 7. **Cell statistics** ([`genes`]): Kolmogorov-Smirnov statistics of library size, zeros and genes detected
//!    per cell, zeros per gene, on the raw values of the matched genes (meaningful for count generators).
//! 8. **Per cell type** (with a label key): figures 4 (forest only) and 5 for every type with at least
//!    `min_cells_per_type` cells on both sides among the compared cells, with `n_trees_per_type` trees; and the
//!    total variation distance `1/2 sum_t |p_t - q_t|` between the label proportions of the two files.

pub mod classify;
pub mod forest;
pub mod genes;
pub mod mmd;
pub mod prepare;
mod run;
pub mod stats;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::data::CountMatrix;
use crate::error::Result;

pub use run::{evaluate_detailed, Details};

/// Settings of [`evaluate`] (defaults: EVALUATION.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluateParams {
    /// Cells compared per side (fewer when a side has fewer). Default 1,000.
    pub n_cells: usize,
    /// Principal components. Default 50.
    pub n_components: usize,
    /// Trees of the random forest of the overall comparisons. Default 1,000.
    pub n_trees: usize,
    /// Trees of the per-cell-type forests. Default 1,000, as the overall forests: a type has fewer cells, so its
    /// forests are cheap (about 0.25 s per type and comparison on 2 cores when 1,000 cells are compared); lower
    /// it for data with very many types.
    pub n_trees_per_type: usize,
    /// Cross-validation folds. Default 5.
    pub n_folds: usize,
    /// Neighbours of the kNN classifier. Default 15.
    pub knn_k: usize,
    /// Fewest cells of a type on each side for per-type figures. Default 50.
    pub min_cells_per_type: usize,
    /// Most variable genes whose correlation matrices are compared. Default 500.
    pub n_hvg_correlation: usize,
    /// Seed of the cell samples, folds, forests and PCA.
    pub seed: u64,
    /// The `obs` column of cell types, for per-type figures.
    pub label_key: Option<String>,
}

impl Default for EvaluateParams {
    fn default() -> Self {
        EvaluateParams {
            n_cells: 1000,
            n_components: 50,
            n_trees: 1000,
            n_trees_per_type: 1000,
            n_folds: 5,
            knn_k: 15,
            min_cells_per_type: 50,
            n_hvg_correlation: 500,
            seed: 0,
            label_key: None,
        }
    }
}

/// `NaN` is written as `null` by serde_json; read `null` back as `NaN`.
fn nullable_f64<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// Mean and sample standard deviation (`n - 1`) over cross-validation folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanSd {
    /// Mean over folds.
    #[serde(deserialize_with = "nullable_f64")]
    pub mean: f64,
    /// Standard deviation over folds.
    #[serde(deserialize_with = "nullable_f64")]
    pub sd: f64,
}

impl MeanSd {
    /// Mean and standard deviation of `values`.
    pub fn of(values: &[f64]) -> MeanSd {
        let (mean, sd) = stats::mean_sd(values);
        MeanSd { mean, sd }
    }
}

/// Every figure of one comparison: real cells vs generated cells (or vs reference cells, for the control).
///
/// Correlations are `NaN` (`null` in JSON) when undefined, e.g. when one side's gene means are all equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Cells per side.
    pub n_cells: usize,
    /// Random-forest AUROC over folds (0.5: indistinguishable).
    pub rf_auroc: MeanSd,
    /// Random-forest AUROC of each fold.
    pub rf_auroc_folds: Vec<f64>,
    /// kNN AUROC over folds.
    pub knn_auroc: MeanSd,
    /// kNN AUROC of each fold.
    pub knn_auroc_folds: Vec<f64>,
    /// Unbiased MMD^2 (about 0, possibly negative, for equal distributions).
    #[serde(deserialize_with = "nullable_f64")]
    pub mmd: f64,
    /// Biased MMD^2 (positive).
    #[serde(deserialize_with = "nullable_f64")]
    pub mmd_biased: f64,
    /// Spearman correlation of gene means (log-normalised).
    #[serde(deserialize_with = "nullable_f64")]
    pub scc_gene_mean: f64,
    /// Pearson correlation of gene means.
    #[serde(deserialize_with = "nullable_f64")]
    pub pcc_gene_mean: f64,
    /// Spearman correlation of gene variances.
    #[serde(deserialize_with = "nullable_f64")]
    pub scc_gene_variance: f64,
    /// Pearson correlation of gene variances.
    #[serde(deserialize_with = "nullable_f64")]
    pub pcc_gene_variance: f64,
    /// Pearson correlation of the gene-gene correlation matrices (upper triangles) of the most variable genes.
    #[serde(deserialize_with = "nullable_f64")]
    pub gene_correlation_agreement: f64,
    /// Kolmogorov-Smirnov statistic of library sizes (0: same distribution, 1: disjoint).
    #[serde(deserialize_with = "nullable_f64")]
    pub ks_library_size: f64,
    /// Kolmogorov-Smirnov statistic of the fraction of zeros per cell.
    #[serde(deserialize_with = "nullable_f64")]
    pub ks_zeros_per_cell: f64,
    /// Kolmogorov-Smirnov statistic of genes detected per cell.
    #[serde(deserialize_with = "nullable_f64")]
    pub ks_genes_per_cell: f64,
    /// Kolmogorov-Smirnov statistic of the fraction of zeros per gene.
    #[serde(deserialize_with = "nullable_f64")]
    pub ks_zeros_per_gene: f64,
}

/// The figures of one cell type. Types with too few cells on a side have their counts and no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeComparison {
    /// Cells of this type among the real compared cells.
    pub n_real: usize,
    /// Cells of this type among the generated compared cells.
    pub n_generated: usize,
    /// Cells of this type among the reference cells of the control, when there is a reference.
    pub n_reference: Option<usize>,
    /// Cells per side in the generated comparison, `min(n_real, n_generated)` (0 when not compared).
    pub n_compared: usize,
    /// Random-forest AUROC, real vs generated cells of this type.
    pub rf_auroc: Option<MeanSd>,
    /// Unbiased MMD^2, real vs generated cells of this type (bandwidths from this type's real cells).
    pub mmd: Option<f64>,
    /// Biased MMD^2, real vs generated.
    pub mmd_biased: Option<f64>,
    /// Random-forest AUROC, real vs reference cells of this type.
    pub control_rf_auroc: Option<MeanSd>,
    /// Unbiased MMD^2, real vs reference cells of this type (same bandwidths as `mmd`).
    pub control_mmd: Option<f64>,
    /// Biased MMD^2, real vs reference.
    pub control_mmd_biased: Option<f64>,
}

/// The result of [`evaluate`]; `metrics.json` is its JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Real vs generated cells.
    pub generated: Comparison,
    /// Real vs reference cells: the real-vs-real floor (when a reference was given).
    pub control: Option<Comparison>,
    /// `generated.mmd_biased / control.mmd_biased` (1 is ideal).
    pub mmd_biased_ratio: Option<f64>,
    /// `generated.mmd - control.mmd` (0 is ideal).
    pub mmd_unbiased_excess: Option<f64>,
    /// Per cell type, by name (with a label key).
    pub per_type: BTreeMap<String, TypeComparison>,
    /// Total variation distance between the label proportions of the real and the generated file.
    pub label_proportion_tvd: Option<f64>,
    /// The same between the real file and the reference.
    pub control_label_proportion_tvd: Option<f64>,
    /// Cells compared per side.
    pub n_cells: usize,
    /// Cells per side in the control.
    pub n_control_cells: Option<usize>,
    /// Genes shared by the files and compared.
    pub genes_used: usize,
    /// Which cells the principal components were fitted on.
    pub pca_fitted_on: String,
    /// How many cells they were fitted on.
    pub pca_fit_cells: usize,
    /// Number of principal components.
    pub pca_components: usize,
    /// Fraction of the fitted cells' variance the components explain.
    pub pca_explained_variance: f64,
    /// Median distance among the real compared cells, the MMD bandwidth unit.
    pub median_distance: f64,
    /// The real, generated and reference files (`display_path`).
    pub files: Files,
    /// Anything that makes a figure less meaningful than usual.
    pub warnings: Vec<String>,
    /// Wall-clock time of the evaluation.
    pub seconds: f64,
    /// The settings used.
    pub params: EvaluateParams,
}

/// The files compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Files {
    /// Held-out real cells.
    pub real: String,
    /// Generated cells.
    pub generated: String,
    /// Reference (training) cells of the control.
    pub reference: Option<String>,
}

/// Compares `real` (held-out) cells with `generated` cells, and with `reference` cells as the control.
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for out-of-range settings; [`crate::Error::InvalidData`], naming the file
/// and field, when the files share no gene, a file has fewer than 10 cells, values are negative or not finite,
/// or the label key is missing from the real or reference file. (A generated file without the label column,
/// as an unconditional scGAN makes, only skips the per-type figures, with a warning.)
pub fn evaluate(
    real: &CountMatrix,
    generated: &CountMatrix,
    reference: Option<&CountMatrix>,
    params: &EvaluateParams,
) -> Result<Evaluation> {
    evaluate_detailed(real, generated, reference, params).map(|(evaluation, _)| evaluation)
}
