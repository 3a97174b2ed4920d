//! The paper's preprocessing, as one pipeline of named steps.
//!
//! [`preprocess`] takes raw counts and applies, in order (each step a field of [`PreprocessParams`], defaults
//! from the paper):
//! 1. value checks: NaN, infinite or negative values are errors; non-integers a warning (an error with
//!    `require_counts`);
//! 2. labels: the user's `obs[label_key]`; cells without a label are dropped, with a warning;
//! 3. [`filter::filter_cells`] (fewer than 10 expressed genes) then [`filter::filter_genes`] (fewer than 3 cells);
//! 4. when there are no labels and clustering is on, [`crate::cluster`] labels the cells (`obs['cluster']`);
//! 5. optionally the `n_top_genes` most variable genes ([`hvg`], Seurat v3 on counts);
//! 6. library sizes: `obs['library_size']` (total counts) and `obs['n_genes']`; the normalised matrix (every
//!    cell scaled to `target_sum` = 20,000, no log) is derived from them by [`normalize_total`] when needed;
//! 7. optionally a stratified [`split`] into `obs['split']`.
//!
//! `X` stays the raw counts: training densifies one minibatch at a time and scales it on the fly, and generation
//! needs the real library sizes. Parameters and the step counts are recorded in `uns['scgan']`.

pub mod filter;
pub mod hvg;
pub mod split;
pub mod summary;

use std::fmt;

pub use split::SplitParams;
pub use summary::Summary;

use crate::cluster::{cluster_cells, ClusterParams};
use crate::data::{Column, CountMatrix, CsrMatrix};
use crate::error::{Error, Result};

/// The library size every cell is scaled to (the paper's 20,000).
pub const TARGET_SUM: f64 = 20_000.0;

/// Settings of [`preprocess`]; the defaults are the paper's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PreprocessParams {
    /// Remove cells with fewer expressed genes than this (paper: 10).
    pub min_genes: usize,
    /// Remove genes expressed in fewer cells than this (paper: 3).
    pub min_cells: usize,
    /// Library size of the normalised data (paper: 20,000).
    pub target_sum: f64,
    /// Keep only this many highly variable genes (Seurat v3); `None` keeps all, as the paper does.
    pub n_top_genes: Option<usize>,
    /// The obs column with the cell types; `None` means cluster (when `cluster` is set) or no labels.
    pub label_key: Option<String>,
    /// Clustering used when there is no `label_key` (paper: Louvain at resolution 0.15; here Leiden).
    pub cluster: Option<ClusterParams>,
    /// Stratified split into train / validation / test.
    pub split: Option<SplitParams>,
    /// Refuse non-integer values instead of warning.
    pub require_counts: bool,
}

impl Default for PreprocessParams {
    fn default() -> Self {
        PreprocessParams {
            min_genes: 10,
            min_cells: 3,
            target_sum: TARGET_SUM,
            n_top_genes: None,
            label_key: None,
            cluster: Some(ClusterParams::default()),
            split: None,
            require_counts: false,
        }
    }
}

/// What [`preprocess`] did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct PreprocessReport {
    /// Shape of the input.
    pub input_shape: (usize, usize),
    /// Cells dropped because their label was missing.
    pub unlabeled_cells_removed: usize,
    /// Cells removed by the minimum-genes filter.
    pub cells_removed: usize,
    /// Genes removed by the minimum-cells filter.
    pub genes_removed: usize,
    /// Genes removed by the highly-variable-gene selection.
    pub genes_not_variable: usize,
    /// Cells removed because they had no counts left after gene selection.
    pub empty_cells_removed: usize,
    /// Stored values that were not whole numbers.
    pub non_integer_values: usize,
    /// The obs column holding the labels, if any.
    pub label_key: Option<String>,
    /// Number of clusters found, when clustering made the labels.
    pub n_clusters: Option<usize>,
    /// Cells in train, validation and test, when split.
    pub split: Option<[usize; 3]>,
    /// Shape of the output.
    pub output_shape: (usize, usize),
}

impl fmt::Display for PreprocessReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "input: {} cells x {} genes", self.input_shape.0, self.input_shape.1)?;
        if self.unlabeled_cells_removed > 0 {
            writeln!(f, "removed {} cells without a label", self.unlabeled_cells_removed)?;
        }
        writeln!(f, "removed {} cells (min genes) and {} genes (min cells)", self.cells_removed, self.genes_removed)?;
        if self.genes_not_variable > 0 {
            writeln!(f, "kept the most variable genes, removing {}", self.genes_not_variable)?;
        }
        if self.empty_cells_removed > 0 {
            writeln!(f, "removed {} cells left without counts", self.empty_cells_removed)?;
        }
        if let Some(n) = self.n_clusters {
            writeln!(f, "clustered the cells into {n} clusters (obs['cluster'])")?;
        }
        if let Some([train, validation, test]) = self.split {
            writeln!(f, "split: {train} train, {validation} validation, {test} test (obs['split'])")?;
        }
        write!(f, "output: {} cells x {} genes", self.output_shape.0, self.output_shape.1)
    }
}

/// `x` as text, in exponent notation when its digits would fill a line (`1e300`).
pub(crate) fn short_number(x: f64) -> String {
    if x.abs() < 1e15 {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// Runs the preprocessing pipeline (see the module docs) on raw counts.
pub fn preprocess(mut matrix: CountMatrix, params: &PreprocessParams) -> Result<(CountMatrix, PreprocessReport)> {
    let mut report = PreprocessReport { input_shape: (matrix.n_cells(), matrix.n_genes()), ..Default::default() };
    // The normalised values and the model's library size are 32-bit floats: a larger target would make them
    // infinite.
    if !(params.target_sum > 0.0 && params.target_sum <= f32::MAX as f64) {
        return Err(Error::parameter(
            "--target-sum",
            format!(
                "{} is not a positive number up to {:e} (the largest 32-bit float)",
                short_number(params.target_sum),
                f32::MAX
            ),
        ));
    }
    if params.n_top_genes == Some(0) {
        return Err(Error::parameter("--hvg", "must be at least 1"));
    }
    filter::ensure_not_empty(&matrix, "X")?;
    let values = filter::check_values(&matrix)?;
    report.non_integer_values = values.non_integer;
    if values.non_integer > 0 {
        let message = format!(
            "{} values are not whole numbers; scgan expects raw counts (use --layer counts if the file keeps them \
             in a layer)",
            values.non_integer
        );
        if params.require_counts {
            return Err(Error::invalid_data(matrix.display_path(), "X", message));
        }
        eprintln!("warning: {}: X: {message}", matrix.display_path().display());
    }

    if let Some(key) = &params.label_key {
        let labels = matrix.labels(key)?;
        // Every distinct value becomes a cell type: a column of per-cell numbers (a score, a library size) given
        // by mistake would make as many types as cells, each too small to learn, with no error to say so.
        let distinct = labels.iter().flatten().collect::<std::collections::HashSet<_>>().len();
        if distinct > 10 && 2 * distinct > matrix.n_cells() {
            eprintln!(
                "warning: {}: obs['{key}']: {distinct} distinct values for {} cells, each of which becomes a cell \
                 type: is this the column of cell types?",
                matrix.display_path().display(),
                matrix.n_cells()
            );
        }
        let keep: Vec<bool> = labels.iter().map(|l| l.as_deref().is_some_and(|l| !l.is_empty())).collect();
        report.unlabeled_cells_removed = keep.iter().filter(|&&k| !k).count();
        if report.unlabeled_cells_removed > 0 {
            eprintln!(
                "warning: {}: obs['{key}']: {} cells have no label and are removed",
                matrix.display_path().display(),
                report.unlabeled_cells_removed
            );
            matrix.retain_cells(&keep);
        }
        report.label_key = Some(key.clone());
    }

    report.cells_removed = filter::filter_cells(&mut matrix, params.min_genes);
    filter::ensure_not_empty(&matrix, &format!("filter_cells(min_genes={})", params.min_genes))?;
    report.genes_removed = filter::filter_genes(&mut matrix, params.min_cells);
    filter::ensure_not_empty(&matrix, &format!("filter_genes(min_cells={})", params.min_cells))?;

    if report.label_key.is_none() {
        if let Some(cluster_params) = &params.cluster {
            let clustering = cluster_cells(&matrix.x, cluster_params).map_err(|e| e.in_file(&matrix.display_path()))?;
            let names: Vec<String> = clustering.labels.iter().map(|l| l.to_string()).collect();
            let categories: Vec<String> = (0..clustering.n_clusters).map(|c| c.to_string()).collect();
            let codes = names.iter().map(|n| n.parse::<i32>().unwrap_or(-1)).collect();
            matrix.obs.insert("cluster", Column::Categorical { codes, categories, ordered: false });
            report.n_clusters = Some(clustering.n_clusters);
            report.label_key = Some("cluster".to_string());
        }
    }

    if let Some(n_top) = params.n_top_genes {
        if n_top < matrix.n_genes() {
            report.genes_not_variable = hvg::select_highly_variable(&mut matrix, n_top);
            let keep: Vec<bool> = matrix.x.row_sums().iter().map(|&s| s > 0.0).collect();
            report.empty_cells_removed = keep.iter().filter(|&&k| !k).count();
            if report.empty_cells_removed > 0 {
                matrix.retain_cells(&keep);
                filter::ensure_not_empty(&matrix, "highly variable genes")?;
            }
        }
    }

    let library_sizes = matrix.x.row_sums();
    matrix.obs.insert("library_size", Column::Float(library_sizes));
    let genes_per_cell = matrix.x.row_positive_counts().iter().map(|&n| n as i64).collect();
    matrix.obs.insert("n_genes", Column::Int(genes_per_cell));
    let cells_per_gene = matrix.x.col_positive_counts().iter().map(|&n| n as i64).collect();
    matrix.var.insert("n_cells", Column::Int(cells_per_gene));

    if let Some(split_params) = &params.split {
        let key = report.label_key.clone();
        let labels: Vec<String> = match &key {
            Some(key) => matrix.labels(key)?.into_iter().map(|l| l.unwrap_or_default()).collect(),
            None => vec![String::new(); matrix.n_cells()],
        };
        report.split = Some(split::split(&mut matrix, &labels, key.as_deref().unwrap_or("(all cells)"), split_params)?);
    }

    report.output_shape = (matrix.n_cells(), matrix.n_genes());
    record_in_uns(&mut matrix, params, &report);
    Ok((matrix, report))
}

/// The matrix with every row scaled to `target_sum` (library-size normalisation, no log), using the library
/// sizes in `obs['library_size']` when present (they are the raw totals) and the row sums otherwise.
pub fn normalize_total(matrix: &CountMatrix, target_sum: f64) -> CsrMatrix {
    let library_sizes = match matrix.obs.get("library_size") {
        Some(Column::Float(sizes)) => sizes.clone(),
        _ => matrix.x.row_sums(),
    };
    let factors: Vec<f32> =
        library_sizes.iter().map(|&s| if s > 0.0 { (target_sum / s) as f32 } else { 0.0 }).collect();
    let mut normalized = matrix.x.clone();
    normalized.scale_rows(&factors);
    normalized
}

/// Whether `matrix` was written by `scgan preprocess` (so that training does not process it twice).
pub fn is_preprocessed(matrix: &CountMatrix) -> bool {
    matrix.uns.get("scgan").and_then(|s| s.get("preprocess")).is_some()
}

fn record_in_uns(matrix: &mut CountMatrix, params: &PreprocessParams, report: &PreprocessReport) {
    let cluster = params.cluster.as_ref().filter(|_| report.n_clusters.is_some()).map(|c| {
        serde_json::json!({"method": "leiden", "resolution": c.resolution, "n_top_genes": c.n_top_genes,
                           "n_pcs": c.n_pcs, "n_neighbors": c.n_neighbors, "seed": c.seed})
    });
    let split = params.split.map(|s| serde_json::json!({"validation": s.validation, "test": s.test, "seed": s.seed}));
    let entry = matrix.uns.entry("scgan").or_insert_with(|| serde_json::json!({}));
    if let serde_json::Value::Object(scgan) = entry {
        scgan.insert("version".into(), crate::VERSION.into());
        scgan.insert(
            "preprocess".into(),
            serde_json::json!({
                "min_genes": params.min_genes,
                "min_cells": params.min_cells,
                "target_sum": params.target_sum,
                "n_top_genes": params.n_top_genes,
                "label_key": report.label_key,
                "cluster": cluster,
                "split": split,
                "input_shape": [report.input_shape.0, report.input_shape.1],
                "cells_removed": report.cells_removed,
                "genes_removed": report.genes_removed,
            }),
        );
    }
}
