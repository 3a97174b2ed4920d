//! Checking count values and removing uninformative cells and genes.
//!
//! The paper removes cells with fewer than 10 expressed genes and genes expressed in fewer than 3 cells, in that
//! order (scanpy's `filter_cells(min_genes=10)` then `filter_genes(min_cells=3)`). Both work in place on the
//! CSR matrix, so filtering never copies the data.

use crate::data::CountMatrix;
use crate::error::{Error, Result};

/// What [`check_values`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValueCheck {
    /// Number of stored values that are not whole numbers.
    pub non_integer: usize,
    /// The largest value.
    pub max: f32,
}

/// Refuses NaN, infinite and negative values, naming the first one's cell and gene; counts non-integers.
pub fn check_values(matrix: &CountMatrix) -> Result<ValueCheck> {
    let x = &matrix.x;
    let mut check = ValueCheck::default();
    for i in 0..x.n_rows() {
        let (cols, values) = x.row(i);
        for (&j, &v) in cols.iter().zip(values) {
            if !v.is_finite() || v < 0.0 {
                let kind = if v.is_nan() { "NaN" } else if v.is_infinite() { "infinite" } else { "negative" };
                return Err(Error::invalid_data(
                    matrix.display_path(),
                    format!("X[{i}, {j}] (cell '{}', gene '{}')", matrix.obs_names()[i], matrix.var_names()[j as usize]),
                    format!("{kind} value {v}; expected non-negative counts"),
                ));
            }
            if v.fract() != 0.0 {
                check.non_integer += 1;
            }
            check.max = check.max.max(v);
        }
    }
    Ok(check)
}

/// Removes cells with fewer than `min_genes` expressed genes; returns how many were removed.
pub fn filter_cells(matrix: &mut CountMatrix, min_genes: usize) -> usize {
    let keep: Vec<bool> = matrix.x.row_positive_counts().iter().map(|&n| n as usize >= min_genes).collect();
    let removed = keep.iter().filter(|&&k| !k).count();
    if removed > 0 {
        matrix.retain_cells(&keep);
    }
    removed
}

/// Removes genes expressed in fewer than `min_cells` cells; returns how many were removed.
pub fn filter_genes(matrix: &mut CountMatrix, min_cells: usize) -> usize {
    let keep: Vec<bool> = matrix.x.col_positive_counts().iter().map(|&n| n as usize >= min_cells).collect();
    let removed = keep.iter().filter(|&&k| !k).count();
    if removed > 0 {
        matrix.retain_genes(&keep);
    }
    removed
}

/// Fails with a message naming the step when no cells or no genes are left.
pub fn ensure_not_empty(matrix: &CountMatrix, step: &str) -> Result<()> {
    if matrix.n_cells() == 0 || matrix.n_genes() == 0 {
        return Err(Error::invalid_data(
            matrix.display_path(),
            step,
            format!(
                "{} cells x {} genes are left; at least one of each is needed (lower the threshold or check the input)",
                matrix.n_cells(),
                matrix.n_genes()
            ),
        ));
    }
    Ok(())
}
