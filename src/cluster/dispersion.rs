//! Library-size normalisation to the median and the Cell Ranger "dispersed genes" selection.
//!
//! This is the first half of scanpy's `recipe_zheng17`, which the paper's labels were made with:
//!
//! 1. genes without any count are dropped (`filter_genes(min_counts=1)`; here: total > 0);
//! 2. every cell is scaled to the **median** library size of the cells (`normalize_total` without a target;
//!    cells without counts stay zero);
//! 3. per gene, on these normalised, non-log values: mean `m`, variance `v` (`n - 1` denominator) and
//!    dispersion `d = v / m`;
//! 4. genes are binned by their mean, with the bin edges `-inf, P10, P15, ..., P95, P100, +inf` where `Pq` is
//!    the `q`-th percentile of the means (numpy's linear interpolation); bins are right-closed, as `pd.cut`;
//! 5. within a bin, the normalised dispersion is `|d - median(d)| / MAD(d)` with
//!    `MAD = median(|d - median(d)|) / 0.6745` (statsmodels' `robust.mad`, the scale of a normal law). Note the
//!    absolute value: scanpy's `filter_genes_dispersion(flavor='cell_ranger')`, which `recipe_zheng17` calls,
//!    ranks genes by their *distance* from the bin's median, in either direction. A bin whose MAD is 0 gives
//!    `+inf` to genes off its median and NaN (never selected) to genes on it;
//! 6. the `n_top` genes of largest normalised dispersion are kept (ties broken by the lower gene index; scanpy
//!    keeps every gene at or above the `n_top`-th value, which differs only on exact ties).

use crate::data::CsrMatrix;
use crate::error::{Error, Result};

/// `1 / Phi^-1(3/4)`: statsmodels' `robust.mad` divides the median absolute deviation by `Phi^-1(3/4)`.
const MAD_NORMAL_SCALE: f64 = 0.674_489_750_196_081_7;

/// The median of values that contain no NaN (the mean of the two middle values for an even count); NaN for
/// an empty slice. Reorders `values`.
pub fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// The `q`-th percentile (`0..=100`) of sorted values, interpolating linearly between order statistics as
/// numpy's default `np.percentile` does.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    let fraction = position - low as f64;
    sorted[low] + fraction * (sorted[high] - sorted[low])
}

/// Library sizes scaled to their median: returns `(target, factors)` with `target` the median of the positive
/// row totals and `factors[i] = target / total_i` (0 for a row without counts).
///
/// # Errors
/// [`Error::InvalidData`] when no row has a positive total.
pub fn median_normalization(totals: &[f64]) -> Result<(f64, Vec<f64>)> {
    let mut positive: Vec<f64> = totals.iter().copied().filter(|&t| t > 0.0).collect();
    if positive.is_empty() {
        return Err(Error::invalid_data("data", "X", "no cell has any count; cannot normalise library sizes"));
    }
    let target = median(&mut positive);
    let factors = totals.iter().map(|&t| if t > 0.0 { target / t } else { 0.0 }).collect();
    Ok((target, factors))
}

/// Mean and variance (`n - 1` denominator) of every column of `x` after scaling row `i` by `factors[i]`,
/// accumulated in `f64` (each scaled value rounded to `f32` first, as scanpy holds the normalised matrix).
fn scaled_mean_var(x: &CsrMatrix, factors: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (n, p) = (x.n_rows(), x.n_cols());
    let mut sums = vec![0f64; p];
    let mut squares = vec![0f64; p];
    for (i, &factor) in factors.iter().enumerate() {
        let (cols, values) = x.row(i);
        for (&j, &v) in cols.iter().zip(values) {
            let v = ((v as f64) * factor) as f32 as f64;
            sums[j as usize] += v;
            squares[j as usize] += v * v;
        }
    }
    let nf = n as f64;
    let mean: Vec<f64> = sums.iter().map(|s| s / nf).collect();
    let var = squares.iter().zip(&mean).map(|(q, m)| ((q / nf - m * m) * nf / (nf - 1.0).max(1.0)).max(0.0)).collect();
    (mean, var)
}

/// Cell Ranger's normalised dispersion of genes given their means (all positive) and variances: steps 3-5 of
/// the module documentation. NaN where it is undefined (a bin whose MAD is 0, for the genes on its median).
pub fn normalized_dispersion(mean: &[f64], var: &[f64]) -> Vec<f64> {
    let dispersion: Vec<f64> = mean.iter().zip(var).map(|(m, v)| v / m.max(1e-12)).collect();
    let mut sorted = mean.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // Finite edges P10, P15, ..., P100; bin b is (edge[b-1], edge[b]], bin 0 is (-inf, P10].
    let edges: Vec<f64> = (0..19).map(|e| percentile_sorted(&sorted, 10.0 + 5.0 * e as f64)).collect();
    let bin_of: Vec<usize> = mean.iter().map(|&m| edges.iter().filter(|&&e| e < m).count()).collect();
    let n_bins = edges.len() + 1;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_bins];
    for (gene, &bin) in bin_of.iter().enumerate() {
        members[bin].push(gene);
    }
    let mut normalized = vec![f64::NAN; mean.len()];
    for genes in members.iter().filter(|g| !g.is_empty()) {
        let mut values: Vec<f64> = genes.iter().map(|&g| dispersion[g]).collect();
        let center = median(&mut values);
        let mut deviations: Vec<f64> = genes.iter().map(|&g| (dispersion[g] - center).abs()).collect();
        let mad = median(&mut deviations) / MAD_NORMAL_SCALE;
        for &g in genes {
            // 0 / 0 = NaN (on the median of a MAD-0 bin), x / 0 = inf, as numpy.
            normalized[g] = (dispersion[g] - center).abs() / mad;
        }
    }
    normalized
}

/// The `n_top` most dispersed genes of raw counts `x` `(n_cells, n_genes)`, by the Cell Ranger recipe of the
/// module documentation, as column indices in increasing order.
///
/// When `n_top` is at least the number of genes with counts, every gene with counts is returned; when fewer
/// than `n_top` genes have a defined normalised dispersion, all of those are.
///
/// # Errors
/// [`Error::InvalidData`] when `x` has fewer than 2 cells, negative or non-finite values, or no counts.
pub fn select_dispersed_genes(x: &CsrMatrix, n_top: usize) -> Result<Vec<usize>> {
    if x.n_rows() < 2 {
        return Err(Error::invalid_data("data", "X", "gene dispersions need at least 2 cells"));
    }
    if let Some(pos) = x.data().iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::invalid_data(
            "data",
            "X",
            format!("stored value {pos} is {}; counts must be finite and non-negative", x.data()[pos]),
        ));
    }
    let (factors_target, factors) = median_normalization(&x.row_sums())?;
    debug_assert!(factors_target > 0.0);
    let (mean, var) = scaled_mean_var(x, &factors);
    let expressed: Vec<usize> = (0..x.n_cols()).filter(|&j| mean[j] > 0.0).collect();
    if expressed.len() <= n_top {
        return Ok(expressed);
    }
    let sub_mean: Vec<f64> = expressed.iter().map(|&j| mean[j]).collect();
    let sub_var: Vec<f64> = expressed.iter().map(|&j| var[j]).collect();
    let normalized = normalized_dispersion(&sub_mean, &sub_var);
    let mut ranked: Vec<usize> = (0..expressed.len()).filter(|&g| !normalized[g].is_nan()).collect();
    ranked.sort_by(|&a, &b| normalized[b].total_cmp(&normalized[a]).then(a.cmp(&b)));
    ranked.truncate(n_top);
    let mut genes: Vec<usize> = ranked.into_iter().map(|g| expressed[g]).collect();
    genes.sort_unstable();
    Ok(genes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_and_median_follow_numpy() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        // np.percentile([1, 2, 4, 8], [0, 10, 50, 95, 100]) = [1, 1.3, 3, 7.4, 8]
        for (q, expected) in [(0.0, 1.0), (10.0, 1.3), (50.0, 3.0), (95.0, 7.4), (100.0, 8.0)] {
            assert!((percentile_sorted(&sorted, q) - expected).abs() < 1e-12, "q={q}");
        }
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn median_normalization_ignores_empty_cells() {
        let (target, factors) = median_normalization(&[10.0, 0.0, 30.0, 20.0]).unwrap();
        assert_eq!(target, 20.0);
        assert_eq!(factors, vec![2.0, 0.0, 20.0 / 30.0, 1.0]);
        assert!(median_normalization(&[0.0, 0.0]).is_err());
    }

    #[test]
    fn normalized_dispersion_by_bin() {
        // 40 genes of means 1..=40: the edges P10..P100 put genes 1-4 (means <= 4.9) in bin 0, then two genes
        // per bin. Within bin 0 the dispersions are [1, 2, 3, 10]: median 2.5, |d - 2.5| = [1.5, 0.5, 0.5, 7.5],
        // MAD = 1.0 / 0.6745.
        let mean: Vec<f64> = (1..=40).map(|m| m as f64).collect();
        let mut dispersion = vec![1.0; 40];
        dispersion[..4].copy_from_slice(&[1.0, 2.0, 3.0, 10.0]);
        let var: Vec<f64> = mean.iter().zip(&dispersion).map(|(m, d)| m * d).collect();
        let norm = normalized_dispersion(&mean, &var);
        let mad = 1.0 / MAD_NORMAL_SCALE;
        for (g, expected) in [1.5, 0.5, 0.5, 7.5].iter().enumerate() {
            assert!((norm[g] - expected / mad).abs() < 1e-12, "gene {g}: {}", norm[g]);
        }
        // Bins of two genes with equal dispersions: MAD 0 and every gene on the median -> NaN.
        assert!(norm[10].is_nan());
    }

    #[test]
    fn selection_keeps_the_most_dispersed_and_all_when_few() {
        // 50 cells x 402 genes: Poisson counts of rates 0.2..4.2, gene 190 bursty (20 counts in every 10th
        // cell, mean 2 like its Poisson neighbours), gene 401 never expressed. (With few genes per bin the
        // method degenerates: in a bin of two genes both get |d - median| / MAD = 0.6745.)
        use rand::SeedableRng;
        use rand_distr::{Distribution, Poisson};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..50u32 {
            for j in 0..401u32 {
                let poisson = Poisson::new(0.2 + 0.01 * j as f64).unwrap();
                let v = if j == 190 {
                    if i % 10 == 0 {
                        20.0
                    } else {
                        0.0
                    }
                } else {
                    poisson.sample(&mut rng)
                };
                if v > 0.0 {
                    rows.push(i);
                    cols.push(j);
                    values.push(v as f32);
                }
            }
        }
        let x = CsrMatrix::from_triplets(50, 402, &rows, &cols, &values);
        assert_eq!(select_dispersed_genes(&x, 1000).unwrap(), (0..401).collect::<Vec<_>>());
        let top = select_dispersed_genes(&x, 5).unwrap();
        assert_eq!(top.len(), 5);
        assert!(top.contains(&190), "{top:?}");
        // The same ranking computed from the public pieces.
        let (_, factors) = median_normalization(&x.row_sums()).unwrap();
        let (mean, var) = scaled_mean_var(&x, &factors);
        let norm = normalized_dispersion(&mean[..401], &var[..401]);
        let mut order: Vec<usize> = (0..401).filter(|&g| !norm[g].is_nan()).collect();
        order.sort_by(|&a, &b| norm[b].total_cmp(&norm[a]).then(a.cmp(&b)));
        let mut expected = order[..5].to_vec();
        expected.sort_unstable();
        assert_eq!(top, expected);
        let negative = CsrMatrix::new(2, 1, vec![0, 1, 1], vec![0], vec![-1.0], "t").unwrap();
        assert!(select_dispersed_genes(&negative, 1).is_err());
    }
}
