//! Generating cells from a trained run, as library-size-normalised profiles and as integer counts.
//!
//! The generator outputs, for every cell, a profile normalised to the model's library size (20,000): the LSN
//! layer makes every cell sum to it. To give cells realistic totals, each generated cell of type `t` draws a
//! library size `L` from the real library sizes of type `t`'s training cells (kept in the run's `data.json`), and
//! the profile is turned into `L` counts ([`CountSampling`]), by default the way the model's critic saw them in
//! training ([`crate::train::CriticCounts::generated_counts`]). A model whose critic saw rounded counts
//! (the default preset) gets its profiles rescaled to `L` with random rounding, with the share of Poisson noise
//! that training chose for it on validation cells ([`Generator::count_noise`]). One whose critic saw profiles
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

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

mod counts;
mod library;
pub use counts::CountSampling;
pub(crate) use counts::{draw_from_pools, draw_library_sizes, make_counts};
pub use library::LibraryInput;

use crate::data::{Column, CountMatrix, CsrMatrix, Frame};
use crate::engine::CpuGan;
use crate::error::{Error, Result};
use crate::model::GanBackend;
use crate::train::run::{load_model, read_json, DataDescription, RunFolder};
use crate::train::setup::RunConfig;

/// Mixed into the seed of the library sizes drawn before generating (`--library-input`).
const LIBRARY_SEED: u64 = 0x11b5_12e5;

/// How many cells of which types to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum CellCounts {
    /// This many cells in total, types in the training proportions.
    Total(usize),
    /// Per type: (type name, number of cells).
    PerType(Vec<(String, usize)>),
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
    /// With rescaled counts, the fraction of each expected count drawn as Poisson (`make_counts`); `None`: the
    /// run's own, chosen on validation cells in training ([`Generator::count_noise`]).
    pub count_noise: Option<f64>,
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
    /// The count noise chosen for the loaded weights on validation cells (0 if none was).
    pub count_noise: f64,
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
        description.check(&run.data(), &config.model)?;
        let mut model: Box<dyn GanBackend> =
            Box::new(CpuGan::new(config.model.clone(), config.train.optimizer, 0, threads.max(1))?);
        let saved = load_model(&run, model.as_mut())?;
        Ok(Generator {
            model,
            config,
            description,
            step: saved.step,
            count_noise: saved.count_noise,
            run: folder.to_path_buf(),
        })
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

    /// The count noise of `params`: the one asked for, else the run's with rescaled counts; checked.
    fn count_noise_for(&self, params: &GenerateParams) -> Result<f64> {
        match params.count_noise {
            None if params.counts == CountSampling::Rescale => Ok(self.count_noise),
            None => Ok(0.0),
            Some(noise) if !(0.0..=1.0).contains(&noise) => {
                Err(Error::parameter("--count-noise", format!("{noise} is not a fraction in [0, 1]")))
            }
            Some(noise) if noise > 0.0 && params.counts != CountSampling::Rescale => Err(Error::parameter(
                "--count-noise",
                format!(
                    "applies to rescaled counts only, and these are {}: give --counts rescale with it, or leave it out",
                    serde_json::to_value(params.counts)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )),
            Some(noise) => Ok(noise),
        }
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
        let count_noise = self.count_noise_for(params)?;
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
        let every_cell = self.description.library_sizes.concat();
        let pools: Vec<&[f64]> = if conditional {
            self.description.library_sizes.iter().map(Vec::as_slice).collect()
        } else {
            vec![every_cell.as_slice()]
        };
        let classes: Vec<usize> = (0..n_cells).map(|i| if conditional { labels[i] as usize } else { 0 }).collect();
        // A generator that reads its cells' library sizes gets them drawn first (from a stream of their own, so
        // that the latent vectors are those of a run without it).
        let library_input = self.config.train.library_input.then(|| {
            let mut size_rng = ChaCha8Rng::seed_from_u64(params.seed ^ LIBRARY_SEED);
            let sizes = draw_from_pools(&classes, &pools, config.library_size as f64, &mut size_rng);
            (LibraryInput::new(&pools, conditional), sizes)
        });
        let batch = 1024;
        let mut profiles: Vec<CsrMatrix> = Vec::new();
        let mut buffer = vec![0f32; batch * n_genes];
        for start in (0..n_cells).step_by(batch) {
            let count = batch.min(n_cells - start);
            let mut z: Vec<f32> = (0..count * latent).map(|_| StandardNormal.sample(&mut rng)).collect();
            if let Some((input, sizes)) = &library_input {
                let cells = start..start + count;
                input.write(&mut z, latent, &classes[cells.clone()], &sizes[cells]);
            }
            let batch_labels: &[u32] = if conditional { &labels[start..start + count] } else { &[] };
            self.model.generate(&z, batch_labels, &mut buffer[..count * n_genes]);
            profiles.push(CsrMatrix::from_dense(&buffer[..count * n_genes], n_genes));
        }
        let normalized = CsrMatrix::vstack(&profiles, n_genes);
        if normalized.data().iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid_data(&self.run, "model.safetensors", "the model generates non-finite values"));
        }

        let library_sizes = match library_input {
            Some((_, sizes)) => sizes,
            None => {
                let match_complexity = self.config.train.critic_counts.matches_library_size_to_complexity();
                let total = config.library_size as f64;
                draw_library_sizes(&normalized, &classes, &pools, total, match_complexity, &mut rng)
            }
        };
        let x = match params.counts {
            CountSampling::NormalizedOnly => normalized.clone(),
            counts => {
                make_counts(&normalized, &library_sizes, config.library_size as f64, counts, count_noise, params.seed)
            }
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
                    "count_noise": count_noise,
                    "n_cells": n_cells,
                },
            }),
        );
        Ok(matrix)
    }
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
}
