//! What `scgan info` prints: shape, sparsity, library sizes, genes per cell and label counts.

use std::fmt;

use crate::data::{Column, CountMatrix};

/// Five-number summary of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Quantiles {
    /// Smallest value.
    pub min: f64,
    /// 25th percentile.
    pub q25: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub q75: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Quantiles {
    /// The summary of `values` (all zeros for an empty slice). Percentiles interpolate linearly, as numpy's do.
    pub fn of(values: &[f64]) -> Quantiles {
        if values.is_empty() {
            return Quantiles::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let position = p * (sorted.len() - 1) as f64;
            let (low, high) = (position.floor() as usize, position.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
        };
        Quantiles {
            min: sorted[0],
            q25: at(0.25),
            median: at(0.5),
            q75: at(0.75),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// An obs column: name, kind, and for categorical columns the cells per category (largest first).
pub type ObsColumnSummary = (String, String, Vec<(String, usize)>);

/// A summary of a count matrix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Number of cells.
    pub n_cells: usize,
    /// Number of genes.
    pub n_genes: usize,
    /// Stored (non-zero) values.
    pub nnz: usize,
    /// Fraction of the matrix that is non-zero.
    pub density: f64,
    /// Whether every value is a whole number (raw counts).
    pub integer_values: bool,
    /// Total counts per cell.
    pub library_size: Quantiles,
    /// Genes detected per cell.
    pub genes_per_cell: Quantiles,
    /// Every obs column.
    pub obs_columns: Vec<ObsColumnSummary>,
    /// Layers other than X.
    pub layers: Vec<String>,
}

impl Summary {
    /// Summarises `matrix`.
    pub fn of(matrix: &CountMatrix) -> Summary {
        let x = &matrix.x;
        let cells = x.n_rows().max(1) as f64;
        let obs_columns = matrix
            .obs
            .columns()
            .iter()
            .map(|(name, column)| {
                let counts = match column {
                    Column::Categorical { codes, categories, .. } => {
                        let mut counts = vec![0usize; categories.len()];
                        codes.iter().filter(|&&c| c >= 0).for_each(|&c| counts[c as usize] += 1);
                        let mut pairs: Vec<(String, usize)> = categories.iter().cloned().zip(counts).collect();
                        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                        pairs
                    }
                    _ => Vec::new(),
                };
                (name.clone(), column.kind().to_string(), counts)
            })
            .collect();
        Summary {
            n_cells: x.n_rows(),
            n_genes: x.n_cols(),
            nnz: x.nnz(),
            density: x.nnz() as f64 / (cells * x.n_cols().max(1) as f64),
            integer_values: x.data().iter().all(|v| v.fract() == 0.0),
            library_size: Quantiles::of(&x.row_sums()),
            genes_per_cell: Quantiles::of(&x.row_positive_counts().iter().map(|&n| n as f64).collect::<Vec<_>>()),
            obs_columns,
            layers: matrix.layers.keys().cloned().collect(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} cells x {} genes", self.n_cells, self.n_genes)?;
        writeln!(f, "non-zero: {} ({:.2}% dense)", self.nnz, 100.0 * self.density)?;
        writeln!(f, "values: {}", if self.integer_values { "integer counts" } else { "not all integers (normalised?)" })?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, q: &Quantiles| {
            writeln!(
                f,
                "{name:<15} min {:.0}  q25 {:.0}  median {:.0}  q75 {:.0}  max {:.0}  mean {:.1}",
                q.min, q.q25, q.median, q.q75, q.max, q.mean
            )
        };
        row(f, "library size", &self.library_size)?;
        row(f, "genes per cell", &self.genes_per_cell)?;
        if !self.layers.is_empty() {
            writeln!(f, "layers: {}", self.layers.join(", "))?;
        }
        if self.obs_columns.is_empty() {
            writeln!(f, "obs: no columns (no labels; `scgan preprocess` can cluster the cells)")?;
        }
        for (name, kind, counts) in &self.obs_columns {
            if counts.is_empty() {
                writeln!(f, "obs['{name}']: {kind}")?;
                continue;
            }
            writeln!(f, "obs['{name}']: {kind}, {} categories", counts.len())?;
            for (category, n) in counts.iter().take(30) {
                writeln!(f, "  {n:>8}  {category}")?;
            }
            if counts.len() > 30 {
                writeln!(f, "  ... and {} more", counts.len() - 30)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let q = Quantiles::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((q.min, q.q25, q.median, q.q75, q.max, q.mean), (1.0, 1.75, 2.5, 3.25, 4.0, 2.5));
    }
}
