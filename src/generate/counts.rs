//! Integer counts from generated profiles: a library size for every cell, drawn from the real cells of its type,
//! and the profile turned into that many counts ([`CountSampling`]).
//!
//! Every cell's draws use a generator of their own seeded by `(seed, cell)`, so that the result does not depend on
//! the thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson};
use rayon::prelude::*;

use crate::data::CsrMatrix;

/// How integer counts are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountSampling {
    /// `Multinomial(L, profile / library_size)` with `L` drawn from the type's real library sizes.
    Multinomial,
    /// `profile * L / library_size`, each value rounded up or down at random with the probability of its
    /// fraction (so the expected count is the scaled value). The generator learnt normalised *observed* cells,
    /// sampling noise included; multinomial sampling adds a second round of that noise, rescaling does not.
    /// With a count noise `a` (`GenerateParams::count_noise`) the fraction `a` of every value's expected count is
    /// a Poisson draw instead: for models whose profiles carry less sampling noise than real cells.
    Rescale,
    /// As `Rescale`, but every gene the generator expressed is detected: genes below one count get exactly one and
    /// the rest of the library is shared among the others by rescaling, so the total is still `L`. The
    /// generator's zeros decide which genes a cell shows (it learnt them from the zeros of real cells: its
    /// detection rates match theirs), while rounding at random loses the genes it put below one count.
    Detected,
    /// The first count of each value by random rounding, the counts beyond it Poisson draws: a value of `lambda`
    /// counts at `L` gives 1 count with probability `lambda` (else 0) below one count and `1 + Poisson(lambda - 1)`
    /// above (the counts of a
    /// model trained with `--critic-counts rounded-poisson`; [`crate::model::CountDraw::RoundedPoisson`]).
    RoundedPoisson,
    /// No counts: `X` holds the normalised profiles.
    NormalizedOnly,
}

/// A library size for every generated cell, drawn from its class's real library sizes (`pools[classes[i]]`;
/// `total` when that pool is empty) and then, with `match_complexity`, handed out within each class by profile
/// complexity ([`match_library_sizes`]). A model trained with count sampling saw its cells at library sizes drawn
/// at random, so it is generated the same way: its profiles are expected values, whose complexity says nothing
/// of the depth.
pub(crate) fn draw_library_sizes(
    profiles: &CsrMatrix,
    classes: &[usize],
    pools: &[&[f64]],
    total: f64,
    match_complexity: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let mut library_sizes = draw_from_pools(classes, pools, total, rng);
    if !match_complexity {
        return library_sizes;
    }
    for (k, pool) in pools.iter().enumerate() {
        let cells: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == k).collect();
        match_library_sizes(profiles, &cells, &mut library_sizes, total, pool);
    }
    library_sizes
}

/// A library size for every cell, drawn at random from its class's real library sizes (`pools[classes[i]]`;
/// `total` when that pool is empty).
pub(crate) fn draw_from_pools(classes: &[usize], pools: &[&[f64]], total: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    classes
        .iter()
        .map(|&k| {
            let pool = pools[k];
            if pool.is_empty() {
                total
            } else {
                pool[rng.random_range(0..pool.len())]
            }
        })
        .collect()
}

/// Hands the library sizes drawn for `cells` (one type) back out in the order of the cells' complexity, so that
/// the cell whose profile has the most expressed genes gets the largest library: in real data the two go
/// together (a count of 1 is `library_size / L` after normalisation, so a small library cannot show many genes).
/// Complexity counts the genes at or above half the normalised value of a single count at the type's median
/// library size; the drawn sizes (and so their distribution) are unchanged, only their assignment.
fn match_library_sizes(profiles: &CsrMatrix, cells: &[usize], sizes: &mut [f64], total: f64, pool: &[f64]) {
    if cells.len() < 2 || pool.is_empty() {
        return;
    }
    let mut sorted_pool = pool.to_vec();
    sorted_pool.sort_by(f64::total_cmp);
    let threshold = 0.5 * total / sorted_pool[sorted_pool.len() / 2].max(1.0);
    let complexity = |i: usize| profiles.row(i).1.iter().filter(|&&v| v as f64 >= threshold).count();
    let mut by_complexity = cells.to_vec();
    by_complexity.sort_by_key(|&i| (complexity(i), i));
    let mut drawn: Vec<f64> = cells.iter().map(|&i| sizes[i]).collect();
    drawn.sort_by(f64::total_cmp);
    for (&i, &size) in by_complexity.iter().zip(&drawn) {
        sizes[i] = size;
    }
}

/// Integer counts from profiles normalised to `total`, at the given library sizes, by `method` (not
/// [`CountSampling::NormalizedOnly`], which has none: it returns the profiles).
///
/// `count_noise` (in [0, 1]; used by [`CountSampling::Rescale`] only) is the fraction of each value's expected
/// count `lambda` drawn as `Poisson(count_noise * lambda)`; the rest, `(1 - count_noise) * lambda`, is rounded at
/// random. The expected count stays `lambda` and its variance grows from the rounding's (at most 1/4) to
/// `count_noise * lambda`. 0 is plain rescaling; 1 is Poisson sampling. A generator learns a cell's sampling noise
/// only as far as its latent space can carry independent noise in every gene; how much is missing differs
/// between data sets, so training measures it on validation cells ([`crate::train::validation`]).
pub(crate) fn make_counts(
    profiles: &CsrMatrix,
    library_sizes: &[f64],
    total: f64,
    method: CountSampling,
    count_noise: f64,
    seed: u64,
) -> CsrMatrix {
    debug_assert!((0.0..=1.0).contains(&count_noise), "count noise {count_noise}: callers check it");
    match method {
        CountSampling::Multinomial => sample_counts(profiles, library_sizes, seed),
        CountSampling::Rescale => rescale_counts(profiles, library_sizes, total, count_noise, seed),
        CountSampling::Detected => detected_counts(profiles, library_sizes, total, seed),
        CountSampling::RoundedPoisson => rounded_poisson_counts(profiles, library_sizes, total, seed),
        CountSampling::NormalizedOnly => profiles.clone(),
    }
}

/// [`CountSampling::Detected`]: genes below one count at the cell's library size get one count, the others
/// `profile * (L - ones) / (their profile total)`, randomly rounded. A cell with more expressed genes than `L`
/// counts (which no real cell has) is rescaled instead.
fn detected_counts(profiles: &CsrMatrix, library_sizes: &[f64], total: f64, seed: u64) -> CsrMatrix {
    map_rows(profiles, seed, |i, cols, values, rng| {
        let one_count = total / library_sizes[i].max(1.0);
        let (mut ones, mut large_mass) = (0.0, 0.0);
        for &v in values.iter().filter(|&&v| v > 0.0) {
            if (v as f64) < one_count {
                ones += 1.0;
            } else {
                large_mass += v as f64;
            }
        }
        let rest = library_sizes[i] - ones;
        let factor = if rest >= 1.0 && large_mass > 0.0 {
            rest / large_mass
        } else {
            return rescale_row(cols, values, library_sizes[i] / total, 0.0, rng);
        };
        counts_row(cols, values, |v| match v as f64 {
            v if v <= 0.0 => 0.0,
            v if v < one_count => 1.0,
            v => random_round(v * factor, rng),
        })
    })
}

/// [`CountSampling::RoundedPoisson`]: random rounding below one count, `1 + Poisson(lambda - 1)` above, for
/// `lambda = profile * L / total`.
fn rounded_poisson_counts(profiles: &CsrMatrix, library_sizes: &[f64], total: f64, seed: u64) -> CsrMatrix {
    map_rows(profiles, seed, |i, cols, values, rng| {
        let scale = library_sizes[i] / total;
        counts_row(cols, values, |v| match v as f64 * scale {
            lambda if lambda < 1.0 => random_round(lambda, rng),
            lambda => 1.0 + Poisson::new(lambda - 1.0).map_or(0.0, |poisson| poisson.sample(rng)),
        })
    })
}

/// `y` rounded up with the probability of its fraction, down otherwise (so that its expected value is `y`).
fn random_round(y: f64, rng: &mut ChaCha8Rng) -> f64 {
    y.floor() + f64::from(rng.random::<f64>() < y - y.floor())
}

/// One row of [`rescale_counts`].
fn rescale_row(cols: &[u32], values: &[f32], scale: f64, noise: f64, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<f32>) {
    if noise <= 0.0 {
        return counts_row(cols, values, |v| random_round(v as f64 * scale, rng));
    }
    counts_row(cols, values, |v| {
        let lambda = v as f64 * scale;
        let drawn = Poisson::new(noise * lambda).map_or(0.0, |poisson| poisson.sample(rng));
        random_round((1.0 - noise) * lambda, rng) + drawn
    })
}

/// The sparse row of the non-zero `count(value)` of a profile's row, in its order.
fn counts_row(cols: &[u32], values: &[f32], mut count: impl FnMut(f32) -> f64) -> (Vec<u32>, Vec<f32>) {
    let (mut out_cols, mut out_values) = (Vec::new(), Vec::new());
    for (&j, &v) in cols.iter().zip(values) {
        let k = count(v);
        if k > 0.0 {
            out_cols.push(j);
            out_values.push(k as f32);
        }
    }
    (out_cols, out_values)
}

/// `profile_i * library_sizes[i] / total`, randomly rounded (up with the probability of the fraction), with the
/// fraction `noise` of it drawn as Poisson instead ([`make_counts`]); each row with its own generator seeded by
/// `(seed, row)`.
pub(crate) fn rescale_counts(
    profiles: &CsrMatrix,
    library_sizes: &[f64],
    total: f64,
    noise: f64,
    seed: u64,
) -> CsrMatrix {
    map_rows(profiles, seed, |i, cols, values, rng| rescale_row(cols, values, library_sizes[i] / total, noise, rng))
}

/// Builds a matrix of the same shape row by row, in parallel, each row with its own generator seeded by
/// `(seed, row)` so that the result does not depend on the thread count.
fn map_rows(
    profiles: &CsrMatrix,
    seed: u64,
    row: impl Fn(usize, &[u32], &[f32], &mut ChaCha8Rng) -> (Vec<u32>, Vec<f32>) + Sync,
) -> CsrMatrix {
    let rows: Vec<(Vec<u32>, Vec<f32>)> = (0..profiles.n_rows())
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed ^ 0xc0u64.rotate_left(56) ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let (cols, values) = profiles.row(i);
            row(i, cols, values, &mut rng)
        })
        .collect();
    CsrMatrix::from_rows(profiles.n_cols(), rows)
}

/// Draws `Multinomial(library_sizes[i], profile_i / total)` for every row, as sequential binomials over the
/// row's non-zero genes; each row with its own generator seeded by `(seed, row)`.
pub(crate) fn sample_counts(profiles: &CsrMatrix, library_sizes: &[f64], seed: u64) -> CsrMatrix {
    map_rows(profiles, seed, |i, cols, values, rng| {
        let mut remaining = library_sizes[i].round().max(0.0) as u64;
        let mut mass: f64 = values.iter().map(|&v| v as f64).sum();
        let (mut out_cols, mut out_values) = (Vec::new(), Vec::new());
        for (&j, &v) in cols.iter().zip(values) {
            if remaining == 0 || mass <= 0.0 {
                break;
            }
            let p = (v as f64 / mass).clamp(0.0, 1.0);
            let k = Binomial::new(remaining, p).map(|b| b.sample(rng)).unwrap_or(0);
            mass -= v as f64;
            if k > 0 {
                remaining -= k;
                out_cols.push(j);
                out_values.push(k as f32);
            }
        }
        (out_cols, out_values)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and (population) variance.
    fn moments(values: &[f64]) -> (f64, f64) {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        (mean, values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64)
    }
    #[test]
    fn multinomial_counts_keep_the_library_size_and_follow_the_profile() {
        let profile = CsrMatrix::from_dense(&[10_000.0, 6_000.0, 4_000.0, 0.0, 20_000.0, 0.0, 0.0, 0.0], 4);
        let counts = sample_counts(&profile, &[1_000.0, 37.0], 3);
        assert_eq!(counts.row_sums(), vec![1_000.0, 37.0]);
        assert!((counts.get(0, 0) - 500.0).abs() < 60.0, "{}", counts.get(0, 0));
        assert_eq!(counts.get(1, 0), 37.0);
        assert_eq!(counts, sample_counts(&profile, &[1_000.0, 37.0], 3));
    }

    #[test]
    fn rescaled_counts_are_unbiased_integers() {
        let profile = CsrMatrix::from_dense(&[10_000.0, 6_000.0, 3_990.0, 10.0], 4);
        let n = 2_000;
        let stacked = CsrMatrix::vstack(&vec![profile; n], 4);
        let counts = rescale_counts(&stacked, &vec![1_000.0; n], 20_000.0, 0.0, 5);
        assert!(counts.data().iter().all(|v| v.fract() == 0.0));
        let mean = |j: usize| (0..n).map(|i| counts.get(i, j) as f64).sum::<f64>() / n as f64;
        assert_eq!(mean(0), 500.0);
        assert!((mean(2) - 199.5).abs() < 0.05, "{}", mean(2));
        assert!((mean(3) - 0.5).abs() < 0.05, "{}", mean(3));
    }

    /// A count noise of `a` keeps the expected count and makes the variance `a * lambda` (plus the rounding's);
    /// none is plain rescaling, to the draw.
    #[test]
    fn count_noise_keeps_the_mean_and_adds_poisson_variance() {
        // at L = 1,000 (scale 0.05): 0.5, 8 and 40 expected counts
        let profile = CsrMatrix::from_dense(&[10.0, 160.0, 800.0, 19_030.0], 4);
        let n = 20_000;
        let stacked = CsrMatrix::vstack(&vec![profile; n], 4);
        let sizes = vec![1_000.0; n];
        assert_eq!(
            rescale_counts(&stacked, &sizes, 20_000.0, 0.0, 9),
            make_counts(&stacked, &sizes, 20_000.0, CountSampling::Rescale, 0.0, 9)
        );
        for noise in [0.25, 0.5, 1.0] {
            let counts = rescale_counts(&stacked, &sizes, 20_000.0, noise, 9);
            assert!(counts.data().iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
            for (j, lambda) in [(0, 0.5), (1, 8.0), (2, 40.0)] {
                let values: Vec<f64> = (0..n).map(|i| counts.get(i, j) as f64).collect();
                let (mean, variance) = moments(&values);
                let rest = (1.0 - noise) * lambda;
                let rounding = (rest - rest.floor()) * (1.0 - (rest - rest.floor()));
                let expected = noise * lambda + rounding;
                assert!(
                    (mean - lambda).abs() < 5.0 * (expected / n as f64).sqrt(),
                    "mean {mean} for {lambda}, {noise}"
                );
                assert!((variance / expected - 1.0).abs() < 0.06, "variance {variance}, expected {expected}");
            }
        }
    }

    /// Below one count a value is rounded (detected with the probability of its value); above it the counts beyond
    /// the first are Poisson: mean `lambda`, variance `lambda - 1`.
    #[test]
    fn rounded_poisson_counts_round_the_first_count_and_draw_the_rest() {
        // at L = 1,000 (scale 0.05): 0.3, 3 and 30 expected counts
        let profile = CsrMatrix::from_dense(&[6.0, 60.0, 600.0, 19_334.0], 4);
        let n = 20_000;
        let stacked = CsrMatrix::vstack(&vec![profile; n], 4);
        let counts = rounded_poisson_counts(&stacked, &vec![1_000.0; n], 20_000.0, 5);
        assert!(counts.data().iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
        let column = |j: usize| (0..n).map(|i| counts.get(i, j) as f64).collect::<Vec<_>>();
        let low = column(0);
        assert!(low.iter().all(|&k| k <= 1.0), "a value below one count is rounded");
        assert!((moments(&low).0 - 0.3).abs() < 0.015);
        for (j, lambda) in [(1, 3.0), (2, 30.0)] {
            let values = column(j);
            assert!(values.iter().all(|&k| k >= 1.0), "the first count is certain above one count");
            let (mean, variance) = moments(&values);
            assert!((mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(), "mean {mean} for {lambda}");
            assert!((variance / (lambda - 1.0) - 1.0).abs() < 0.06, "variance {variance} for {lambda}");
        }
        assert_eq!(counts, rounded_poisson_counts(&stacked, &vec![1_000.0; n], 20_000.0, 5));
    }

    /// Every expressed gene keeps at least one count, the library size is kept, and the genes above one count
    /// share the rest in proportion to the profile.
    #[test]
    fn detected_counts_keep_every_expressed_gene_and_the_library_size() {
        // at L = 100 one count is 200: genes 2 and 3 are below it
        let profile = CsrMatrix::from_dense(&[12_000.0, 7_840.0, 150.0, 10.0, 0.0], 5);
        let n = 2_000;
        let stacked = CsrMatrix::vstack(&vec![profile; n], 5);
        let counts = detected_counts(&stacked, &vec![100.0; n], 20_000.0, 5);
        let mean = |j: usize| (0..n).map(|i| counts.get(i, j) as f64).sum::<f64>() / n as f64;
        for i in 0..n {
            assert_eq!((counts.get(i, 2), counts.get(i, 3), counts.get(i, 4)), (1.0, 1.0, 0.0));
        }
        // 98 counts left for genes 0 and 1, in the ratio 12,000 : 7,840; the totals are 100 on average
        assert!((mean(0) - 98.0 * 12_000.0 / 19_840.0).abs() < 0.05, "{}", mean(0));
        assert!((counts.row_sums().iter().sum::<f64>() / n as f64 - 100.0).abs() < 0.05);
        // more expressed genes than counts: rescaled instead, so the library size still holds on average
        let crowded = CsrMatrix::from_dense(&[5_000.0, 5_000.0, 5_000.0, 5_000.0], 4);
        let counts = detected_counts(&crowded, &[2.0], 20_000.0, 1);
        assert!(counts.row_sums()[0] <= 4.0);
    }

    #[test]
    fn larger_libraries_go_to_more_complex_profiles() {
        // cell 0 expresses 1 gene, cell 1 three, cell 2 two
        let profile =
            CsrMatrix::from_dense(&[20_000.0, 0.0, 0.0, 5_000.0, 5_000.0, 10_000.0, 10_000.0, 10_000.0, 0.0], 3);
        let mut sizes = vec![300.0, 100.0, 200.0];
        match_library_sizes(&profile, &[0, 1, 2], &mut sizes, 20_000.0, &[100.0, 200.0, 300.0]);
        assert_eq!(sizes, vec![100.0, 300.0, 200.0]);
    }
}
