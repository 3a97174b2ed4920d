//! The one data object that flows through scgan: a count matrix with its cell and gene annotations.
//!
//! [`CountMatrix`] mirrors AnnData: `x` is `(n_cells, n_genes)` in [`CsrMatrix`] form, `obs` annotates cells,
//! `var` annotates genes and `uns` holds unstructured metadata (parameters of the steps applied, scgan's
//! version). Readers return one, every preprocessing step takes one and returns one, and generated cells are
//! one too, so evaluation treats real and generated cells alike.

mod csr;
mod frame;

pub use csr::CsrMatrix;
pub use frame::{Column, Frame};

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// A `(n_cells, n_genes)` matrix of counts (or other values) with cell and gene annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct CountMatrix {
    /// The values, cells in rows, genes in columns.
    pub x: CsrMatrix,
    /// One row per cell; its index holds the cell names (`obs_names`).
    pub obs: Frame,
    /// One row per gene; its index holds the gene names (`var_names`).
    pub var: Frame,
    /// Additional matrices of the same shape, e.g. `normalized` (AnnData's `layers`).
    pub layers: BTreeMap<String, CsrMatrix>,
    /// Unstructured metadata, written as nested groups under `uns` in h5ad.
    pub uns: serde_json::Map<String, serde_json::Value>,
    /// The file this matrix was read from, for messages.
    pub source: Option<PathBuf>,
}

impl CountMatrix {
    /// Assembles a matrix, checking that the annotations match its shape.
    pub fn new(x: CsrMatrix, obs: Frame, var: Frame) -> Result<Self> {
        let what = "count matrix";
        if obs.len() != x.n_rows() {
            return Err(Error::invalid_data(
                what,
                "obs",
                format!("has {} cell names but X has {} rows", obs.len(), x.n_rows()),
            ));
        }
        if var.len() != x.n_cols() {
            return Err(Error::invalid_data(
                what,
                "var",
                format!("has {} gene names but X has {} columns", var.len(), x.n_cols()),
            ));
        }
        Ok(CountMatrix { x, obs, var, layers: BTreeMap::new(), uns: Default::default(), source: None })
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.x.n_rows()
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.x.n_cols()
    }

    /// Cell names.
    pub fn obs_names(&self) -> &[String] {
        self.obs.index()
    }

    /// Gene names.
    pub fn var_names(&self) -> &[String] {
        self.var.index()
    }

    /// A name for this data set in messages: its file, or "data" when it has none.
    pub fn display_path(&self) -> PathBuf {
        self.source.clone().unwrap_or_else(|| PathBuf::from("data"))
    }

    /// Keeps the cells where `keep` is true (matrix, layers and `obs`), in place.
    pub fn retain_cells(&mut self, keep: &[bool]) {
        let kept = self.x.retain_rows(keep);
        for layer in self.layers.values_mut() {
            layer.retain_rows(keep);
        }
        self.obs = self.obs.select(&kept);
    }

    /// Keeps the genes where `keep` is true (matrix, layers and `var`), in place.
    pub fn retain_genes(&mut self, keep: &[bool]) {
        let kept = self.x.retain_cols(keep);
        for layer in self.layers.values_mut() {
            layer.retain_cols(keep);
        }
        self.var = self.var.select(&kept);
    }

    /// A new matrix of the given cells, in that order.
    pub fn select_cells(&self, rows: &[usize]) -> CountMatrix {
        CountMatrix {
            x: self.x.select_rows(rows),
            obs: self.obs.select(rows),
            var: self.var.clone(),
            layers: self.layers.iter().map(|(k, m)| (k.clone(), m.select_rows(rows))).collect(),
            uns: self.uns.clone(),
            source: self.source.clone(),
        }
    }

    /// The labels in `obs[key]` as text, or an error listing the columns that exist.
    pub fn labels(&self, key: &str) -> Result<Vec<Option<String>>> {
        match self.obs.get(key) {
            Some(column) => Ok(column.to_labels()),
            None => Err(Error::invalid_data(
                self.display_path(),
                format!("obs['{key}']"),
                format!(
                    "no such label column; the obs columns are: {}",
                    if self.obs.columns().is_empty() {
                        "(none)".to_string()
                    } else {
                        self.obs.column_names().join(", ")
                    }
                ),
            )),
        }
    }
}
