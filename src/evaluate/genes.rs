//! Gene-level and cell-level agreement between two sets of cells over the same genes.
//!
//! ## Gene means, variances and co-expression (log-normalised values)
//! For every gene `g`, its mean `m_g` and variance `v_g` (`n - 1` denominator) over the cells of each side.
//! The agreement across genes is the Spearman and the Pearson correlation of the two sides' `m` (and `v`):
//! 1 when the generator reproduces every gene's level. Co-expression: on the `n_hvg` genes of largest real
//! variance, the gene-gene Pearson correlation matrix `C = Z^T Z`, where `Z` `(n_cells, n_hvg)` holds each
//! gene's values centred and divided by `sqrt(sum of squares)`. A gene that is constant on one side has no
//! correlation there and is given 0. The figure is the Pearson correlation, over the `n_hvg (n_hvg - 1) / 2`
//! pairs `i < j`, of the real and the generated `C_ij`.
//!
//! ## Cell and gene statistics (raw counts)
//! Two-sample Kolmogorov-Smirnov statistics ([`super::stats::ks_statistic`]) of four distributions: library
//! size (sum of the cell's counts over the compared genes), fraction of the genes that are zero in the cell,
//! number of genes detected (> 0) in the cell, and, per gene, the fraction of cells where it is zero. With the
//! same genes on both sides, the fraction of zeros per cell is `1 - detected / n_genes`, so its statistic
//! equals that of genes detected; both are reported because both are customary.

use faer::Mat;

use super::stats::{ks_statistic, pearson, spearman};
use crate::data::CsrMatrix;

/// Agreement of gene means, variances and co-expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneAgreement {
    /// Spearman correlation of gene means.
    pub scc_mean: f64,
    /// Pearson correlation of gene means.
    pub pcc_mean: f64,
    /// Spearman correlation of gene variances.
    pub scc_variance: f64,
    /// Pearson correlation of gene variances.
    pub pcc_variance: f64,
    /// Pearson correlation of the upper triangles of the gene-gene correlation matrices.
    pub correlation_agreement: f64,
}

/// Kolmogorov-Smirnov statistics of cell and gene statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellStatistics {
    /// Library size.
    pub ks_library_size: f64,
    /// Fraction of zeros per cell.
    pub ks_zeros_per_cell: f64,
    /// Genes detected per cell.
    pub ks_genes_per_cell: f64,
    /// Fraction of zeros per gene.
    pub ks_zeros_per_gene: f64,
}

/// Mean and variance (`n - 1` denominator) of every column.
pub fn column_mean_variance(x: &CsrMatrix) -> (Vec<f64>, Vec<f64>) {
    let n = x.n_rows() as f64;
    let (sums, squares) = x.col_sums_and_squares();
    let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let variances = sums.iter().zip(&squares).map(|(s, q)| ((q - s * s / n) / (n - 1.0).max(1.0)).max(0.0)).collect();
    (means, variances)
}

/// `(n_rows, genes.len())` matrix of the columns `genes`, each centred and scaled to unit sum of squares
/// (a constant column stays zero).
fn standardized_columns(x: &CsrMatrix, genes: &[usize]) -> Mat<f64> {
    let mut position = vec![usize::MAX; x.n_cols()];
    genes.iter().enumerate().for_each(|(k, &g)| position[g] = k);
    let mut z = Mat::<f64>::zeros(x.n_rows(), genes.len());
    for i in 0..x.n_rows() {
        let (cols, values) = x.row(i);
        for (&j, &v) in cols.iter().zip(values) {
            if position[j as usize] != usize::MAX {
                z[(i, position[j as usize])] = v as f64;
            }
        }
    }
    for c in 0..genes.len() {
        let n = x.n_rows() as f64;
        let mean = (0..x.n_rows()).map(|i| z[(i, c)]).sum::<f64>() / n;
        let norm = (0..x.n_rows()).map(|i| (z[(i, c)] - mean).powi(2)).sum::<f64>().sqrt();
        for i in 0..x.n_rows() {
            z[(i, c)] = if norm > 0.0 { (z[(i, c)] - mean) / norm } else { 0.0 };
        }
    }
    z
}

/// The upper triangle (`i < j`, row by row) of the gene-gene correlation matrix of the columns `genes`.
fn correlation_upper_triangle(x: &CsrMatrix, genes: &[usize]) -> Vec<f64> {
    let z = standardized_columns(x, genes);
    let c = z.transpose() * &z;
    let g = genes.len();
    let mut upper = Vec::with_capacity(g * g.saturating_sub(1) / 2);
    for i in 0..g {
        for j in i + 1..g {
            upper.push(c[(i, j)]);
        }
    }
    upper
}

/// Agreement of `other` with `real` (log-normalised values, same genes in the same order); co-expression on
/// the `n_hvg` genes of largest variance in `real`.
///
/// # Panics
/// If the matrices have different numbers of genes.
pub fn gene_agreement(real: &CsrMatrix, other: &CsrMatrix, n_hvg: usize) -> GeneAgreement {
    assert_eq!(real.n_cols(), other.n_cols(), "the same genes on both sides");
    let (real_means, real_variances) = column_mean_variance(real);
    let (other_means, other_variances) = column_mean_variance(other);
    let mut by_variance: Vec<usize> = (0..real.n_cols()).collect();
    by_variance.sort_by(|&a, &b| real_variances[b].total_cmp(&real_variances[a]).then(a.cmp(&b)));
    by_variance.truncate(n_hvg.min(real.n_cols()));
    by_variance.sort_unstable();
    let correlation_agreement = if by_variance.len() >= 3 {
        pearson(&correlation_upper_triangle(real, &by_variance), &correlation_upper_triangle(other, &by_variance))
    } else {
        f64::NAN
    };
    GeneAgreement {
        scc_mean: spearman(&real_means, &other_means),
        pcc_mean: pearson(&real_means, &other_means),
        scc_variance: spearman(&real_variances, &other_variances),
        pcc_variance: pearson(&real_variances, &other_variances),
        correlation_agreement,
    }
}

/// Kolmogorov-Smirnov statistics of library size, zeros and detected genes per cell, and zeros per gene,
/// between two count matrices over the same genes.
///
/// # Panics
/// If the matrices have different numbers of genes.
pub fn cell_statistics(real: &CsrMatrix, other: &CsrMatrix) -> CellStatistics {
    assert_eq!(real.n_cols(), other.n_cols(), "the same genes on both sides");
    let n_genes = real.n_cols().max(1) as f64;
    let per_cell = |x: &CsrMatrix| {
        let detected: Vec<f64> = x.row_positive_counts().iter().map(|&c| c as f64).collect();
        let zeros: Vec<f64> = detected.iter().map(|d| 1.0 - d / n_genes).collect();
        (x.row_sums(), detected, zeros)
    };
    let zeros_per_gene = |x: &CsrMatrix| -> Vec<f64> {
        let n = x.n_rows().max(1) as f64;
        x.col_positive_counts().iter().map(|&c| 1.0 - c as f64 / n).collect()
    };
    let (real_sizes, real_detected, real_zeros) = per_cell(real);
    let (other_sizes, other_detected, other_zeros) = per_cell(other);
    CellStatistics {
        ks_library_size: ks_statistic(&real_sizes, &other_sizes),
        ks_zeros_per_cell: ks_statistic(&real_zeros, &other_zeros),
        ks_genes_per_cell: ks_statistic(&real_detected, &other_detected),
        ks_zeros_per_gene: ks_statistic(&zeros_per_gene(real), &zeros_per_gene(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[f32]]) -> CsrMatrix {
        let n_cols = rows[0].len();
        let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        crate::data::CsrMatrix::from_dense(&values, n_cols)
    }

    #[test]
    fn correlation_matrix_matches_a_direct_computation() {
        let x = matrix(&[&[1.0, 0.0, 2.0, 5.0], &[2.0, 1.0, 0.0, 5.0], &[3.0, 0.0, 1.0, 5.0], &[4.0, 3.0, 0.0, 5.0]]);
        let upper = correlation_upper_triangle(&x, &[0, 1, 2, 3]);
        let column = |j: usize| (0..4).map(|i| x.get(i, j) as f64).collect::<Vec<f64>>();
        assert!((upper[0] - pearson(&column(0), &column(1))).abs() < 1e-12);
        assert!((upper[1] - pearson(&column(0), &column(2))).abs() < 1e-12);
        assert!((upper[3] - pearson(&column(1), &column(2))).abs() < 1e-12);
        assert_eq!(upper[2], 0.0, "a constant gene correlates 0");
        let same = gene_agreement(&x, &x, 3);
        assert!((same.scc_mean - 1.0).abs() < 1e-12 && (same.correlation_agreement - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cell_statistics_of_identical_and_different_sets() {
        let a = matrix(&[&[1.0, 0.0, 2.0], &[0.0, 0.0, 3.0]]);
        let same = cell_statistics(&a, &a);
        assert_eq!(same.ks_library_size, 0.0);
        assert_eq!(same.ks_zeros_per_gene, 0.0);
        let b = matrix(&[&[10.0, 5.0, 2.0], &[7.0, 1.0, 3.0]]);
        let different = cell_statistics(&a, &b);
        assert_eq!(different.ks_library_size, 1.0);
        assert_eq!(different.ks_genes_per_cell, 1.0);
        assert_eq!(different.ks_zeros_per_cell, 1.0);
        // Zeros per gene: a has (0.5, 1, 0), b has (0, 0, 0): at 0 F_a = 1/3, F_b = 1 -> 2/3.
        assert!((different.ks_zeros_per_gene - 2.0 / 3.0).abs() < 1e-12);
    }
}
