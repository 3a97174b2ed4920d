//! The cheap validation figures watched during training: how well generated cells pass for held-out real ones.
//!
//! Real and generated cells are compared the way the evaluator compares them (EVALUATION.md): library size
//! 20,000, `log1p`, projected on 50 principal components fitted on the *training* cells (never on the compared
//! ones). Three figures:
//!
//! - the **kNN AUROC** (k = 15, 5-fold, as in the evaluator) of telling validation cells from as many generated
//!   ones, averaged over [`GENERATED_SETS`] generated sets (lower is better): an estimate of the evaluator's
//!   classifier figures on the test split, 0.5 when indistinguishable. The saved model is chosen by it
//!   ([`keeps`]). It replaced the MMD as the selection figure because the MMD of 302 validation cells reached its
//!   noise floor (~0) after about 1,500 steps on pbmc_facs_2k while the test RF AUROC was still 0.8 and falling
//!   (BENCHMARKS.md);
//! - the unbiased **MMD²** with the multi-bandwidth Gaussian kernel, logged beside it;
//! - the **spread** of the generated cells against the validation cells (the ratio of their total variances on the
//!   components), which chooses the count noise below.
//!
//! The generated cells are compared as `scgan generate` delivers them by default
//! ([`super::CriticCounts::generated_counts`]): the generator's profiles made into counts at library sizes drawn
//! from the training cells of their type, then normalised like the real ones. (Comparing the continuous profiles
//! instead scored 0.56 on pbmc_facs_2k where the evaluator's kNN AUROC on the delivered counts was 0.68: the
//! rounding is part of what a user gets.) They use fixed latent vectors, fixed library sizes and rounding draws,
//! and the validation cells' labels, so successive figures differ only through the model.
//!
//! Rescaled counts are compared at every count noise of [`COUNT_NOISE_CHOICES`] (the fraction of each expected
//! count drawn as Poisson, [`crate::generate::CountSampling::Rescale`]), from the same profiles, library sizes and
//! seed, and the figures are those of the noise [`choose_count_noise`] chooses by the spread: that noise is saved
//! with the model and `scgan generate` uses it. Whether a generator's cells need it differs between data sets
//! (BENCHMARKS.md, Sessions 14 and 19: none on pbmc_facs_2k, a quarter on mouse_bladder), so it is measured rather
//! than fixed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::data::CellSet;
use super::{CriticCounts, TrainParams};
use crate::data::CsrMatrix;
use crate::error::Result;
use crate::evaluate::classify::{cross_validated_auroc, stratified_folds, Classifier};
use crate::evaluate::mmd::{median_pairwise_distance, mmd_with_median};
use crate::generate::{draw_from_pools, draw_library_sizes, make_counts, CountSampling, LibraryInput};
use crate::model::GanBackend;
use crate::pca::{log_normalize, Pca, PcaParams, PcaSolver};

/// The library size cells are compared at: the evaluator's, whatever the model's (`--target-sum`).
const EVALUATED_AT: f64 = crate::evaluate::prepare::TARGET_SUM;

/// At most this many validation cells are compared (the MMD is quadratic in the number of cells).
pub const MAX_VALIDATION_CELLS: usize = 1000;

/// Independent generated sets the kNN AUROC is averaged over: each is as large as the validation set, and
/// averaging takes out most of the generated side's sampling noise at the cost of generating a few hundred cells
/// more (milliseconds).
pub const GENERATED_SETS: usize = 3;

/// The count noises compared for rescaled counts, lowest first.
pub const COUNT_NOISE_CHOICES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Neighbours of the kNN classifier (EVALUATION.md).
const NEIGHBOURS: usize = 15;

/// The standard error of an AUROC `auroc` between `n_real` and `n_generated` cells (Hanley & McNeil 1982, "The
/// meaning and use of the area under a ROC curve", Radiology 143: the exponential approximation).
pub fn auroc_standard_error(auroc: f64, n_real: usize, n_generated: usize) -> f64 {
    let a = auroc.clamp(0.0, 1.0);
    let (q1, q2) = (a / (2.0 - a), 2.0 * a * a / (1.0 + a));
    let (n1, n2) = (n_real.max(1) as f64, n_generated.max(1) as f64);
    ((a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n2 - 1.0) * (q2 - a * a)) / (n1 * n2)).max(0.0).sqrt()
}

/// Whether the model just validated, with figure `auroc`, replaces the kept one, given the lowest figure so far
/// (`None`: this is the first): it does when its figure is within one standard error of that lowest figure.
///
/// The latest such model, not the lowest figure's, is kept because the figure of a few hundred validation cells
/// is noisy (one standard error is ~0.023 at 302 cells) while later models are trained longer and, in the
/// learning-rate cooldown, annealed: in 16 runs on pbmc_facs_2k and mouse_bladder the lowest figure was an
/// earlier model's in 10, and in all 10 the last model was better on the test split, by 0.003-0.044 RF AUROC
/// (BENCHMARKS.md, Session 13). A model clearly worse than the best so far (a late divergence or collapse) is
/// still not kept.
///
/// The figure is a cross-validated kNN AUROC averaged over [`GENERATED_SETS`] generated sets, not one AUROC of
/// `n_cells` pairs, so Hanley and McNeil's error (for one AUROC) somewhat overstates its noise: the rule errs
/// towards keeping later models, which is the side the evidence above favours.
pub fn keeps(auroc: f64, lowest: Option<f64>, n_cells: usize) -> bool {
    match lowest {
        _ if !auroc.is_finite() => false,
        None => true,
        Some(lowest) => auroc <= lowest + auroc_standard_error(lowest, n_cells, n_cells),
    }
}

/// Records the figure `auroc` of the model at `step`: updates the lowest figure so far (`lowest`, with its step)
/// and, when [`keeps`] says so, the kept model's (`kept`). Returns whether the model is to be kept (written).
pub fn record(
    lowest: &mut Option<(f64, u64)>,
    kept: &mut Option<(f64, u64)>,
    auroc: f64,
    step: u64,
    n_cells: usize,
) -> bool {
    let keep = keeps(auroc, lowest.map(|(figure, _)| figure), n_cells);
    if keep {
        *kept = Some((auroc, step));
    }
    if auroc.is_finite() && lowest.is_none_or(|(figure, _)| auroc < figure) {
        *lowest = Some((auroc, step));
    }
    keep
}

/// Of the figures of one model at several count noises (lowest noise first, the first without noise), the one to
/// generate with: no noise unless the cells without it are clearly more spread out than the validation cells (their
/// [`ValidationScore::spread_ratio`] above `1 + tolerance`, [`Validator::spread_tolerance`]: about two standard
/// errors of the ratio); if they are, the noise whose spread is nearest halfway between theirs and the validation
/// cells'.
///
/// Why spread: a share of Poisson noise pulls cells together on the principal components (on the log scale a
/// Poisson draw lowers a gene's expected value most where it is a few counts, so differences between cells shrink
/// more than the draws add), which is what a generator whose cells are too far apart needs and what one whose cells
/// are spread as real ones are does not. Why halfway: the excess is between the cell types (their mean cells too far
/// apart) while the noise narrows each type as well, so the test figures were best with the noise that closes about
/// half of it, not all: on mouse_bladder, cells 8-12% more spread out than the validation cells without noise, the
/// best test figures came at 25% (spread 1.04-1.07) and not at 50% (0.98-1.01), in three runs; on pbmc_facs_2k the
/// cells were within 2% without noise, where every noise made the test figures worse (BENCHMARKS.md, Session 19).
/// The spread of a few hundred cells is a far steadier figure than the kNN AUROC this rule replaced, whose standard
/// error (~0.023) was as large as the differences between noises (Session 18).
///
/// # Panics
///
/// If `figures` is empty ([`Validator::score_each_noise`] always gives at least one).
pub fn choose_count_noise(figures: &[ValidationScore], tolerance: f64) -> ValidationScore {
    assert!(!figures.is_empty(), "no figures to choose from");
    let without = figures[0];
    if without.spread_ratio.is_nan() || without.spread_ratio <= 1.0 + tolerance {
        return without;
    }
    let halfway = (1.0 + without.spread_ratio) / 2.0;
    let distance = |f: &&ValidationScore| (f.spread_ratio - halfway).abs();
    *figures
        .iter()
        .filter(|f| f.spread_ratio.is_finite())
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .unwrap_or(&without)
}

/// The validation figures of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationScore {
    /// Mean cross-validated kNN AUROC of validation vs generated cells (0.5: indistinguishable; 1: always told
    /// apart), at the count noise below. The figure the saved model is chosen by.
    pub knn_auroc: f64,
    /// Unbiased MMD² between the validation cells and the first generated set, at the count noise below.
    pub mmd: f64,
    /// The count noise these figures are at (0 unless the counts are rescaled).
    pub count_noise: f64,
    /// How spread out the generated cells are against the validation cells: the total variance of their scores on
    /// the principal components over the validation cells' (mean over the generated sets; 1: as spread).
    pub spread_ratio: f64,
}

/// Precomputed projection and reference cells of the validation figure.
pub struct Validator {
    /// Library sizes of the training cells of every class (one pool without classes).
    pools: Vec<Vec<f64>>,
    library_size: f64,
    /// What the critic saw in training, which says how the generated cells become counts (as `generate` makes
    /// them by default).
    critic_counts: CriticCounts,
    seed: u64,
    pca: Pca,
    reference: Vec<f64>,
    median_distance: f64,
    /// The validation cells' total variance on the components, and its relative standard error.
    reference_spread: (f64, f64),
    z: Vec<f32>,
    labels: Vec<u32>,
    /// With `--library-input`: how the generator reads the library sizes, drawn before generating.
    library_input: Option<LibraryInput>,
}

/// Scores as the projection sees them: `(n, n_components)` row-major, from a `(n, n_genes)` matrix of cells at
/// the model's library size.
fn project(pca: &Pca, normalized_log: &CsrMatrix) -> Vec<f64> {
    let scores = pca.transform(normalized_log);
    let (n, k) = (scores.nrows(), scores.ncols());
    let mut rows = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in 0..k {
            rows.push(scores[(i, j)]);
        }
    }
    rows
}

/// The total variance of `scores` (`(n, dim)` row-major): the mean squared distance of a cell from the mean cell,
/// with its relative standard error (the spread of those squared distances over `sqrt(n)` and their mean).
pub fn total_variance(scores: &[f64], dim: usize) -> (f64, f64) {
    let n = scores.len() / dim.max(1);
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let mut mean = vec![0.0; dim];
    for row in scores.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n as f64);
    }
    let squared: Vec<f64> =
        scores.chunks_exact(dim).map(|row| row.iter().zip(&mean).map(|(v, m)| (v - m).powi(2)).sum()).collect();
    let (total, sd) = crate::evaluate::stats::mean_sd(&squared);
    (total, sd / (n as f64).sqrt() / total)
}

impl Validator {
    /// Fits the projection on `train` and prepares up to [`MAX_VALIDATION_CELLS`] of `validation`.
    pub fn new(
        train: &CellSet,
        validation: &CellSet,
        latent_dim: usize,
        library_size: f32,
        params: &TrainParams,
    ) -> Result<Self> {
        let (seed, critic_counts) = (params.seed, params.critic_counts);
        let n_genes = train.counts.n_cols();
        let pca_params = PcaParams {
            n_components: 50,
            seed,
            solver: if n_genes <= 4000 { PcaSolver::Covariance } else { PcaSolver::Randomized },
            ..Default::default()
        };
        let pca = Pca::fit(&log_normalize(&train.counts, EVALUATED_AT), &pca_params)?;
        let n = validation.len().min(MAX_VALIDATION_CELLS);
        let rows: Vec<usize> = (0..n).collect();
        let subset = validation.counts.select_rows(&rows);
        let reference = project(&pca, &log_normalize(&subset, EVALUATED_AT));
        let dim = pca.n_components();
        let median_distance = median_pairwise_distance(&reference, dim).max(1e-12);
        let reference_spread = total_variance(&reference, dim);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a11_da7e);
        let z = (0..GENERATED_SETS * n * latent_dim).map(|_| StandardNormal.sample(&mut rng)).collect();
        let labels = rows.iter().map(|&i| validation.labels[i]).collect();
        let classes = train.labels.iter().chain(&validation.labels).map(|&l| l as usize + 1).max().unwrap_or(1);
        let pools = train.library_sizes_by_class(classes);
        Ok(Validator {
            library_size: library_size as f64,
            critic_counts,
            seed,
            pca,
            reference,
            median_distance,
            reference_spread,
            z,
            labels,
            library_input: params.library_input.then(|| {
                let conditional = params.model == super::ModelChoice::Cscgan;
                LibraryInput::new(&pools.iter().map(Vec::as_slice).collect::<Vec<_>>(), conditional)
            }),
            pools,
        })
    }

    /// Validation cells compared (as many generated cells are compared with them).
    pub fn n_cells(&self) -> usize {
        self.labels.len()
    }

    /// The validation figures of the cells generated by `model` at every count noise compared
    /// ([`COUNT_NOISE_CHOICES`] for rescaled counts, else none), lowest noise first.
    pub fn score_each_noise(&self, model: &mut dyn GanBackend) -> Vec<ValidationScore> {
        let n = self.labels.len();
        let dim = self.pca.n_components();
        // Real rows first, then generated: one label vector and fold assignment serves every set.
        let is_generated: Vec<bool> = (0..2 * n).map(|i| i >= n).collect();
        let n_folds = n.min(5);
        let folds = stratified_folds(&is_generated, n_folds, 0x7a11_da7e);
        let noises = self.count_noises();
        let mut mmd = vec![f64::NAN; noises.len()];
        let mut auroc_sum = vec![0.0; noises.len()];
        let mut spread_sum = vec![0.0; noises.len()];
        self.each_generated_set(model, |set, k, projected| {
            spread_sum[k] += total_variance(projected, dim).0;
            if set == 0 {
                mmd[k] = mmd_with_median(&self.reference, projected, dim, self.median_distance).unbiased;
            }
            let both = [self.reference.as_slice(), projected].concat();
            let classifier = Classifier::Knn { k: NEIGHBOURS };
            let per_fold = cross_validated_auroc(&both, dim, &is_generated, &folds, n_folds, classifier);
            auroc_sum[k] += per_fold.iter().sum::<f64>() / n_folds as f64;
        });
        (0..noises.len())
            .map(|k| ValidationScore {
                knn_auroc: auroc_sum[k] / GENERATED_SETS as f64,
                mmd: mmd[k],
                count_noise: noises[k],
                spread_ratio: spread_sum[k] / GENERATED_SETS as f64 / self.reference_spread.0,
            })
            .collect()
    }

    /// How far above 1 a [`ValidationScore::spread_ratio`] may be and still count as spread as the validation cells
    /// ([`choose_count_noise`]): 1.96 standard errors of the ratio, one-sided at 2.5%. The ratio's error is mostly
    /// the validation cells' (2-3% for a few hundred cells); the generated side, [`GENERATED_SETS`] times as many
    /// cells, is taken to vary as they do.
    pub fn spread_tolerance(&self) -> f64 {
        let relative_error = self.reference_spread.1;
        1.96 * relative_error * (1.0 + 1.0 / GENERATED_SETS as f64).sqrt()
    }

    /// The count noises compared: [`COUNT_NOISE_CHOICES`] for rescaled counts, else none.
    fn count_noises(&self) -> &'static [f64] {
        if self.critic_counts.generated_counts() == CountSampling::Rescale {
            &COUNT_NOISE_CHOICES
        } else {
            &[0.0]
        }
    }

    /// Generates the [`GENERATED_SETS`] sets of cells by `model` and hands `visit` each set's projected scores at
    /// every count noise of [`Self::count_noises`]: `visit(set, noise_index, scores)`.
    fn each_generated_set(&self, model: &mut dyn GanBackend, mut visit: impl FnMut(usize, usize, &[f64])) {
        let n_genes = model.config().n_genes;
        let n = self.labels.len();
        let labels: &[u32] = if model.config().n_classes() > 0 { &self.labels } else { &[] };
        let latent = self.z.len() / (n * GENERATED_SETS);
        let mut generated = vec![0f32; n * n_genes];
        let method = self.critic_counts.generated_counts();
        let classes: Vec<usize> = self.labels.iter().map(|&l| l as usize).collect();
        let pools: Vec<&[f64]> = self.pools.iter().map(Vec::as_slice).collect();
        for set in 0..GENERATED_SETS {
            let set_seed = self.seed ^ 0xc0_7e75 ^ set as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(set_seed);
            let mut z = self.z[set * n * latent..(set + 1) * n * latent].to_vec();
            // a generator that reads the library sizes gets them drawn first, as `scgan generate` does
            let drawn_first = self.library_input.as_ref().map(|input| {
                let sizes = draw_from_pools(&classes, &pools, self.library_size, &mut rng);
                input.write(&mut z, latent, &classes, &sizes);
                sizes
            });
            model.generate(&z, labels, &mut generated);
            debug_assert!(generated.iter().all(|v| v.is_finite()));
            let profiles = CsrMatrix::from_dense(&generated, n_genes);
            let sizes = drawn_first.unwrap_or_else(|| {
                let match_complexity = self.critic_counts.matches_library_size_to_complexity();
                draw_library_sizes(&profiles, &classes, &pools, self.library_size, match_complexity, &mut rng)
            });
            // every noise from the same profiles, library sizes and seed (the rounding's random numbers are not the
            // same draws once Poisson draws share a row's stream, so the pairing is close, not exact)
            for (k, &noise) in self.count_noises().iter().enumerate() {
                let counts = make_counts(&profiles, &sizes, self.library_size, method, noise, set_seed);
                visit(set, k, &project(&self.pca, &log_normalize(&counts, EVALUATED_AT)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_error_is_hanley_and_mcneils() {
        // A = 0.8, 50 a side: Q1 = 0.8 / 1.2 = 0.6667, Q2 = 1.28 / 1.8 = 0.7111,
        // SE^2 = (0.16 + 49 (0.6667 - 0.64) + 49 (0.7111 - 0.64)) / 2500 = 0.001980, SE = 0.0445
        assert!((auroc_standard_error(0.8, 50, 50) - 0.0445).abs() < 5e-4);
        // chance level: sqrt((0.25 + 2 (n - 1) / 12) / n^2), 0.0235 for 302 cells a side
        assert!((auroc_standard_error(0.5, 302, 302) - 0.0235).abs() < 5e-4);
        assert!(auroc_standard_error(0.55, 1000, 1000) < auroc_standard_error(0.55, 100, 100));
    }

    #[test]
    fn a_later_model_within_one_standard_error_is_kept_and_a_worse_one_is_not() {
        assert!(keeps(0.7, None, 302), "the first figure");
        assert!(!keeps(f64::NAN, None, 302));
        assert!(keeps(0.52, Some(0.54), 302), "a lower figure");
        assert!(keeps(0.55, Some(0.54), 302), "0.01 above the lowest, well within its ~0.023");
        assert!(!keeps(0.60, Some(0.54), 302), "0.06 above: a clearly worse model");
        assert!(!keeps(0.55, Some(0.54), 1_000_000), "with a million cells 0.01 is far beyond the noise");
    }

    #[test]
    fn count_noise_closes_half_of_a_clear_excess_of_spread() {
        let figures = |spread: [f64; 5]| -> Vec<ValidationScore> {
            COUNT_NOISE_CHOICES
                .iter()
                .zip(spread)
                .map(|(&count_noise, spread_ratio)| ValidationScore {
                    knn_auroc: 0.55,
                    mmd: 0.0,
                    count_noise,
                    spread_ratio,
                })
                .collect()
        };
        // Session 19's runs' spread ratios and tolerances: pbmc_facs_2k wants no noise, mouse_bladder 25%
        let pbmc = choose_count_noise(&figures([1.0192, 0.9897, 0.9591, 0.9263, 0.9165]), 0.0490);
        assert_eq!(pbmc.count_noise, 0.0);
        let bladder = choose_count_noise(&figures([1.0957, 1.0372, 0.9736, 0.9237, 0.9045]), 0.0598);
        assert_eq!(bladder.count_noise, 0.25);
        let twenty_minutes = choose_count_noise(&figures([1.123, 1.066, 1.009, 0.955, 0.936]), 0.0598);
        assert_eq!(twenty_minutes.count_noise, 0.25, "halfway, not the spread nearest 1");
        // clearly too spread out: the noise nearest halfway to 1
        assert_eq!(choose_count_noise(&figures([1.3, 1.2, 1.15, 1.1, 1.12]), 0.05).count_noise, 0.5);
        let one = choose_count_noise(&figures([1.3, 1.0, 1.0, 1.0, 1.0])[..1], 0.05);
        assert_eq!(one.count_noise, 0.0);
        // a figure that could not be computed is never chosen over one that could
        let some_nan = choose_count_noise(&figures([1.2, f64::NAN, f64::NAN, 1.1, 1.15]), 0.05);
        assert_eq!(some_nan.count_noise, 0.75);
        assert_eq!(choose_count_noise(&figures([f64::NAN; 5]), 0.05).count_noise, 0.0);
    }

    #[test]
    fn total_variance_and_its_relative_error() {
        // one component, cells at 0, 0, 0, 4: squared distances from the mean 1 are 1, 1, 1, 9; mean 3;
        // their sample standard deviation is 4, so the relative error is 4 / sqrt(4) / 3
        let (total, relative_error) = total_variance(&[0.0, 0.0, 0.0, 4.0], 1);
        assert!((total - 3.0).abs() < 1e-12 && (relative_error - 2.0 / 3.0).abs() < 1e-12);
        // two components add: (0, 0) and (2, 2) are each sqrt(2) from their mean
        assert!((total_variance(&[0.0, 0.0, 2.0, 2.0], 2).0 - 2.0).abs() < 1e-12);
        assert!(total_variance(&[1.0, 2.0], 2).0.is_nan(), "one cell has no spread");
    }

    #[test]
    fn a_run_keeps_the_latest_model_near_the_lowest_figure() {
        // 302 cells: one standard error is ~0.023 near 0.5-0.6
        let (mut lowest, mut kept) = (None, None);
        let mut written = Vec::new();
        for (step, auroc) in [(1, 0.60), (2, 0.62), (3, 0.50), (4, 0.52), (5, f64::NAN), (6, 0.60), (7, 0.49)] {
            if record(&mut lowest, &mut kept, auroc, step, 302) {
                written.push(step);
            }
            let expected = match step {
                1 | 2 => (0.60, 1),
                _ if step < 7 => (0.50, 3),
                _ => (0.49, 7),
            };
            assert_eq!(lowest, Some(expected), "lowest after step {step}");
        }
        // 0.62 is within 0.023 of 0.60; 0.52 of 0.50; NaN never; 0.60 is 0.10 above 0.50.
        assert_eq!(written, [1, 2, 3, 4, 7]);
        assert_eq!(kept, Some((0.49, 7)));
    }
}
