//! Making the two sides comparable: matched genes, equal-sized seeded samples, log-normalisation, and the
//! principal components the classifiers and the MMD work on.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{CountMatrix, CsrMatrix};
use crate::error::{Error, Result};
use crate::pca::{log_normalize, Pca, PcaParams, PcaSolver};

/// The library size every cell is scaled to before `log1p` (EVALUATION.md).
pub const TARGET_SUM: f64 = 20_000.0;

/// Fewest held-apart cells the principal components are fitted on before falling back to other cells.
pub const MIN_PCA_FIT_CELLS: usize = 100;

/// Most cells the principal components are fitted on (a random subset beyond that; the components of 20,000
/// cells are as good as those of more, and the fit stays a few seconds).
pub const MAX_PCA_FIT_CELLS: usize = 20_000;

/// The genes present in every data set, in the real data's order, and their column in each.
#[derive(Debug, Clone)]
pub struct GeneMatch {
    /// Gene names.
    pub names: Vec<String>,
    /// Column of every gene in the real data.
    pub real: Vec<usize>,
    /// Column of every gene in the generated data.
    pub generated: Vec<usize>,
    /// Column of every gene in the reference, if any.
    pub reference: Option<Vec<usize>>,
}

/// Matches genes by name. Errors when no gene is shared.
pub fn match_genes(real: &CountMatrix, generated: &CountMatrix, reference: Option<&CountMatrix>) -> Result<GeneMatch> {
    fn position(m: &CountMatrix) -> HashMap<&str, usize> {
        m.var_names().iter().enumerate().rev().map(|(j, name)| (name.as_str(), j)).collect()
    }
    let generated_position = position(generated);
    let reference_position = reference.map(position);
    let mut matched = GeneMatch { names: Vec::new(), real: Vec::new(), generated: Vec::new(), reference: None };
    let mut reference_columns = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (j, name) in real.var_names().iter().enumerate() {
        let Some(&g) = generated_position.get(name.as_str()) else {
            continue;
        };
        let r = match &reference_position {
            Some(p) => match p.get(name.as_str()) {
                Some(&r) => Some(r),
                None => continue,
            },
            None => None,
        };
        if !seen.insert(name.as_str()) {
            continue;
        }
        matched.names.push(name.clone());
        matched.real.push(j);
        matched.generated.push(g);
        reference_columns.extend(r);
    }
    if reference.is_some() {
        matched.reference = Some(reference_columns);
    }
    if matched.names.is_empty() {
        let mut message = format!(
            "no gene name in common with {} ({} genes, e.g. {})",
            generated.display_path().display(),
            generated.n_genes(),
            generated.var_names().iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
        if let Some(reference) = reference {
            message.push_str(&format!(" and {}", reference.display_path().display()));
        }
        message.push_str(&format!(
            "; this file's genes are e.g. {} (compare files of the same genes, named alike)",
            real.var_names().iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
        return Err(Error::invalid_data(real.display_path(), "var_names", message));
    }
    // Principal components need two genes.
    if matched.names.len() < 2 {
        let others = match reference {
            Some(reference) => {
                format!("{} and {}", generated.display_path().display(), reference.display_path().display())
            }
            None => generated.display_path().display().to_string(),
        };
        return Err(Error::invalid_data(
            real.display_path(),
            "var_names",
            format!(
                "only gene '{}' is in common with {others}; an evaluation needs at least 2 genes in common",
                matched.names[0]
            ),
        ));
    }
    Ok(matched)
}

/// A seeded random order of `0..n`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

/// The rows `rows` (in that order) and columns `columns` (in that order) of `x`.
pub fn select(x: &CsrMatrix, rows: &[usize], columns: &[usize]) -> Result<CsrMatrix> {
    let mut new_column = vec![u32::MAX; x.n_cols()];
    columns.iter().enumerate().for_each(|(k, &j)| new_column[j] = k as u32);
    let mut indptr = Vec::with_capacity(rows.len() + 1);
    indptr.push(0u64);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    let mut pairs: Vec<(u32, f32)> = Vec::new();
    for &i in rows {
        let (cols, values) = x.row(i);
        pairs.clear();
        pairs.extend(
            cols.iter()
                .zip(values)
                .filter(|(&j, _)| new_column[j as usize] != u32::MAX)
                .map(|(&j, &v)| (new_column[j as usize], v)),
        );
        pairs.sort_unstable_by_key(|p| p.0);
        indices.extend(pairs.iter().map(|p| p.0));
        data.extend(pairs.iter().map(|p| p.1));
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new(rows.len(), columns.len(), indptr, indices, data, "cells compared")
}

/// One side of a comparison: its cells' counts, log-normalised values, principal-component scores and labels.
#[derive(Debug, Clone)]
pub struct Side {
    /// Raw values of the matched genes, `(n_cells, n_genes)`.
    pub counts: CsrMatrix,
    /// `log1p` of the values scaled to [`TARGET_SUM`] per cell.
    pub lognorm: CsrMatrix,
    /// Principal-component scores, row-major `(n_cells, dim)`.
    pub pcs: Vec<f64>,
    /// Label of every cell, when a label key was given and the file has it.
    pub labels: Option<Vec<Option<String>>>,
}

impl Side {
    /// The sampled `rows` of `matrix`, over the matched `columns`, not yet projected.
    pub fn new(
        matrix: &CountMatrix,
        rows: &[usize],
        columns: &[usize],
        labels: Option<&[Option<String>]>,
    ) -> Result<Side> {
        let counts = select(&matrix.x, rows, columns)?;
        if let Some(pos) = counts.data().iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::invalid_data(
                matrix.display_path(),
                "X",
                format!(
                    "stored value {pos} of the cells compared is {}: expected non-negative counts",
                    counts.data()[pos]
                ),
            ));
        }
        let lognorm = log_normalize(&counts, TARGET_SUM);
        let labels = labels.map(|l| rows.iter().map(|&i| l[i].clone()).collect());
        Ok(Side { counts, lognorm, pcs: Vec::new(), labels })
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.counts.n_rows()
    }

    /// The first `n` cells.
    pub fn head(&self, n: usize) -> Side {
        let rows: Vec<usize> = (0..n.min(self.n_cells())).collect();
        let dim = if self.n_cells() > 0 { self.pcs.len() / self.n_cells() } else { 0 };
        Side {
            counts: self.counts.select_rows(&rows),
            lognorm: self.lognorm.select_rows(&rows),
            pcs: self.pcs[..rows.len() * dim].to_vec(),
            labels: self.labels.as_ref().map(|l| l[..rows.len()].to_vec()),
        }
    }
}

/// Scores of `pca` for the log-normalised cells `x`, row-major.
pub fn project(pca: &Pca, x: &CsrMatrix) -> Vec<f64> {
    let scores = pca.transform(x);
    let (n, k) = (scores.nrows(), scores.ncols());
    (0..n * k).map(|idx| scores[(idx / k, idx % k)]).collect()
}

/// Fits `n_components` principal components on log-normalised `x`: exact (covariance) for up to 4,000 genes,
/// randomized beyond.
pub fn fit_pca(x: &CsrMatrix, n_components: usize, seed: u64) -> Result<Pca> {
    let params = PcaParams {
        n_components,
        seed,
        solver: if x.n_cols() <= 4000 { PcaSolver::Covariance } else { PcaSolver::Randomized },
        ..Default::default()
    };
    Pca::fit(x, &params)
}

/// Rows of the row-major `pcs` (`dim` columns) at `rows`.
pub fn pcs_rows(pcs: &[f64], dim: usize, rows: &[usize]) -> Vec<f64> {
    rows.iter().flat_map(|&i| pcs[i * dim..(i + 1) * dim].iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Frame;

    fn named(genes: &[&str], values: &[f32]) -> CountMatrix {
        let n_genes = genes.len();
        let x = crate::data::CsrMatrix::from_dense(values, n_genes);
        let obs = Frame::new((0..x.n_rows()).map(|i| format!("c{i}")).collect());
        CountMatrix::new(x, obs, Frame::new(genes.iter().map(|g| g.to_string()).collect())).unwrap()
    }

    #[test]
    fn genes_match_by_name_in_real_order() {
        let real = named(&["A", "B", "C", "D"], &[1.0, 2.0, 3.0, 4.0]);
        let generated = named(&["D", "X", "B", "A"], &[40.0, 9.0, 20.0, 10.0]);
        let matched = match_genes(&real, &generated, None).unwrap();
        assert_eq!(matched.names, vec!["A", "B", "D"]);
        assert_eq!(matched.generated, vec![3, 2, 0]);
        let x = select(&generated.x, &[0], &matched.generated).unwrap();
        assert_eq!((x.get(0, 0), x.get(0, 1), x.get(0, 2)), (10.0, 20.0, 40.0));
        let none = named(&["Q"], &[1.0]);
        let message = match_genes(&real, &none, None).unwrap_err().to_string();
        assert!(message.contains("var_names") && message.contains("no gene name in common"), "{message}");
    }
}
