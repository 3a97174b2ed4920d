//! Highly variable genes, Seurat v3 flavour, on raw counts.
//!
//! Follows scanpy's `highly_variable_genes(flavor="seurat_v3")` (Stuart et al. 2019): for every gene the mean
//! `m` and variance `v` of its counts are computed; a local quadratic regression (LOESS, span 0.3) of
//! `log10 v` on `log10 m` gives the variance `s^2` expected at that mean; counts are standardised as
//! `(x - m) / s`, clipped at `sqrt(n_cells)`, and the variance of the standardised values ranks the genes.
//!
//! scanpy fits the LOESS with scikit-misc's interpolating surface (a k-d tree with vertex interpolation); here
//! each fitted value is an exact local fit at its own point. No crate offers LOESS, hence the small solver
//! below. The two agree on the selected genes up to a handful at the cut-off.

use rayon::prelude::*;

use crate::data::{Column, CountMatrix};

/// Per-gene statistics of the Seurat v3 selection, in the matrix's gene order.
#[derive(Debug, Clone, PartialEq)]
pub struct HvgStats {
    /// Mean count.
    pub means: Vec<f64>,
    /// Variance of the counts (n - 1 denominator).
    pub variances: Vec<f64>,
    /// Variance of the clipped standardised counts: the ranking score.
    pub variances_norm: Vec<f64>,
    /// Rank by `variances_norm`, 0 for the most variable gene.
    pub rank: Vec<usize>,
}

/// Computes the Seurat v3 statistics of every gene.
pub fn seurat_v3(matrix: &CountMatrix, span: f64) -> HvgStats {
    let x = &matrix.x;
    let n = x.n_rows() as f64;
    let (sums, squares) = x.col_sums_and_squares();
    let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let variances: Vec<f64> = squares
        .iter()
        .zip(&means)
        .map(|(sq, m)| if n > 1.0 { ((sq - n * m * m) / (n - 1.0)).max(0.0) } else { 0.0 })
        .collect();

    let varying: Vec<usize> = (0..means.len()).filter(|&g| variances[g] > 0.0).collect();
    let log_mean: Vec<f64> = varying.iter().map(|&g| means[g].log10()).collect();
    let log_var: Vec<f64> = varying.iter().map(|&g| variances[g].log10()).collect();
    let fitted = loess_quadratic(&log_mean, &log_var, span);
    let mut expected_log_var = vec![0.0; means.len()];
    for (k, &g) in varying.iter().enumerate() {
        expected_log_var[g] = fitted[k];
    }
    let reg_std: Vec<f64> = expected_log_var.iter().map(|v| 10f64.powf(*v).sqrt()).collect();
    let clip: Vec<f64> = reg_std.iter().zip(&means).map(|(s, m)| s * n.sqrt() + m).collect();

    let mut clipped_sum = vec![0.0; means.len()];
    let mut clipped_squares = vec![0.0; means.len()];
    for (&j, &v) in x.indices().iter().zip(x.data()) {
        let j = j as usize;
        let v = (v as f64).min(clip[j]);
        clipped_sum[j] += v;
        clipped_squares[j] += v * v;
    }
    let variances_norm: Vec<f64> = (0..means.len())
        .map(|g| {
            let m = means[g];
            (n * m * m + clipped_squares[g] - 2.0 * clipped_sum[g] * m) / ((n - 1.0).max(1.0) * reg_std[g] * reg_std[g])
        })
        .collect();

    let mut order: Vec<usize> = (0..means.len()).collect();
    order.sort_by(|&a, &b| variances_norm[b].total_cmp(&variances_norm[a]).then(a.cmp(&b)));
    let mut rank = vec![0; means.len()];
    for (r, &g) in order.iter().enumerate() {
        rank[g] = r;
    }
    HvgStats { means, variances, variances_norm, rank }
}

/// Keeps the `n_top` most variable genes (in their original order) and records the statistics in `var`:
/// `means`, `variances`, `variances_norm`, `highly_variable_rank`. Returns how many genes were removed.
pub fn select_highly_variable(matrix: &mut CountMatrix, n_top: usize) -> usize {
    let stats = seurat_v3(matrix, 0.3);
    matrix.var.insert("means", Column::Float(stats.means));
    matrix.var.insert("variances", Column::Float(stats.variances));
    matrix.var.insert("variances_norm", Column::Float(stats.variances_norm));
    matrix.var.insert("highly_variable_rank", Column::Int(stats.rank.iter().map(|&r| r as i64).collect()));
    let keep: Vec<bool> = stats.rank.iter().map(|&r| r < n_top).collect();
    let removed = keep.iter().filter(|&&k| !k).count();
    if removed > 0 {
        matrix.retain_genes(&keep);
    }
    removed
}

/// LOESS with a local quadratic and tricube weights: for every point, the weighted least-squares quadratic over
/// its `floor(span * n)` nearest neighbours in `x`, evaluated at the point. Returns the fitted values.
pub fn loess_quadratic(x: &[f64], y: &[f64], span: f64) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let q = ((span * n as f64).floor() as usize).clamp(3.min(n), n);

    // Every point's fit is independent: the window of its q nearest neighbours is found from scratch, so the
    // points can be fitted in parallel.
    let fit_at = |k: usize| {
        let mut low = k.saturating_sub(q - 1).min(n - q);
        while low + q < n && xs[low + q] - xs[k] < xs[k] - xs[low] {
            low += 1;
        }
        let max_distance = (xs[k] - xs[low]).max(xs[low + q - 1] - xs[k]);
        // Ties at the window's edge share the boundary distance, so widen it slightly as loess does.
        let radius = if max_distance > 0.0 { max_distance * 1.000_001 } else { 1.0 };
        let mut moments = [0.0f64; 5];
        let mut cross = [0.0f64; 3];
        for i in low..low + q {
            let d = xs[i] - xs[k];
            let u = (d.abs() / radius).min(1.0);
            let w = (1.0 - u * u * u).powi(3);
            let mut power = w;
            for m in moments.iter_mut() {
                *m += power;
                power *= d;
            }
            cross[0] += w * ys[i];
            cross[1] += w * ys[i] * d;
            cross[2] += w * ys[i] * d * d;
        }
        solve_quadratic_intercept(&moments, &cross).unwrap_or_else(|| cross[0] / moments[0].max(f64::MIN_POSITIVE))
    };
    let sorted_fits: Vec<f64> = (0..n).into_par_iter().map(fit_at).collect();
    let mut fitted = vec![0.0; n];
    for (k, value) in sorted_fits.into_iter().enumerate() {
        fitted[order[k]] = value;
    }
    fitted
}

/// Solves the 3 x 3 normal equations of a weighted quadratic fit centred on the evaluation point and returns
/// the intercept (the fitted value there); `None` when the system is singular (too few distinct x).
fn solve_quadratic_intercept(moments: &[f64; 5], cross: &[f64; 3]) -> Option<f64> {
    let a = [
        [moments[0], moments[1], moments[2]],
        [moments[1], moments[2], moments[3]],
        [moments[2], moments[3], moments[4]],
    ];
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    let scale = moments[0] * moments[2] * moments[4];
    if !d.is_finite() || d.abs() <= 1e-12 * scale.abs().max(f64::MIN_POSITIVE) {
        return None;
    }
    let mut first = a;
    for row in 0..3 {
        first[row][0] = cross[row];
    }
    Some(det(first) / d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loess_reproduces_a_quadratic_exactly() {
        let x: Vec<f64> = (0..200).map(|i| i as f64 / 20.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.0 + 2.0 * v - 0.3 * v * v).collect();
        for (fit, want) in loess_quadratic(&x, &y, 0.3).iter().zip(&y) {
            assert!((fit - want).abs() < 1e-8, "{fit} vs {want}");
        }
    }

    #[test]
    fn loess_smooths_noise_towards_the_trend() {
        let x: Vec<f64> = (0..400).map(|i| i as f64 / 40.0).collect();
        let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| (v / 3.0).sin() + if i % 2 == 0 { 0.2 } else { -0.2 }).collect();
        let fitted = loess_quadratic(&x, &y, 0.3);
        let error: f64 = fitted.iter().zip(&x).map(|(f, v)| (f - (v / 3.0).sin()).abs()).sum::<f64>() / x.len() as f64;
        assert!(error < 0.05, "mean error {error}");
    }
}
