//! The scGAN and cscGAN networks, behind a backend-neutral interface.
//!
//! Training and generation talk to a model only through [`GanBackend`]: one critic update, one generator update,
//! generation, and parameters by name. The trainer owns every random number (latent vectors, interpolation
//! weights, labels) and passes them in, so a backend is a deterministic function of its inputs: that is what makes
//! resumed runs bit-identical, and what lets a GPU backend be added without touching `train` or `generate`.
//! The CPU backend is [`crate::engine::CpuGan`], hand-written on faer (see `../shared/ENGINE.md`).

/// Which network family, and for cscGAN its conditioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Unconditional scGAN.
    Scgan,
    /// Conditional cscGAN: conditional batch norm in the generator, and a conditional critic.
    Cscgan {
        /// Number of classes (cell types).
        n_classes: usize,
        /// The conditional critic's output layer.
        critic: ConditionalCritic,
    },
}

/// The conditional critic's output layer (h is the critic's last, 256-wide hidden layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionalCritic {
    /// The reference's default (`create_cond_critic`): `D(x, y) = <W[y], h> + b[y]`, one output layer per class.
    PerClassOutput,
    /// Miyato & Koyama's projection critic: `D(x, y) = w . h + b + <E[y], h>`.
    Projection,
}

/// What the critic sees of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticInput {
    /// The library-size-normalised values themselves, up to the library size (the paper).
    #[default]
    Normalized,
    /// `ln(1 + x)` of the normalised values, for real cells and fakes alike: the scale the evaluator (and scanpy)
    /// compares cells on. The generator's LSN output is unchanged; the transform sits between it and the critic,
    /// so the gradient penalty is taken in the log space.
    Log1p,
    /// `ln(1 + k)` of the counts `k` themselves, not normalised: real cells' raw counts and generated cells'
    /// counts at their drawn library sizes. A cell's depth is then in plain sight (its total, and one count is
    /// always `ln 2`), so the critic judges a profile together with the depth it was counted at, which normalised
    /// values hide. Needs counts in training (`--critic-counts` other than profiles); meant with
    /// `--library-input true`, which lets the generator know that depth.
    Log1pCounts,
}

/// The arithmetic of the networks' matrix products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// f32 throughout (the paper).
    #[default]
    F32,
    /// The dense matrix products (forward, backward, the penalty's input gradient and tangent pass, weight
    /// gradients) take their f32 operands rounded to bfloat16 and sum in f32, on the AMX tiles of CPUs that have
    /// them (Intel Xeon since Sapphire Rapids), as GPUs' mixed-precision training does. Weights, optimizer, batch
    /// norm, the element-wise passes and the critic's sparse layer-1 kernels for real (and rounded generated)
    /// cells stay f32. On a CPU without AMX-BF16 every product is f32.
    Bf16,
}

/// Shape and constants of a model; the defaults are the paper's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    /// Number of genes G (the generator's output and the critic's input width).
    pub n_genes: usize,
    /// Latent dimension (128).
    pub latent_dim: usize,
    /// Generator hidden widths (256, 512, 1024).
    pub generator_layers: Vec<usize>,
    /// Critic hidden widths (1024, 512, 256).
    pub critic_layers: Vec<usize>,
    /// Total every generated cell is scaled to by the LSN layer (20,000).
    pub library_size: f32,
    /// Gradient-penalty weight lambda (10).
    pub lambda_gp: f32,
    /// Batch-norm epsilon (1e-5).
    pub bn_epsilon: f32,
    /// Batch-norm running-average decay (0.999).
    pub bn_decay: f32,
    /// scGAN or cscGAN.
    pub kind: ModelKind,
    /// What the critic sees (the paper: the normalised values).
    #[serde(default)]
    pub critic_input: CriticInput,
    /// Decay of an exponential moving average of the generator's weights, which generation then uses
    /// (Yazici et al. 2019); `None` (the paper): generate with the trained weights themselves.
    #[serde(default)]
    pub generator_average: Option<f32>,
    /// Per-gene noise before the generator's output ReLU (`--output-noise`): `y_ij + s_j e_ij` with a learnt scale
    /// `s_j` (`generator.out.noise_scale`, initially 0.1) and `e_ij` about `N(0, 1)` drawn from a hash of cell `i`'s
    /// latent vector, as StyleGAN's noise inputs. It lets the generator make the independent, gene-by-gene
    /// randomness of which weakly expressed genes a cell shows, which a 128-dimensional latent vector cannot
    /// (the paper: none).
    #[serde(default)]
    pub output_noise: bool,
    /// The arithmetic of the matrix products (the paper: f32).
    #[serde(default)]
    pub precision: Precision,
    /// Whether the critic reads each cell's depth beside its values (`--critic-depth`; the paper: no): the
    /// standardised log library size `s` of the cell adds `s v` to the critic's first pre-activation, through a
    /// learnt vector `v` (`critic.depth.weight`, one per first-layer unit, initially 0). A real cell's `s` is
    /// [`CriticBatch::real_depth`]; a generated cell's is the first coordinate of its latent vector, where
    /// `--library-input` writes the library size its counts are made at. The critic then judges a profile as one
    /// of a cell of that depth, as it judges it as one of a cell of its type: normalised values hide how deep a
    /// cell was counted, and with it how many of its genes show one count, or none. `s` conditions the critic, as
    /// the label does, so the gradient penalty is taken with respect to the values alone.
    #[serde(default)]
    pub critic_depth: bool,
}

impl ModelConfig {
    /// The paper's model for `n_genes` genes.
    pub fn paper(n_genes: usize, kind: ModelKind) -> Self {
        ModelConfig {
            n_genes,
            latent_dim: 128,
            generator_layers: vec![256, 512, 1024],
            critic_layers: vec![1024, 512, 256],
            library_size: 20_000.0,
            lambda_gp: 10.0,
            bn_epsilon: 1e-5,
            bn_decay: 0.999,
            kind,
            critic_input: CriticInput::Normalized,
            generator_average: None,
            output_noise: false,
            precision: Precision::F32,
            critic_depth: false,
        }
    }

    /// Number of classes (0 for scGAN).
    pub fn n_classes(&self) -> usize {
        match self.kind {
            ModelKind::Scgan => 0,
            ModelKind::Cscgan { n_classes, .. } => n_classes,
        }
    }
}

/// AMSGrad settings (the reference's TensorFlow AMSGrad, with Adam's bias correction); defaults are the paper's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerConfig {
    /// First-moment decay (0.5).
    pub beta1: f32,
    /// Second-moment decay (0.9).
    pub beta2: f32,
    /// Added to the square root of the second moment (1e-8).
    pub epsilon: f32,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig { beta1: 0.5, beta2: 0.9, epsilon: 1e-8 }
    }
}

/// The inputs of one critic update. Row-major dense buffers; `B` is the batch size.
#[derive(Debug, Clone, Copy)]
pub struct CriticBatch<'a> {
    /// Real cells, library-size normalised, `B x n_genes`.
    pub real: &'a [f32],
    /// Class of every real cell (empty for scGAN). The fakes are generated with the same labels, so that the
    /// interpolates pair a real and a generated cell of one class, as the reference's penalty does.
    pub labels: &'a [u32],
    /// Latent vectors of the fakes, `B x latent_dim`, standard normal.
    pub z: &'a [f32],
    /// Interpolation weight of every cell, uniform on [0, 1): x_hat = alpha real + (1 - alpha) fake.
    pub alpha: &'a [f32],
    /// What lambda is multiplied by in this update: 1 for the paper's penalty on every update. A lazy penalty
    /// (`--penalty-every K`) gives K to one update in K and 0 to the others, which skip the penalty's computation
    /// (its interpolates and second-order pass).
    pub penalty_weight: f32,
    /// The standardised log library size of every real cell, `B` values, for a critic that reads depth
    /// ([`ModelConfig::critic_depth`]); empty otherwise.
    pub real_depth: &'a [f32],
}

/// Count rounding of the generated cells the critic sees in training (`--critic-counts rounded`): each generated
/// cell `i` is scaled to a real library size `L_i` (`scales[i] = L_i / library_size`), randomly rounded to integer
/// counts (up with the probability of the fraction) and scaled back, so that the critic compares real counts with
/// generated counts rather than with the generator's continuous profile. Gradients pass through the rounding as its
/// expected slope over one count (exact in expectation for a critic linear in its input; for Poisson draws by the
/// identity `d/dlambda E f(k) = E[f(k + 1) - f(k)]`). It applies to the generator's training-mode passes of the
/// following critic and generator steps, whose batch size must be `scales.len()`; generation is never rounded.
///
/// With [`CountDraw::Poisson`] (`--critic-counts sampled`) the counts are drawn instead: `k_ij ~ Poisson(x_ij L_i /
/// library_size)`, and the cell is normalised by its drawn total, exactly as a real cell of `sum_j k_ij` counts is.
/// The generator then learns the *expected* profile of a cell and the sampling noise comes from the draw, as in
/// count models (scVI); generation draws `Multinomial(L, profile)` to match. [`CountDraw::RoundedPoisson`]
/// (`--critic-counts rounded-poisson`) rounds the first count and draws the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRounding {
    /// `L_i / library_size` for every generated cell of the batch.
    pub scales: Vec<f32>,
    /// Seed of the rounding's uniform numbers.
    pub seed: u64,
    /// How a value becomes a count.
    pub draw: CountDraw,
    /// The fraction of the drawn counts kept (1: all). Below 1 each count is kept with this probability (binomial
    /// thinning), as the trainer thins the real cells' counts (`--critic-thinning`).
    pub thinning: f32,
}

/// Mean matching (`--mean-matching WEIGHT`): a term added to the generator's loss that pulls the mean generated
/// cell of each class towards the mean real cell of that class, both as the critic sees cells (the log-scale
/// values for a log1p critic). The critic tells cells apart one at a time and is slow to notice a small shift of
/// a whole class's mean gene by gene; such shifts are what a classifier on many cells picks up (BENCHMARKS.md,
/// "Session 7"). The term is `(weight / 2) sum_c (n_c / B) (m_A - t_c) . (m_B - t_c)` over the classes of the
/// batch, with `m_A`, `m_B` the means of two halves of class `c`'s generated cells: its expectation is about the
/// squared distance of the class mean from the target (batch norm couples a batch's cells, so the halves are not
/// quite independent), without rewarding less varied cells as the squared distance of one batch mean would. The
/// generator loss `scgan train` logs includes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanMatching {
    /// Weight of the term (0: none, the paper).
    pub weight: f32,
    /// Mean real cell of every class (one class for scGAN), `classes x n_genes`, as the critic sees cells.
    pub targets: Vec<f32>,
}

/// How [`CountRounding`] makes a generated value of `lambda` expected counts into a count `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountDraw {
    /// Random rounding: `floor(lambda)` plus one with the probability of the fraction (variance at most 1/4).
    #[default]
    Round,
    /// `k ~ Poisson(lambda)` (variance `lambda`), each cell normalised by its drawn total.
    Poisson,
    /// The first count by random rounding, the counts beyond it drawn: below one count `k` is 1 with probability
    /// `lambda` (else 0), above it `1 + Poisson(lambda - 1)`, each cell normalised by its drawn total. Expressed genes
    /// get Poisson-like spread (variance `lambda - 1`), which random rounding lacks and the generator cannot make gene
    /// by gene from its latent vector (BENCHMARKS.md, "Session 6"), while a value below one count is detected with
    /// probability `lambda`, as under rounding; the draw's distribution has no jump at one count.
    RoundedPoisson,
}

/// What one critic update measured (before the update).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CriticStats {
    /// mean D(fake) - mean D(real) + lambda * penalty_weight * penalty: the loss minimised.
    pub loss: f32,
    /// mean D(real) - mean D(fake): the Wasserstein estimate.
    pub wasserstein: f32,
    /// mean over cells of (||grad_x D(x_hat)|| - 1)^2, without lambda; `None` when the update skipped the
    /// penalty (`penalty_weight` 0).
    pub gradient_penalty: Option<f32>,
}

/// A named tensor: how parameters and states are saved and loaded (`generator.dense1.weight`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Dotted name, readable from Python.
    pub name: String,
    /// Shape, row-major.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// A GAN implementation: everything training and generation need from an engine.
pub trait GanBackend: Send {
    /// The model's configuration.
    fn config(&self) -> &ModelConfig;

    /// One critic update with learning rate `lr`: generates the fakes (generator in training mode, no
    /// generator update), computes the WGAN-GP loss and its exact gradient (the penalty's is a second derivative),
    /// and applies AMSGrad to the critic. Returns the loss terms measured before the update.
    fn critic_step(&mut self, batch: &CriticBatch<'_>, lr: f32) -> CriticStats;

    /// One generator update with learning rate `lr`: loss -mean D(G(z, labels), labels) (plus the mean-matching
    /// term, if set), gradient through the (fixed) critic, AMSGrad on the generator. Updates batch-norm running
    /// statistics. Returns the loss.
    fn generator_step(&mut self, z: &[f32], labels: &[u32], lr: f32) -> f32;

    /// Generates cells in inference mode (batch norm with running statistics): `out` is `n x n_genes` for the
    /// `n = z.len() / latent_dim` latent vectors, each row summing to `library_size`.
    fn generate(&mut self, z: &[f32], labels: &[u32], out: &mut [f32]);

    /// The trainable parameters, generator's then critic's (what `model.safetensors` holds).
    fn parameters(&self) -> Vec<NamedTensor>;

    /// Non-trainable state: batch-norm running statistics, AMSGrad moments and step counts.
    fn state(&self) -> Vec<NamedTensor>;

    /// Replaces the trainable parameters: every name of [`GanBackend::parameters`] must be present with its shape;
    /// a missing, unknown or misshapen tensor is an error naming it.
    fn load_parameters(&mut self, tensors: &[NamedTensor]) -> crate::Result<()>;

    /// Replaces the non-trainable state, with the same rules over the names of [`GanBackend::state`].
    fn load_state(&mut self, tensors: &[NamedTensor]) -> crate::Result<()>;

    /// Sets (or with `None` clears) the count rounding of the generated cells in the next training steps.
    fn set_count_rounding(&mut self, rounding: Option<&CountRounding>);

    /// Sets (or with `None` clears) the mean-matching term of the generator loss ([`MeanMatching`]).
    fn set_mean_matching(&mut self, matching: Option<&MeanMatching>);

    /// Moves the moving average of the generator's weights towards the current weights (call after every
    /// generator update); nothing without [`ModelConfig::generator_average`].
    fn update_generator_average(&mut self);

    /// The model generation should use when the configuration keeps a generator average: the averaged
    /// generator, the current critic, and batch-norm statistics of the averaged generator measured on the
    /// latent vectors `z` (with `labels`), since the running statistics belong to the current weights.
    /// `Ok(None)` without an average.
    fn averaged_model(&mut self, z: &[f32], labels: &[u32]) -> crate::Result<Option<Box<dyn GanBackend>>>;
}

/// Number of trainable parameters of a model (generator and critic; batch-norm running statistics excluded).
///
/// For the paper's widths this is `1,349,121 + 2,049 G` (scGAN), `1,345,280 + 3,841 K + 2,049 G` (cscGAN with
/// the per-class output critic) and `1,345,537 + 3,840 K + 2,049 G` (projection critic).
pub fn parameter_count(config: &ModelConfig) -> usize {
    let k = config.n_classes();
    let g = config.n_genes;
    let mut total = 0;
    // generator: linear layers without bias, (conditional) batch norm, output layer with bias
    let mut n_in = config.latent_dim;
    for &w in &config.generator_layers {
        total += n_in * w + 2 * w * k.max(1);
        n_in = w;
    }
    total += n_in * g + g;
    if config.output_noise {
        total += g;
    }
    // critic: linear layers with bias, then the output layer
    let mut n_in = g;
    for &w in &config.critic_layers {
        total += n_in * w + w;
        n_in = w;
    }
    if config.critic_depth {
        total += config.critic_layers[0];
    }
    total += match config.kind {
        ModelKind::Scgan => n_in + 1,
        ModelKind::Cscgan { critic: ConditionalCritic::PerClassOutput, .. } => k * (n_in + 1),
        ModelKind::Cscgan { critic: ConditionalCritic::Projection, .. } => n_in + 1 + k * n_in,
    };
    total
}

/// Checks that a configuration describes a model that can be built: positive sizes (genes, latent dimension,
/// every hidden width, at least one critic layer, at least one class for cscGAN), a positive finite library size,
/// a non-negative penalty weight, a positive batch-norm epsilon and a decay in [0, 1].
///
/// # Errors
/// [`crate::Error::InvalidParameter`] naming the first offending field.
pub fn validate(config: &ModelConfig) -> crate::Result<()> {
    use crate::Error;
    if config.n_genes == 0 {
        return Err(Error::parameter("n_genes", "the model needs at least one gene"));
    }
    if config.latent_dim == 0 {
        return Err(Error::parameter("latent_dim", "must be at least 1"));
    }
    if config.generator_layers.contains(&0) {
        return Err(Error::parameter("generator_layers", format!("{:?} has a zero width", config.generator_layers)));
    }
    if config.critic_layers.is_empty() || config.critic_layers.contains(&0) {
        return Err(Error::parameter(
            "critic_layers",
            format!("{:?}: at least one hidden layer, no zero width", config.critic_layers),
        ));
    }
    if let ModelKind::Cscgan { n_classes: 0, .. } = config.kind {
        return Err(Error::parameter("n_classes", "cscGAN needs at least one class"));
    }
    if !(config.library_size > 0.0 && config.library_size.is_finite()) {
        return Err(Error::parameter("library_size", format!("{} is not a positive number", config.library_size)));
    }
    if !(config.lambda_gp >= 0.0 && config.lambda_gp.is_finite()) {
        return Err(Error::parameter("lambda_gp", format!("{} is not a non-negative number", config.lambda_gp)));
    }
    if !(config.bn_epsilon > 0.0 && config.bn_epsilon.is_finite()) {
        return Err(Error::parameter("bn_epsilon", format!("{} is not a positive number", config.bn_epsilon)));
    }
    if let Some(decay) = config.generator_average {
        if !(0.0..1.0).contains(&decay) {
            return Err(Error::parameter("generator_average", format!("decay {decay} is not in [0, 1)")));
        }
    }
    if !(0.0..=1.0).contains(&config.bn_decay) {
        return Err(Error::parameter("bn_decay", format!("{} is not in [0, 1]", config.bn_decay)));
    }
    crate::io::memory::ensure_setting_fits(
        "generator_layers / critic_layers",
        &format!("networks of {:?} and {:?} hidden units", config.generator_layers, config.critic_layers),
        weight_bytes(config),
        "use narrower layers",
    )
}

/// About the memory a model's parameters take in training: weights, gradients, AMSGrad's three moments and a
/// copy for checkpoints, 4 bytes each. In f64, so that absurd widths give a large number, not an overflow.
fn weight_bytes(config: &ModelConfig) -> u64 {
    let classes = config.n_classes().max(1) as f64;
    let matrices = |n_in: usize, widths: &[usize], n_out: f64| {
        let mut n_in = n_in as f64;
        let mut total = 0.0;
        for &w in widths {
            total += n_in * w as f64 + 2.0 * classes * w as f64;
            n_in = w as f64;
        }
        total + n_in * n_out
    };
    let genes = config.n_genes as f64;
    let parameters = matrices(config.latent_dim, &config.generator_layers, genes)
        + matrices(config.n_genes, &config.critic_layers, classes);
    (parameters * 4.0 * 6.0).min(u64::MAX as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_spec_formulas() {
        for g in [2_000, 17_789] {
            let c = ModelConfig::paper(g, ModelKind::Scgan);
            assert_eq!(parameter_count(&c), 1_349_121 + 2_049 * g);
            for k in [3, 11] {
                let per = ModelKind::Cscgan { n_classes: k, critic: ConditionalCritic::PerClassOutput };
                assert_eq!(parameter_count(&ModelConfig::paper(g, per)), 1_345_280 + 3_841 * k + 2_049 * g);
                let proj = ModelKind::Cscgan { n_classes: k, critic: ConditionalCritic::Projection };
                assert_eq!(parameter_count(&ModelConfig::paper(g, proj)), 1_345_537 + 3_840 * k + 2_049 * g);
            }
        }
        // SPEC.md quotes 37,799,782 for G = 17,789, but its own formula gives 1,349,121 + 2,049 * 17,789 = 37,798,782
        assert_eq!(parameter_count(&ModelConfig::paper(17_789, ModelKind::Scgan)), 37_798_782);
        // a critic that reads depth has one more weight per first-layer unit
        let depth = ModelConfig { critic_depth: true, ..ModelConfig::paper(2_000, ModelKind::Scgan) };
        assert_eq!(parameter_count(&depth), 1_349_121 + 2_049 * 2_000 + 1_024);
    }

    #[test]
    fn invalid_configurations_name_the_field() {
        let mut c = ModelConfig::paper(10, ModelKind::Scgan);
        assert!(validate(&c).is_ok());
        c.critic_layers = vec![];
        assert!(validate(&c).unwrap_err().to_string().contains("critic_layers"));
        let c = ModelConfig::paper(10, ModelKind::Cscgan { n_classes: 0, critic: ConditionalCritic::Projection });
        assert!(validate(&c).unwrap_err().to_string().contains("n_classes"));
        let mut c = ModelConfig::paper(10, ModelKind::Scgan);
        c.library_size = f32::NAN;
        assert!(validate(&c).unwrap_err().to_string().contains("library_size"));
    }
}
