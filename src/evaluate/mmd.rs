//! Maximum mean discrepancy between two sets of points, with a sum of Gaussian kernels.
//!
//! `k(x, y) = sum_s exp(-||x - y||^2 / (2 (s * m)^2))` over the bandwidth scales `s` in {0.5, 1, 2, 4}, where `m`
//! is the median pairwise distance among the reference points (EVALUATION.md). With `X` (m points) and `Y`
//! (n points):
//! - unbiased: `1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j) - 2/(mn) sum k(x_i, y_j)`,
//!   about 0 (and possibly negative) when the distributions are equal;
//! - biased: the same with the diagonal terms included and `1/m^2`, `1/n^2`: always >= 0.
//!
//! Points are rows of row-major `f64` slices of width `dim`. Cost is O((m + n)^2 dim), parallel over rows.

use rayon::prelude::*;

/// The bandwidth scales of EVALUATION.md.
pub const BANDWIDTH_SCALES: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

/// Both MMD estimates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mmd {
    /// Unbiased estimate of MMD^2.
    pub unbiased: f64,
    /// Biased estimate of MMD^2.
    pub biased: f64,
    /// The median pairwise distance among the reference points that the bandwidths are scaled by.
    pub median_distance: f64,
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Median of the pairwise distances among the rows of `points` (all pairs for up to 2,000 rows, else the first
/// 2,000, which is plenty for a median).
pub fn median_pairwise_distance(points: &[f64], dim: usize) -> f64 {
    let n = (points.len() / dim.max(1)).min(2000);
    let mut distances: Vec<f64> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let a = &points[i * dim..(i + 1) * dim];
            (i + 1..n).map(move |j| squared_distance(a, &points[j * dim..(j + 1) * dim]).sqrt())
        })
        .collect();
    if distances.is_empty() {
        return 1.0;
    }
    let middle = distances.len() / 2;
    let (_, median, _) = distances.select_nth_unstable_by(middle, f64::total_cmp);
    *median
}

/// Sums of kernel values over all pairs (i from `a`, j from `b`), and over the diagonal when `a` and `b` are the
/// same set.
fn kernel_sum(a: &[f64], b: &[f64], dim: usize, inverse_widths: &[f64]) -> f64 {
    let n_b = b.len() / dim;
    a.par_chunks(dim)
        .map(|x| {
            (0..n_b)
                .map(|j| {
                    let d2 = squared_distance(x, &b[j * dim..(j + 1) * dim]);
                    inverse_widths.iter().map(|w| (-d2 * w).exp()).sum::<f64>()
                })
                .sum::<f64>()
        })
        .sum()
}

/// MMD between `reference` and `other` (row-major, `dim` columns), bandwidths from `reference`'s median distance.
///
/// # Panics
/// If either set has fewer than 2 points or the slices are not multiples of `dim`.
pub fn mmd(reference: &[f64], other: &[f64], dim: usize) -> Mmd {
    let median_distance = median_pairwise_distance(reference, dim).max(1e-12);
    mmd_with_median(reference, other, dim, median_distance)
}

/// MMD with a given median distance (so that several comparisons share one kernel).
///
/// # Panics
/// As [`mmd`].
pub fn mmd_with_median(reference: &[f64], other: &[f64], dim: usize, median_distance: f64) -> Mmd {
    assert!(dim > 0 && reference.len().is_multiple_of(dim) && other.len().is_multiple_of(dim), "rows of width dim");
    let (m, n) = ((reference.len() / dim) as f64, (other.len() / dim) as f64);
    assert!(m >= 2.0 && n >= 2.0, "at least two points on each side");
    let inverse_widths: Vec<f64> =
        BANDWIDTH_SCALES.iter().map(|s| 1.0 / (2.0 * (s * median_distance).powi(2))).collect();
    let k = BANDWIDTH_SCALES.len() as f64; // the kernel of a point with itself
    let xx = kernel_sum(reference, reference, dim, &inverse_widths);
    let yy = kernel_sum(other, other, dim, &inverse_widths);
    let xy = kernel_sum(reference, other, dim, &inverse_widths);
    let unbiased = (xx - m * k) / (m * (m - 1.0)) + (yy - n * k) / (n * (n - 1.0)) - 2.0 * xy / (m * n);
    let biased = xx / (m * m) + yy / (n * n) - 2.0 * xy / (m * n);
    Mmd { unbiased, biased, median_distance }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn sample(n: usize, dim: usize, shift: f64, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        (0..n * dim).map(|_| normal.sample(&mut rng) + shift).collect()
    }

    #[test]
    fn equal_distributions_give_about_zero_and_shifts_grow_it() {
        let a = sample(300, 5, 0.0, 1);
        let b = sample(300, 5, 0.0, 2);
        let c = sample(300, 5, 0.5, 3);
        let d = sample(300, 5, 2.0, 4);
        let same = mmd(&a, &b, 5);
        let shifted = mmd(&a, &c, 5);
        let far = mmd(&a, &d, 5);
        assert!(same.unbiased.abs() < 0.01, "{same:?}");
        assert!(shifted.unbiased > 5.0 * same.unbiased.abs() && far.unbiased > shifted.unbiased, "{shifted:?} {far:?}");
        assert!(same.biased > 0.0 && same.biased > same.unbiased);
    }

    #[test]
    fn matches_a_direct_computation() {
        let a = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0];
        let b = [1.0, 1.0, 3.0, 0.0];
        let median = 1.5;
        let k = |x: &[f64], y: &[f64]| {
            let d2 = squared_distance(x, y);
            BANDWIDTH_SCALES.iter().map(|s| (-d2 / (2.0 * (s * median) * (s * median))).exp()).sum::<f64>()
        };
        let rows_a: Vec<&[f64]> = a.chunks(2).collect();
        let rows_b: Vec<&[f64]> = b.chunks(2).collect();
        let mut xx = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    xx += k(rows_a[i], rows_a[j]);
                }
            }
        }
        let yy = 2.0 * k(rows_b[0], rows_b[1]);
        let xy: f64 = rows_a.iter().flat_map(|x| rows_b.iter().map(move |y| k(x, y))).sum();
        let expected = xx / 6.0 + yy / 2.0 - 2.0 * xy / 6.0;
        let got = mmd_with_median(&a, &b, 2, median);
        assert!((got.unbiased - expected).abs() < 1e-12, "{} vs {expected}", got.unbiased);
    }
}
