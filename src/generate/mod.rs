//! Generating cells from a trained run, as library-size-normalised profiles and as integer counts.
//!
//! The generator outputs, for every cell, a profile normalised to the model's library size (20,000): the LSN
//! layer makes every cell sum to it. To give cells realistic totals, each generated cell of type `t` draws a
//! library size `L` from the real library sizes of type `t`'s training cells (kept in the run's `data.json`), and
//! the profile is turned into `L` counts ([`CountSampling`]), by default the way the model's critic saw them in
//! training ([`crate::train::CriticCounts::generated_counts`]). A model whose critic saw rounded counts
//! (the default preset) gets its profiles rescaled to `L` with random rounding. One whose critic saw profiles
//! (the paper) learnt normalised *observed* cells, whose zeros say which genes were detected: every gene it
//! expressed keeps at least
//! one count and the others share the rest of `L` by rescaling (`detected`), since sampling again would add the
//! sampling noise a second time and plain rescaling loses the genes it put below one count (BENCHMARKS.md,
//! "Session 4"). A model trained with sampled counts learnt expected profiles; its counts are drawn
//! `Multinomial(L, profile / 20,000)`, which reproduces the drawn total exactly. One trained with rounded-Poisson
//! counts gets its counts as its critic saw them: each value's first count by random rounding, the rest Poisson.
//! `--normalized-only` skips counts.
//!
//! Cells are generated in batches in inference mode (batch norm with running statistics), so a cell does not
//! depend on its batch. Every cell's sampling uses its own generator seeded by `(seed, cell)`, so the result does
//! not depend on the thread count.

use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};
use rayon::prelude::*;

use crate::data::{Column, CountMatrix, CsrMatrix, Frame};
use crate::engine::CpuGan;
use crate::error::{Error, Result};
use crate::model::GanBackend;
use crate::train::run::{load_model, read_json, DataDescription, RunFolder};
use crate::train::setup::RunConfig;

/// How many cells of which types to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum CellCounts {
    /// This many cells in total, types in the training proportions.
    Total(usize),
    /// Per type: (type name, number of cells).
    PerType(Vec<(String, usize)>),
}

/// How integer counts are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountSampling {
    /// `Multinomial(L, profile / library_size)` with `L` drawn from the type's real library sizes.
    Multinomial,
    /// `profile * L / library_size`, each value rounded up or down at random with the probability of its
    /// fraction (so the expected count is the scaled value). The generator learnt normalised *observed* cells,
    /// sampling noise included; multinomial sampling adds a second round of that noise, rescaling does not.
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

/// Settings of [`Generator::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    /// How many cells of which types.
    pub cells: CellCounts,
    /// Seed of the latent vectors, library sizes and counts.
    pub seed: u64,
    /// Counts or normalised values only.
    pub counts: CountSampling,
    /// Threads of the network engine.
    pub threads: usize,
}

/// Parses `NAME=N`, splitting at the last `=` (type names may contain `=`, `+`, `/` and spaces).
pub fn parse_type_count(text: &str) -> Result<(String, usize)> {
    let bad = || Error::parameter("--cell-type", format!("'{text}' is not NAME=N (e.g. \"CD56+ NK=2000\")"));
    let (name, count) = text.rsplit_once('=').ok_or_else(bad)?;
    let count = count.trim().parse::<usize>().map_err(|_| bad())?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok((name.to_string(), count))
}

/// Splits `total` over classes by their proportions (largest remainders, so the parts add up to `total`).
pub fn allocate(total: usize, proportions: &[f64]) -> Vec<usize> {
    let exact: Vec<f64> = proportions.iter().map(|p| p * total as f64).collect();
    let mut parts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let missing = total.saturating_sub(parts.iter().sum());
    for &k in order.iter().cycle().take(missing) {
        parts[k] += 1;
    }
    parts
}

/// The class of every cell when `counts[k]` cells of class `k` are made, classes in order.
pub fn class_labels(counts: &[usize]) -> Vec<u32> {
    counts.iter().enumerate().flat_map(|(k, &n)| std::iter::repeat_n(k as u32, n)).collect()
}

/// A loaded run, ready to generate.
pub struct Generator {
    model: Box<dyn GanBackend>,
    /// The run's configuration.
    pub config: RunConfig,
    /// The run's data description.
    pub description: DataDescription,
    /// The training step the loaded weights come from.
    pub step: u64,
    run: PathBuf,
}

impl Generator {
    /// How this run's counts are made unless asked otherwise: the kind its critic saw
    /// ([`crate::train::CriticCounts::generated_counts`]).
    pub fn trained_counts(&self) -> CountSampling {
        self.config.train.critic_counts.generated_counts()
    }

    /// Loads the run in `folder` (its `model.safetensors`, the weights chosen by validation).
    pub fn load(folder: &Path, threads: usize) -> Result<Generator> {
        let run = RunFolder::new(folder);
        if !run.config().exists() {
            return Err(Error::io(
                run.config(),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a run folder (no config.json); train one with `scgan train`",
                ),
            ));
        }
        let config = RunConfig::read(&run.config())?;
        let description: DataDescription = read_json(&run.data())?;
        if config.model.n_genes != description.genes.len() {
            return Err(Error::format(run.data(), "genes", "does not match the model's gene count in config.json"));
        }
        let mut model: Box<dyn GanBackend> =
            Box::new(CpuGan::new(config.model.clone(), config.train.optimizer, 0, threads.max(1))?);
        let step = load_model(&run, model.as_mut())?;
        Ok(Generator { model, config, description, step, run: folder.to_path_buf() })
    }

    /// The class of every cell to generate, in order.
    fn labels(&self, cells: &CellCounts) -> Result<Vec<u32>> {
        let conditional = self.config.model.n_classes() > 0;
        let counts: Vec<usize> = match cells {
            CellCounts::Total(n) if conditional => allocate(*n, &self.description.class_proportions),
            CellCounts::Total(n) => vec![*n],
            CellCounts::PerType(_) if !conditional => {
                return Err(Error::parameter("--cell-type", "this run is an unconditional scGAN: use --n"))
            }
            CellCounts::PerType(requests) => {
                let mut counts = vec![0; self.description.classes.len()];
                for (name, n) in requests {
                    match self.description.classes.iter().position(|c| c == name) {
                        Some(k) => counts[k] += n,
                        None => {
                            return Err(Error::parameter(
                                "--cell-type",
                                format!(
                                    "unknown type '{name}'; the known types are: {}",
                                    self.description.classes.join(", ")
                                ),
                            ))
                        }
                    }
                }
                counts
            }
        };
        Ok(class_labels(&counts))
    }

    /// Generates cells as a [`CountMatrix`]: `X` counts (or the profiles with `NormalizedOnly`),
    /// `layers['normalized']` the profiles, `obs[label key]` the types, `obs['library_size']`.
    pub fn generate(&mut self, params: &GenerateParams) -> Result<CountMatrix> {
        let requested: usize = match &params.cells {
            CellCounts::Total(n) => *n,
            CellCounts::PerType(requests) => requests.iter().fold(0usize, |sum, (_, n)| sum.saturating_add(*n)),
        };
        let flag = if matches!(params.cells, CellCounts::Total(_)) { "--n" } else { "--cell-type" };
        if requested == 0 {
            return Err(Error::parameter(flag, "asks for 0 cells; ask for at least one"));
        }
        let config = self.config.model.clone();
        // Up front, before anything is allocated: X and layers['normalized'] in CSR, at worst every value
        // non-zero (generated profiles are dense), plus one batch of the network's output.
        let n_genes = config.n_genes as u64;
        let needed =
            crate::io::memory::csr_bytes(requested as u64, n_genes, (requested as u64).saturating_mul(n_genes))
                .saturating_mul(2);
        crate::io::memory::ensure_fits(&self.run, flag, &format!("{requested} cells x {n_genes} genes"), needed)
            .map_err(|e| match e {
                Error::InvalidData { message, .. } => Error::parameter(
                    flag,
                    message.replace("reading it needs", "generating them needs").replace(
                        "refused before reading (use a machine with more memory, or subset the data first;",
                        "refused before generating (ask for fewer cells per run, with a different --seed each;",
                    ),
                ),
                other => other,
            })?;
        let labels = self.labels(&params.cells)?;
        let n_cells = labels.len();
        let (n_genes, latent) = (config.n_genes, config.latent_dim);
        let conditional = config.n_classes() > 0;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let batch = 1024;
        let mut profiles: Vec<CsrMatrix> = Vec::new();
        let mut buffer = vec![0f32; batch * n_genes];
        for start in (0..n_cells).step_by(batch) {
            let count = batch.min(n_cells - start);
            let z: Vec<f32> = (0..count * latent).map(|_| StandardNormal.sample(&mut rng)).collect();
            let batch_labels: &[u32] = if conditional { &labels[start..start + count] } else { &[] };
            self.model.generate(&z, batch_labels, &mut buffer[..count * n_genes]);
            profiles.push(CsrMatrix::from_dense(&buffer[..count * n_genes], n_genes));
        }
        let normalized = CsrMatrix::vstack(&profiles, n_genes);
        if normalized.data().iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid_data(&self.run, "model.safetensors", "the model generates non-finite values"));
        }

        let every_cell = self.description.library_sizes.concat();
        let pools: Vec<&[f64]> = if conditional {
            self.description.library_sizes.iter().map(Vec::as_slice).collect()
        } else {
            vec![every_cell.as_slice()]
        };
        let classes: Vec<usize> = (0..n_cells).map(|i| if conditional { labels[i] as usize } else { 0 }).collect();
        let match_complexity = self.config.train.critic_counts.matches_library_size_to_complexity();
        let library_sizes =
            draw_library_sizes(&normalized, &classes, &pools, config.library_size as f64, match_complexity, &mut rng);
        let x = match params.counts {
            CountSampling::NormalizedOnly => normalized.clone(),
            counts => make_counts(&normalized, &library_sizes, config.library_size as f64, counts, params.seed),
        };

        let mut obs = Frame::new((0..n_cells).map(|i| format!("generated-{i}")).collect());
        if conditional {
            let key = self.description.label_key.clone().unwrap_or_else(|| "cell_type".to_string());
            let codes = labels.iter().map(|&l| l as i32).collect();
            obs.insert(
                &key,
                Column::Categorical { codes, categories: self.description.classes.clone(), ordered: false },
            );
        }
        let totals = if params.counts == CountSampling::Multinomial { library_sizes } else { x.row_sums() };
        obs.insert("library_size", Column::Float(totals));
        let var = Frame::new(self.description.genes.clone());
        let mut matrix = CountMatrix::new(x, obs, var)?;
        matrix.layers.insert("normalized".to_string(), normalized);
        matrix.uns.insert(
            "scgan".to_string(),
            serde_json::json!({
                "version": crate::VERSION,
                "generated": {
                    "run": self.run.display().to_string(),
                    "model": match config.kind { crate::model::ModelKind::Scgan => "scgan", _ => "cscgan" },
                    "step": self.step,
                    "seed": params.seed,
                    "counts": params.counts,
                    "n_cells": n_cells,
                },
            }),
        );
        Ok(matrix)
    }
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
    let mut library_sizes: Vec<f64> = classes
        .iter()
        .map(|&k| {
            let pool = pools[k];
            if pool.is_empty() {
                total
            } else {
                pool[rng.random_range(0..pool.len())]
            }
        })
        .collect();
    if !match_complexity {
        return library_sizes;
    }
    for (k, pool) in pools.iter().enumerate() {
        let cells: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == k).collect();
        match_library_sizes(profiles, &cells, &mut library_sizes, total, pool);
    }
    library_sizes
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
pub(crate) fn make_counts(
    profiles: &CsrMatrix,
    library_sizes: &[f64],
    total: f64,
    method: CountSampling,
    seed: u64,
) -> CsrMatrix {
    match method {
        CountSampling::Multinomial => sample_counts(profiles, library_sizes, seed),
        CountSampling::Rescale => rescale_counts(profiles, library_sizes, total, seed),
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
            return rescale_row(cols, values, library_sizes[i] / total, rng);
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
fn rescale_row(cols: &[u32], values: &[f32], scale: f64, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<f32>) {
    counts_row(cols, values, |v| random_round(v as f64 * scale, rng))
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

/// `profile_i * library_sizes[i] / total`, randomly rounded (up with the probability of the fraction); each row
/// with its own generator seeded by `(seed, row)`.
pub(crate) fn rescale_counts(profiles: &CsrMatrix, library_sizes: &[f64], total: f64, seed: u64) -> CsrMatrix {
    map_rows(profiles, seed, |i, cols, values, rng| rescale_row(cols, values, library_sizes[i] / total, rng))
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

    #[test]
    fn type_counts_split_at_the_last_equals_sign() {
        assert_eq!(parse_type_count("CD56+ NK=2000").unwrap(), ("CD56+ NK".to_string(), 2000));
        assert_eq!(parse_type_count("a=b/c d=7").unwrap(), ("a=b/c d".to_string(), 7));
        assert!(parse_type_count("NK").is_err());
        assert!(parse_type_count("NK=many").is_err());
        assert!(parse_type_count("=3").is_err());
    }

    #[test]
    fn allocation_adds_up() {
        assert_eq!(allocate(10, &[0.5, 0.3, 0.2]), vec![5, 3, 2]);
        assert_eq!(allocate(7, &[0.34, 0.33, 0.33]).iter().sum::<usize>(), 7);
        assert_eq!(allocate(0, &[1.0]), vec![0]);
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
        let counts = rescale_counts(&stacked, &vec![1_000.0; n], 20_000.0, 5);
        assert!(counts.data().iter().all(|v| v.fract() == 0.0));
        let mean = |j: usize| (0..n).map(|i| counts.get(i, j) as f64).sum::<f64>() / n as f64;
        assert_eq!(mean(0), 500.0);
        assert!((mean(2) - 199.5).abs() < 0.05, "{}", mean(2));
        assert!((mean(3) - 0.5).abs() < 0.05, "{}", mean(3));
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
        let moments = |values: Vec<f64>| {
            let mean = values.iter().sum::<f64>() / n as f64;
            (mean, values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64)
        };
        let low = column(0);
        assert!(low.iter().all(|&k| k <= 1.0), "a value below one count is rounded");
        assert!((moments(low).0 - 0.3).abs() < 0.015);
        for (j, lambda) in [(1, 3.0), (2, 30.0)] {
            let values = column(j);
            assert!(values.iter().all(|&k| k >= 1.0), "the first count is certain above one count");
            let (mean, variance) = moments(values);
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
