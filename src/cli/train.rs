//! `scgan train`'s arguments: the network, loss, optimiser and schedule flags, each applied on top of a preset or
//! a resumed run's settings ([`TrainArgs::apply`]).

use std::path::PathBuf;

use clap::Args;

use scgan::model::{ConditionalCritic, CriticInput, Precision};
use scgan::train::{CriticCounts, ModelChoice, TrainParams};

use super::{default_threads, parse_duration, PreprocessFlags, ReadArgs};
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ModelArg {
    Cscgan,
    Scgan,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CriticArg {
    /// One output layer per class (the reference's default).
    PerClass,
    /// Miyato & Koyama's projection critic.
    Projection,
}


#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CriticCountsArg {
    /// The generator's normalised profile (the paper).
    Profiles,
    /// The profile rounded to counts at a real library size (random rounding); generation rescales the same way.
    Rounded,
    /// Poisson counts drawn from the profile at a real library size; generation samples counts (multinomial).
    Sampled,
    /// As rounded, but only each value's first count is rounded and the counts beyond it are Poisson draws;
    /// generation makes counts the same way.
    RoundedPoisson,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum PrecisionArg {
    /// f32 throughout (the paper).
    F32,
    /// Matrix products in bfloat16 with f32 sums, on AMX tiles (Intel Xeon since Sapphire Rapids).
    Bf16,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CriticInputArg {
    /// The library-size-normalised values (the paper).
    Normalized,
    /// ln(1 + x) of the normalised values, for real cells and fakes alike.
    Log1p,
    /// ln(1 + k) of the counts themselves, not normalised (real cells' raw counts, generated cells' counts at
    /// their drawn library sizes), so that the critic sees each cell's depth. Needs counts in training.
    Log1pCounts,
}

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Input counts (any format `scgan info` reads) or a file written by `scgan preprocess`.
    #[arg(required_unless_present = "resume")]
    pub(crate) input: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long, short, required_unless_present = "resume")]
    pub(crate) out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint, with its data, preprocessing, seed and network
    /// (training flags such as --steps, --time or --learning-rate may change).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["input", "out"])]
    pub(crate) resume: Option<PathBuf>,
    /// Settings to start from: `default` (the paper's network, trained with a log-scale critic, a higher learning
    /// rate with a cooldown, count rounding and bf16 products on AMX CPUs: more realistic cells per CPU minute, see
    /// BENCHMARKS.md) or `paper` (the published settings). A resumed run keeps its own.
    #[arg(long, default_value = "default", conflicts_with = "resume")]
    pub(crate) preset: String,
    /// Network: conditional cscGAN (needs labels) or unconditional scGAN.
    #[arg(long, value_enum)]
    pub(crate) model: Option<ModelArg>,
    /// cscGAN's critic output layer.
    #[arg(long, value_enum)]
    pub(crate) critic: Option<CriticArg>,
    /// Stop after this many generator steps in total (paper: 1,000,000).
    #[arg(long)]
    pub(crate) steps: Option<u64>,
    /// Stop after this much training time in this session, e.g. 20m, 90s, 1h30m.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) time: Option<f64>,
    /// Cells per minibatch.
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    /// Critic updates per generator update.
    #[arg(long)]
    pub(crate) critic_steps: Option<usize>,
    /// Compute the gradient penalty on one critic update in K, with K times lambda (1: every update, the paper);
    /// the others skip it (K = 5: a step about 1.3x faster).
    #[arg(long, value_name = "K")]
    pub(crate) penalty_every: Option<usize>,
    /// Initial learning rate.
    #[arg(long)]
    pub(crate) learning_rate: Option<f32>,
    /// Learning rate reached after --decay-steps.
    #[arg(long)]
    pub(crate) learning_rate_final: Option<f32>,
    /// Steps of the exponential learning-rate decay.
    #[arg(long)]
    pub(crate) decay_steps: Option<u64>,
    /// The generator's learning rate as a multiple of the critic's (1: the same, the paper).
    #[arg(long, value_name = "RATIO")]
    pub(crate) generator_learning_rate_ratio: Option<f32>,
    /// Over the last FRACTION of the budget (--steps, or --time in this session) the learning rate falls linearly
    /// to zero (default preset: 0.4; paper: 0, none).
    #[arg(long, value_name = "FRACTION")]
    pub(crate) cooldown: Option<f32>,
    /// AMSGrad beta1.
    #[arg(long)]
    beta1: Option<f32>,
    /// AMSGrad beta2.
    #[arg(long)]
    beta2: Option<f32>,
    /// What the critic sees: the normalised values (paper) or their log1p.
    #[arg(long, value_enum)]
    pub(crate) critic_input: Option<CriticInputArg>,
    /// Generate with a moving average of the generator's weights with this decay, e.g. 0.999 (0: none, the paper).
    #[arg(long, value_name = "DECAY")]
    pub(crate) generator_average: Option<f32>,
    /// What the critic is shown of a generated cell: its profile (paper), the profile rounded to counts at a library
    /// size drawn from real cells of its type (default preset), Poisson counts drawn from it, or both (first count
    /// rounded, the rest drawn); gradients pass through the counts as their expected slope over one count.
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) critic_counts: Option<CriticCountsArg>,
    /// Older spelling: true is `--critic-counts rounded`; false turns rounding off (`profiles`) and leaves another
    /// kind as it is.
    #[arg(long, value_name = "BOOL", hide = true, conflicts_with_all = ["critic_counts", "count_sampling"])]
    pub(crate) count_rounding: Option<bool>,
    /// Older spelling: true is `--critic-counts sampled`; false turns sampling off (`profiles`) and leaves another
    /// kind as it is.
    #[arg(long, value_name = "BOOL", hide = true, conflicts_with = "critic_counts")]
    pub(crate) count_sampling: Option<bool>,
    /// The arithmetic of the networks' matrix products: f32, or bf16 values with f32 sums on the AMX tiles of CPUs
    /// that have them (weights, optimizer and everything else stay f32): 1.5-2x the steps per minute. Default
    /// preset: bf16 where the CPU has AMX-BF16, else f32; paper preset: f32.
    #[arg(long, value_enum)]
    pub(crate) precision: Option<PrecisionArg>,
    /// Add learnt per-gene noise before the generator's output ReLU (scale `generator.out.noise_scale`, starting
    /// at 0.1), so that which weakly expressed genes a cell shows can vary gene by gene.
    #[arg(long, value_name = "BOOL")]
    pub(crate) output_noise: Option<bool>,
    /// Draw each generated cell's library size before generating it and give it to the generator (its first
    /// latent coordinate), so that the profile suits the depth its counts are made at. Needs counts in training.
    #[arg(long, value_name = "BOOL")]
    pub(crate) library_input: Option<bool>,
    /// Show the critic each cell's library size beside its values (real cells' own, generated cells' drawn), so
    /// that it judges a profile as one of a cell of that depth. Needs --library-input true.
    #[arg(long, value_name = "BOOL")]
    pub(crate) critic_depth: Option<bool>,
    /// Add a term to the generator's loss that pulls each cell type's mean generated cell towards its mean real
    /// cell (on the critic's scale), with this weight (0: none, the paper).
    #[arg(long, value_name = "WEIGHT")]
    pub(crate) mean_matching: Option<f32>,
    /// Show the critic every cell, real and generated, with each count kept with this probability, drawn afresh at
    /// every step (1: all counts, the paper), so that it cannot learn the training cells' own sampling noise.
    /// Needs --critic-counts other than profiles.
    #[arg(long, value_name = "FRACTION")]
    pub(crate) critic_thinning: Option<f32>,
    /// Hidden widths of the generator, comma-separated (paper: 256,512,1024).
    #[arg(long, value_name = "WIDTHS", value_delimiter = ',')]
    pub(crate) generator_layers: Option<Vec<usize>>,
    /// Hidden widths of the critic, comma-separated (paper: 1024,512,256).
    #[arg(long, value_name = "WIDTHS", value_delimiter = ',')]
    pub(crate) critic_layers: Option<Vec<usize>>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Steps between validation figures (0: none).
    #[arg(long)]
    pub(crate) validation_every: Option<u64>,
    /// Steps between checkpoints.
    #[arg(long)]
    pub(crate) checkpoint_every: Option<u64>,
    /// Steps between lines of log.jsonl.
    #[arg(long)]
    pub(crate) log_every: Option<u64>,
    /// Fraction of cells held out for validation when the input has no obs['split'].
    #[arg(long, default_value_t = 0.1)]
    pub(crate) validation_fraction: f64,
    /// Testing aid: make the loss of this step NaN, to exercise divergence handling.
    #[arg(long, hide = true)]
    pub(crate) inject_nan_at: Option<u64>,
    #[command(flatten)]
    pub(crate) read: ReadArgs,
    #[command(flatten)]
    pub(crate) preprocess: PreprocessFlags,
}

impl TrainArgs {
    /// Applies the flags given on top of `params` (a preset, or a resumed run's settings).
    pub(crate) fn apply(&self, params: &mut TrainParams) {
        if let Some(model) = self.model {
            params.model = match model { ModelArg::Cscgan => ModelChoice::Cscgan, ModelArg::Scgan => ModelChoice::Scgan };
        }
        if let Some(critic) = self.critic {
            params.conditional_critic = match critic {
                CriticArg::PerClass => ConditionalCritic::PerClassOutput,
                CriticArg::Projection => ConditionalCritic::Projection,
            };
        }
        if let Some(input) = self.critic_input {
            params.critic_input = match input {
                CriticInputArg::Normalized => CriticInput::Normalized,
                CriticInputArg::Log1p => CriticInput::Log1p,
                CriticInputArg::Log1pCounts => CriticInput::Log1pCounts,
            };
        }
        if let Some(decay) = self.generator_average {
            params.generator_average = (decay > 0.0).then_some(decay);
        }
        if let Some(kind) = self.critic_counts {
            params.critic_counts = match kind {
                CriticCountsArg::Profiles => CriticCounts::Profiles,
                CriticCountsArg::Rounded => CriticCounts::Rounded,
                CriticCountsArg::Sampled => CriticCounts::Sampled,
                CriticCountsArg::RoundedPoisson => CriticCounts::RoundedPoisson,
            };
        }
        let older_spellings =
            [(self.count_rounding, CriticCounts::Rounded), (self.count_sampling, CriticCounts::Sampled)];
        for (flag, kind) in older_spellings {
            match flag {
                Some(true) => params.critic_counts = kind,
                Some(false) if params.critic_counts == kind => params.critic_counts = CriticCounts::Profiles,
                _ => {}
            }
        }
        if let Some(weight) = self.mean_matching {
            params.mean_matching = weight;
        }
        if let Some(fraction) = self.critic_thinning {
            params.critic_thinning = fraction;
        }
        if let Some(precision) = self.precision {
            params.precision = precision.into();
        }
        if let Some(noise) = self.output_noise {
            params.output_noise = noise;
        }
        if let Some(library_input) = self.library_input {
            params.library_input = library_input;
        } else if params.critic_counts == CriticCounts::Profiles && self.resume.is_none() {
            // the generator can be given its cells' library sizes only when the critic sees counts made at them:
            // asking a new run for profiles on the default preset turns the input off rather than failing (a
            // resumed run keeps its network)
            params.library_input = false;
        }
        if let Some(critic_depth) = self.critic_depth {
            params.critic_depth = critic_depth;
        } else if !params.library_input && self.resume.is_none() {
            // the depth the critic reads is the size drawn for the library input: a new run without the input (asked
            // for, or turned off above) does without it rather than failing
            params.critic_depth = false;
        }
        if let Some(widths) = &self.generator_layers {
            params.generator_layers = widths.clone();
        }
        if let Some(widths) = &self.critic_layers {
            params.critic_layers = widths.clone();
        }
        macro_rules! set {
            ($($flag:ident => $field:expr),*) => { $( if let Some(v) = self.$flag { $field = v; } )* };
        }
        set!(steps => params.steps, batch_size => params.batch_size, critic_steps => params.critic_steps,
             penalty_every => params.penalty_every,
             learning_rate => params.learning_rate, learning_rate_final => params.learning_rate_final,
             decay_steps => params.decay_steps,
             generator_learning_rate_ratio => params.generator_learning_rate_ratio, cooldown => params.cooldown,
             beta1 => params.optimizer.beta1, beta2 => params.optimizer.beta2,
             validation_every => params.validation_every, checkpoint_every => params.checkpoint_every,
             log_every => params.log_every);
        params.time_limit_seconds = self.time;
        params.threads = self.threads.unwrap_or_else(default_threads);
        params.inject_nan_at = self.inject_nan_at;
    }
}

impl From<PrecisionArg> for Precision {
    fn from(precision: PrecisionArg) -> Self {
        match precision {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Bf16 => Precision::Bf16,
        }
    }
}
