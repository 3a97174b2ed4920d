//! Training scGAN / cscGAN with WGAN-GP, as the paper does, resumable at any step.
//!
//! One *step* is the paper's generator iteration: `critic_steps` (5) critic updates, each on a fresh minibatch
//! of `batch_size` (128) real cells and as many generated ones, then one generator update. The learning rate
//! decays exponentially, `lr = lr0 * (lr_final / lr0)^(step / decay_steps)` (1e-4 to 1e-5 over 1e6 steps), as
//! the reference's `exponential_decay`; `cooldown` can add a linear fall to zero over the end of the budget
//! (the `schedule` module). The trainer owns all randomness (minibatch order, latent vectors,
//! interpolation weights, generated labels) and passes it to the model, so the same seed and thread count give
//! bit-identical weights and a resumed run continues exactly where the checkpoint left it.
//!
//! Every `validation_every` steps the [`validation`] figures (a kNN classifier's AUROC and the MMD on principal
//! components against held-out validation cells) are computed and logged; `model.safetensors` holds the latest
//! model whose AUROC is within one standard error of the lowest so far ([`validation::keeps`]). Every
//! `checkpoint_every` steps the full state is saved (see [`run`] for the folder's layout). A NaN or infinite
//! loss stops training with an error, leaving the last good checkpoint and model as they were.

pub mod data;
mod outcome;
pub mod presets;
pub mod run;
mod schedule;
pub mod setup;
pub mod validation;

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::generate::{CountSampling, LibraryInput};
use crate::model::{
    ConditionalCritic, CountDraw, CountRounding, CriticBatch, CriticInput, CriticStats, GanBackend, MeanMatching,
    ModelConfig, OptimizerConfig, Precision,
};
use data::{CellSet, EpochSampler};
use run::{save_checkpoint, save_model, LoopState, RunFolder};
use validation::Validator;

use outcome::write_log;
pub use outcome::{truncate_log, LogEntry, TrainOutcome};

/// Which network to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Unconditional scGAN.
    Scgan,
    /// Conditional cscGAN (needs labels).
    Cscgan,
}

/// What the critic is shown of a generated cell in training.
///
/// The critic learns to tell real cells, which are counts, from whatever it is shown of generated ones; the
/// generator learns what passes. Showing it the counts `scgan generate` will deliver trains the generator for
/// those (BENCHMARKS.md, "Session 5"); see [`crate::model::CountRounding`] for how they are made and their
/// gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticCounts {
    /// The generator's normalised profile itself (the paper).
    #[default]
    Profiles,
    /// The profile rescaled to a library size drawn from real cells of its type and randomly rounded to counts:
    /// the generator learns profiles that look real once rounded, so generation rescales them the same way (with
    /// the share of Poisson noise validation chose for the model, [`validation::choose_count_noise`]).
    Rounded,
    /// Poisson counts drawn from the profile at a drawn library size: the generator learns expected profiles, so
    /// generation samples counts from them (multinomially, at library sizes drawn at random).
    Sampled,
    /// As `Rounded`, but only the first count of a value is rounded and the counts beyond it are Poisson draws
    /// ([`crate::model::CountDraw::RoundedPoisson`]): the draw supplies the gene-by-gene spread of the counts of
    /// expressed genes, which rounding lacks; generation makes its counts the same way.
    RoundedPoisson,
}

impl CriticCounts {
    /// The counts `scgan generate` makes by default for a model trained this way: the kind its critic saw
    /// (profiles trained on observed cells, noise included, are rescaled with every expressed gene kept).
    pub fn generated_counts(self) -> CountSampling {
        match self {
            CriticCounts::Profiles => CountSampling::Detected,
            CriticCounts::Rounded => CountSampling::Rescale,
            CriticCounts::Sampled => CountSampling::Multinomial,
            CriticCounts::RoundedPoisson => CountSampling::RoundedPoisson,
        }
    }

    /// Whether generated cells get their drawn library sizes matched to their complexity (the most genes, the
    /// largest library): yes for profiles of observed cells, and for rounded and rounded-Poisson counts, whose
    /// sub-count values the generator placed as rounding detects them (as for rounding, it is the choice measured
    /// in BENCHMARKS.md); no for expected profiles, whose detected genes come from the draw itself.
    pub fn matches_library_size_to_complexity(self) -> bool {
        match self {
            CriticCounts::Profiles | CriticCounts::Rounded | CriticCounts::RoundedPoisson => true,
            CriticCounts::Sampled => false,
        }
    }
}

/// Settings of a training run; the defaults are the paper's (`--preset paper`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// scGAN or cscGAN.
    pub model: ModelChoice,
    /// cscGAN's critic output layer.
    pub conditional_critic: ConditionalCritic,
    /// Stop after this many steps in total (paper: 1,000,000).
    pub steps: u64,
    /// Stop after this many seconds of this session, whichever comes first.
    pub time_limit_seconds: Option<f64>,
    /// Cells per minibatch (128).
    pub batch_size: usize,
    /// Critic updates per generator update (5).
    pub critic_steps: usize,
    /// The gradient penalty is computed on one critic update in this many, with lambda times this many (1: every
    /// update, the paper). A lazy penalty, as StyleGAN2 applies its R1 penalty: the updates without it skip the
    /// interpolates and the second-order pass (with 5, a generator step is about 1.3x faster; BENCHMARKS.md,
    /// "Session 9"). Counted over all critic updates of the run ([`lazy_penalty_weight`]), so that a resumed run
    /// penalises the same updates.
    #[serde(default = "every_update")]
    pub penalty_every: usize,
    /// Initial learning rate (1e-4).
    pub learning_rate: f32,
    /// Learning rate reached after `decay_steps` (1e-5).
    pub learning_rate_final: f32,
    /// Steps over which the learning rate decays to `learning_rate_final` (1,000,000).
    pub decay_steps: u64,
    /// The generator's learning rate as a multiple of the critic's, at every step (1: the same, the paper). Two
    /// time-scale updates (Heusel et al. 2017) give the two networks different rates.
    #[serde(default = "one")]
    pub generator_learning_rate_ratio: f32,
    /// The last fraction of the budget over which the learning rate falls linearly to zero (0: none, the paper).
    /// The budget is `steps`, or this session's `time_limit_seconds`, whichever runs out first; a cooldown at the
    /// end of a constant learning rate, as warmup-stable-decay schedules do, lets a run settle where it is instead
    /// of stopping mid-stride. With a time budget the rate depends on the clock, so such a run is not reproducible
    /// step for step.
    #[serde(default)]
    pub cooldown: f32,
    /// AMSGrad settings.
    pub optimizer: OptimizerConfig,
    /// What the critic sees of a cell (the paper: the normalised values).
    #[serde(default)]
    pub critic_input: CriticInput,
    /// Decay of the moving average of the generator's weights that generation uses (the paper: none).
    #[serde(default)]
    pub generator_average: Option<f32>,
    /// What the critic is shown of a generated cell (the paper: its profile). `config.json` of older builds
    /// had two flags for it, `count_rounding` and `count_sampling`; [`setup::RunConfig::read`] carries them over.
    #[serde(default)]
    pub critic_counts: CriticCounts,
    /// Hidden widths of the generator, from the latent vector on (the paper: 256, 512, 1024).
    #[serde(default = "paper_generator_layers")]
    pub generator_layers: Vec<usize>,
    /// Hidden widths of the critic, from the genes on (the paper: 1024, 512, 256).
    #[serde(default = "paper_critic_layers")]
    pub critic_layers: Vec<usize>,
    /// Learnt per-gene noise before the generator's output ReLU ([`crate::model::ModelConfig::output_noise`];
    /// the paper: no).
    #[serde(default)]
    pub output_noise: bool,
    /// Whether the generator reads each cell's library size, drawn before generating, in the first latent
    /// coordinate ([`crate::generate::LibraryInput`]; the paper: no). Needs counts in training.
    #[serde(default)]
    pub library_input: bool,
    /// Whether the critic reads each cell's standardised library size beside its values
    /// ([`crate::model::ModelConfig::critic_depth`]; the paper: no). Needs `library_input`, whose drawn sizes
    /// are the generated cells' depths.
    #[serde(default)]
    pub critic_depth: bool,
    /// Weight of the generator loss's mean-matching term ([`crate::model::MeanMatching`]; the paper: 0, none).
    #[serde(default)]
    pub mean_matching: f32,
    /// The fraction of counts the critic is shown (1: all, the paper). Below 1 every cell the critic sees, real
    /// and generated, has each count kept with this probability, drawn afresh at every step (binomial thinning),
    /// so that the critic cannot learn the training cells' own sampling noise, which the generator would copy
    /// (BENCHMARKS.md, "Session 8"). Thinning is the same known operation on both sides and can be undone on
    /// distributions, so the generator is still pulled towards the real cells at full depth. Needs counts
    /// ([`CriticCounts`] other than profiles); non-integer values are rounded to counts before thinning.
    #[serde(default = "one")]
    pub critic_thinning: f32,
    /// The arithmetic of the matrix products (the paper: f32; [`crate::model::Precision`]).
    #[serde(default)]
    pub precision: Precision,
    /// Seed of initialisation and of every random draw.
    pub seed: u64,
    /// Threads for the network engine.
    pub threads: usize,
    /// Steps between validation figures (0: never).
    pub validation_every: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between log lines.
    pub log_every: u64,
    /// Testing aid: treat the loss of this step as NaN, to exercise divergence handling (never saved).
    #[serde(skip)]
    pub inject_nan_at: Option<u64>,
}

/// serde's default for the ratios and fractions whose paper value is 1 (all counts, the same learning rate).
fn one() -> f32 {
    1.0
}

fn every_update() -> usize {
    1
}

/// What lambda is multiplied by on critic update `index` (counted from 0 over the whole run) with a penalty on
/// one update in `every`: `every` on the last of each group of `every` updates, 0 (no penalty computed) on the
/// others, so that the penalty's weight per update is lambda on average.
pub fn lazy_penalty_weight(every: usize, index: u64) -> f32 {
    let every = every.max(1);
    if (index + 1).is_multiple_of(every as u64) {
        every as f32
    } else {
        0.0
    }
}

fn paper_generator_layers() -> Vec<usize> {
    ModelConfig::paper(1, crate::model::ModelKind::Scgan).generator_layers
}

fn paper_critic_layers() -> Vec<usize> {
    ModelConfig::paper(1, crate::model::ModelKind::Scgan).critic_layers
}

impl TrainParams {
    /// The paper's settings.
    pub fn paper() -> Self {
        TrainParams {
            model: ModelChoice::Cscgan,
            conditional_critic: ConditionalCritic::PerClassOutput,
            steps: 1_000_000,
            time_limit_seconds: None,
            batch_size: 128,
            critic_steps: 5,
            penalty_every: 1,
            learning_rate: 1e-4,
            learning_rate_final: 1e-5,
            decay_steps: 1_000_000,
            generator_learning_rate_ratio: 1.0,
            cooldown: 0.0,
            optimizer: OptimizerConfig::default(),
            critic_input: CriticInput::Normalized,
            generator_average: None,
            critic_counts: CriticCounts::Profiles,
            output_noise: false,
            library_input: false,
            critic_depth: false,
            mean_matching: 0.0,
            critic_thinning: 1.0,
            generator_layers: paper_generator_layers(),
            critic_layers: paper_critic_layers(),
            precision: Precision::F32,
            seed: 0,
            threads: 1,
            validation_every: 500,
            checkpoint_every: 100,
            log_every: 10,
            inject_nan_at: None,
        }
    }

    /// Checks the settings once, so that the loop never meets a bad one.
    pub fn check(&self) -> Result<()> {
        let positive = |name: &str, ok: bool| if ok { Ok(()) } else { Err(Error::parameter(name, "must be positive")) };
        positive("--steps", self.steps > 0)?;
        positive("--batch-size", self.batch_size > 0)?;
        positive("--critic-steps", self.critic_steps > 0)?;
        positive("--penalty-every", self.penalty_every > 0)?;
        positive("--learning-rate", self.learning_rate > 0.0 && self.learning_rate.is_finite())?;
        positive("--learning-rate-final", self.learning_rate_final > 0.0 && self.learning_rate_final.is_finite())?;
        positive("--decay-steps", self.decay_steps > 0)?;
        positive(
            "--generator-learning-rate-ratio",
            self.generator_learning_rate_ratio > 0.0 && self.generator_learning_rate_ratio.is_finite(),
        )?;
        positive("--checkpoint-every", self.checkpoint_every > 0)?;
        positive("--log-every", self.log_every > 0)?;
        positive("--threads", self.threads > 0)?;
        if self.precision == Precision::Bf16 && !crate::engine::bf16_available() {
            return Err(Error::parameter(
                "--precision",
                "bf16 products need a CPU with AMX-BF16 (Intel Xeon since Sapphire Rapids) and a Linux kernel that \
                 grants its tiles (5.16 or later); this machine has none: use --precision f32",
            ));
        }
        if !(0.0..1.0).contains(&self.cooldown) {
            return Err(Error::parameter("--cooldown", format!("fraction {} is not in [0, 1)", self.cooldown)));
        }
        if let Some(decay) = self.generator_average {
            if !(0.0..1.0).contains(&decay) {
                return Err(Error::parameter("--generator-average", format!("decay {decay} is not in [0, 1)")));
            }
        }
        if !(self.mean_matching >= 0.0 && self.mean_matching.is_finite()) {
            return Err(Error::parameter(
                "--mean-matching",
                format!("weight {} is not zero or positive", self.mean_matching),
            ));
        }
        if !(self.critic_thinning > 0.0 && self.critic_thinning <= 1.0) {
            return Err(Error::parameter(
                "--critic-thinning",
                format!("fraction {} is not in (0, 1]", self.critic_thinning),
            ));
        }
        if self.critic_thinning < 1.0 && self.critic_counts == CriticCounts::Profiles {
            return Err(Error::parameter(
                "--critic-thinning",
                "thins counts, but the critic is shown profiles: give --critic-counts rounded (or another kind), or \
                 --critic-thinning 1",
            ));
        }
        if self.library_input && self.critic_counts == CriticCounts::Profiles {
            return Err(Error::parameter(
                "--library-input",
                "gives the generator the library size its counts are made at, but the critic is shown profiles: \
                 give --critic-counts rounded (or another kind), or --library-input false",
            ));
        }
        if self.critic_depth && !self.library_input {
            return Err(Error::parameter(
                "--critic-depth",
                "shows the critic each generated cell's library size, which only --library-input draws: give \
                 --library-input true, or --critic-depth false",
            ));
        }
        if self.critic_input == CriticInput::Log1pCounts {
            let refuse = |flag: &'static str, why: &str| {
                Err(Error::parameter(flag, format!("cannot be combined with --critic-input log1p-counts: {why}")))
            };
            if self.critic_counts == CriticCounts::Profiles {
                return refuse(
                    "--critic-counts",
                    "profiles show the critic no counts (give --critic-counts rounded, sampled or rounded-poisson)",
                );
            }
            if self.critic_thinning < 1.0 {
                return refuse("--critic-thinning", "thinned cells are normalised, not counts (give 1)");
            }
            if self.mean_matching > 0.0 {
                return refuse("--mean-matching", "its targets are means of normalised cells (give 0)");
            }
        }
        if self.critic_thinning < 1.0 && self.mean_matching > 0.0 {
            // the targets are means of cells at full depth, which thinned cells do not have on the log scale
            return Err(Error::parameter(
                "--critic-thinning",
                "cannot be combined with --mean-matching (its targets are cells at full depth): give one of them",
            ));
        }
        if let Some(t) = self.time_limit_seconds {
            positive("--time", t > 0.0 && t.is_finite())?;
        }
        Ok(())
    }
}

/// The cells and labels a run trains on.
pub struct TrainingSet {
    /// Training cells.
    pub train: CellSet,
    /// Validation cells (may be empty: then there is no validation figure).
    pub validation: CellSet,
    /// Fraction of training cells per class (one entry, 1.0, without classes).
    pub class_proportions: Vec<f64>,
    /// The library size every cell is normalised to, and the model's LSN output sums to: the preprocessing's
    /// `target_sum` (the paper: 20,000 for both).
    pub library_size: f32,
}

/// Called after every step with the step's log entry (for progress bars).
pub type Progress<'a> = &'a mut dyn FnMut(&LogEntry, &TrainParams);

/// Trains `model` on `data` from `state` until the step or time limit, writing into `run`.
pub fn train(
    model: &mut dyn GanBackend,
    data: &TrainingSet,
    params: &TrainParams,
    run: &RunFolder,
    mut state: LoopState,
    progress: Progress<'_>,
) -> Result<TrainOutcome> {
    params.check()?;
    let config: ModelConfig = model.config().clone();
    let conditional = config.n_classes() > 0;
    // the critic sees the real cells' raw counts, as it sees the generated cells' (`CriticInput::Log1pCounts`)
    let counts_input = config.critic_input == CriticInput::Log1pCounts;
    let (n_genes, latent, batch) = (config.n_genes, config.latent_dim, params.batch_size);
    let validator = if data.validation.len() >= 2 && params.validation_every > 0 {
        Some(Validator::new(&data.train, &data.validation, latent, config.library_size, params)?)
    } else {
        None
    };
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    rng.set_word_pos(state.rng_word_pos);
    let mut sampler = EpochSampler::new(data.train.len(), params.seed, state.epoch, state.position);
    let cumulative: Vec<f64> = data
        .class_proportions
        .iter()
        .scan(0.0, |sum, p| {
            *sum += p;
            Some(*sum)
        })
        .collect();

    // Library sizes of the training cells of every class, which rounded generated cells of that class draw from
    // (and by which the library input standardises the sizes it reads).
    let class_library_sizes = data.train.library_sizes_by_class(data.class_proportions.len());
    let library_pools: Vec<Vec<f32>> = if params.critic_counts != CriticCounts::Profiles {
        let to_scale = |pool: &Vec<f64>| pool.iter().map(|&size| size as f32 / config.library_size).collect();
        class_library_sizes.iter().map(to_scale).collect()
    } else {
        Vec::new()
    };
    let count_draw = match params.critic_counts {
        CriticCounts::Sampled => CountDraw::Poisson,
        CriticCounts::RoundedPoisson => CountDraw::RoundedPoisson,
        CriticCounts::Profiles | CriticCounts::Rounded => CountDraw::Round,
    };
    // Thinned real cells are normalised as the generated cells are: by the drawn total for drawn counts.
    let by_kept_total = count_draw != CountDraw::Round;
    // With --library-input the generator reads the library size each cell's counts are made at.
    let library_input = params
        .library_input
        .then(|| LibraryInput::new(&class_library_sizes.iter().map(Vec::as_slice).collect::<Vec<_>>(), conditional));
    let set_rounding = |model: &mut dyn GanBackend, labels: &[u32], z: &mut [f32], rng: &mut ChaCha8Rng| {
        if library_pools.is_empty() {
            return;
        }
        let scales: Vec<f32> = labels
            .iter()
            .map(|&label| {
                let pool = &library_pools[(label as usize).min(library_pools.len() - 1)];
                if pool.is_empty() {
                    1.0
                } else {
                    pool[rng.random_range(0..pool.len())]
                }
            })
            .collect();
        if let Some(input) = &library_input {
            let classes: Vec<usize> = labels.iter().map(|&label| label as usize).collect();
            let sizes: Vec<f64> = scales.iter().map(|&scale| scale as f64 * config.library_size as f64).collect();
            input.write(z, latent, &classes, &sizes);
        }
        model.set_count_rounding(Some(&CountRounding {
            scales,
            seed: rng.random(),
            draw: count_draw,
            thinning: params.critic_thinning,
        }));
    };

    if params.mean_matching > 0.0 {
        let log_scale = match config.critic_input {
            // (log1p-counts refuses mean matching in `TrainParams::check`)
            CriticInput::Log1p | CriticInput::Log1pCounts => true,
            CriticInput::Normalized => false,
        };
        let targets = data.train.class_means(config.n_classes(), |x| if log_scale { x.ln_1p() } else { x });
        model.set_mean_matching(Some(&MeanMatching { weight: params.mean_matching, targets }));
    }

    // Latent vectors on which an averaged generator's batch-norm statistics are measured: fixed, and drawn apart
    // from the training stream so that averaging does not change the training itself.
    let (standing_z, standing_labels) = standing_inputs(latent, &data.class_proportions, conditional, params.seed);
    let mut real = vec![0f32; batch * n_genes];
    let mut rows = Vec::with_capacity(batch);
    let mut labels = Vec::with_capacity(batch);
    let mut z = vec![0f32; batch * latent];
    let mut alpha = vec![0f32; batch];
    let mut generated_labels = vec![0u32; batch];
    // A training cell's depth as a critic that reads depth sees it: fixed per cell, so computed once.
    let cell_depth: Vec<f32> = match (params.critic_depth, &library_input) {
        (true, Some(input)) => {
            let sizes = data.train.counts.row_sums();
            data.train.labels.iter().zip(sizes).map(|(&label, size)| input.value(label as usize, size)).collect()
        }
        _ => Vec::new(),
    };
    let mut real_depth = Vec::with_capacity(batch);
    let mut log =
        std::fs::OpenOptions::new().create(true).append(true).open(run.log()).map_err(|e| Error::io(run.log(), e))?;

    let start = Instant::now();
    let session_start_step = state.step;
    let mut last_checkpoint = state.step;
    let elapsed_before = state.elapsed_seconds;
    let out_of_time = |start: &Instant| params.time_limit_seconds.is_some_and(|t| start.elapsed().as_secs_f64() >= t);
    let mut last_penalty = None;
    while state.step < params.steps && !out_of_time(&start) {
        let lr = params.learning_rate_at(state.step, start.elapsed().as_secs_f64());
        let mut critic = CriticStats::default();
        for update in 0..params.critic_steps {
            sampler.next_batch(batch, &mut rows);
            if params.critic_thinning < 1.0 {
                let seed = rng.random();
                data.train.fill_batch_thinned(
                    &rows,
                    params.critic_thinning,
                    seed,
                    by_kept_total,
                    &mut real,
                    &mut labels,
                );
            } else if counts_input {
                data.train.fill_batch_counts(&rows, &mut real, &mut labels);
            } else {
                data.train.fill_batch(&rows, &mut real, &mut labels);
            }
            z.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
            alpha.iter_mut().for_each(|a| *a = rng.random::<f32>());
            let batch_labels: &[u32] = if conditional { &labels } else { &[] };
            set_rounding(&mut *model, &labels, &mut z, &mut rng);
            let index = state.step * params.critic_steps as u64 + update as u64;
            let penalty_weight = lazy_penalty_weight(params.penalty_every, index);
            real_depth.clear();
            if !cell_depth.is_empty() {
                real_depth.extend(rows.iter().map(|&row| cell_depth[row]));
            }
            let batch = CriticBatch {
                real: &real,
                labels: batch_labels,
                z: &z,
                alpha: &alpha,
                penalty_weight,
                real_depth: &real_depth,
            };
            critic = model.critic_step(&batch, lr);
            last_penalty = critic.gradient_penalty.or(last_penalty);
        }
        z.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
        for label in generated_labels.iter_mut() {
            let u: f64 = rng.random();
            *label = cumulative.iter().position(|&c| u < c).unwrap_or(cumulative.len() - 1) as u32;
        }
        let gen_labels: &[u32] = if conditional { &generated_labels } else { &[] };
        set_rounding(&mut *model, &generated_labels, &mut z, &mut rng);
        let mut generator_loss = model.generator_step(&z, gen_labels, lr * params.generator_learning_rate_ratio);
        model.update_generator_average();
        state.step += 1;
        if params.inject_nan_at == Some(state.step) {
            generator_loss = f32::NAN;
        }
        (state.epoch, state.position) = sampler.position();
        state.rng_word_pos = rng.get_word_pos();
        state.elapsed_seconds = elapsed_before + start.elapsed().as_secs_f64();

        let mut entry = LogEntry {
            step: state.step,
            seconds: state.elapsed_seconds,
            critic_loss: if params.penalty_every == 1 {
                critic.loss
            } else {
                -critic.wasserstein + model.config().lambda_gp * last_penalty.unwrap_or(0.0)
            },
            wasserstein: critic.wasserstein,
            gradient_penalty: last_penalty,
            generator_loss,
            learning_rate: lr,
            validation_knn_auroc: None,
            validation_mmd: None,
            validation_count_noise: None,
            validation_knn_auroc_by_noise: None,
            validation_mmd_by_noise: None,
            validation_spread_by_noise: None,
        };
        if !critic.loss.is_finite() || !generator_loss.is_finite() {
            write_log(&mut log, run, &entry)?;
            let what_next = if run.checkpoint().exists() {
                format!(
                    "The last good checkpoint (step {last_checkpoint}) and model are kept: resume with \
                     `scgan train --resume {} --learning-rate <lower>`",
                    run.path.display()
                )
            } else {
                format!(
                    "No checkpoint had been written yet (the first comes at step {}): start again with a lower \
                     --learning-rate",
                    params.checkpoint_every
                )
            };
            return Err(Error::invalid_data(
                &run.path,
                format!("training step {}", state.step),
                format!(
                    "the loss diverged (critic {}, generator {}); training stopped. {what_next}",
                    critic.loss, generator_loss
                ),
            ));
        }
        let last_step = state.step >= params.steps || out_of_time(&start);
        let validate = validator.is_some() && (state.step.is_multiple_of(params.validation_every) || last_step);
        let checkpoint = state.step.is_multiple_of(params.checkpoint_every) || last_step;
        // the model generation would use: the averaged generator if there is one
        let mut averaged = if validate || (checkpoint && state.best_knn_auroc.is_none()) {
            model.averaged_model(&standing_z, &standing_labels)?
        } else {
            None
        };
        if let (Some(validator), true) = (&validator, validate) {
            let generation_model: &mut dyn GanBackend = averaged.as_deref_mut().unwrap_or(&mut *model);
            let figures = validator.score_each_noise(generation_model);
            let score = validation::choose_count_noise(&figures, validator.spread_tolerance());
            if figures.len() > 1 {
                entry.validation_knn_auroc_by_noise = Some(figures.iter().map(|f| f.knn_auroc).collect());
                entry.validation_mmd_by_noise = Some(figures.iter().map(|f| f.mmd).collect());
                entry.validation_spread_by_noise = Some(figures.iter().map(|f| f.spread_ratio).collect());
            }
            entry.validation_knn_auroc = Some(score.knn_auroc);
            entry.validation_mmd = Some(score.mmd);
            entry.validation_count_noise = Some(score.count_noise);
            let auroc = score.knn_auroc;
            let (lowest, kept) = (&mut state.best_knn_auroc, &mut state.kept_knn_auroc);
            if validation::record(lowest, kept, auroc, state.step, validator.n_cells()) {
                state.kept_count_noise = Some(score.count_noise);
                save_model(run, generation_model, state.step, Some(score))?;
            }
        }
        if state.step.is_multiple_of(params.log_every) || entry.validation_mmd.is_some() || last_step {
            write_log(&mut log, run, &entry)?;
        }
        if checkpoint {
            if state.best_knn_auroc.is_none() {
                save_model(run, averaged.as_deref_mut().unwrap_or(&mut *model), state.step, None)?;
            }
            save_checkpoint(run, model, &state)?;
            last_checkpoint = state.step;
        }
        progress(&entry, params);
    }
    Ok(TrainOutcome {
        steps: state.step,
        session_steps: state.step - session_start_step,
        session_seconds: start.elapsed().as_secs_f64(),
        best: state.best_knn_auroc,
        kept: state.kept_knn_auroc.or(state.best_knn_auroc),
        kept_count_noise: state.kept_count_noise,
    })
}

/// 1,024 latent vectors (and labels in the training proportions) from a generator of their own.
fn standing_inputs(latent: usize, proportions: &[f64], conditional: bool, seed: u64) -> (Vec<f32>, Vec<u32>) {
    const CELLS: usize = 1024;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x57a4_d146);
    let z = (0..CELLS * latent).map(|_| StandardNormal.sample(&mut rng)).collect();
    let labels = if conditional {
        crate::generate::class_labels(&crate::generate::allocate(CELLS, proportions))
    } else {
        Vec::new()
    };
    (z, labels)
}
