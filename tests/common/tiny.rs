//! Tiny networks and batches for the engine's tests (tests/gradients.rs and tests/engine.rs): a few genes, cells
//! and units, so that every parameter can be differentiated numerically in f64.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use scgan::engine::{CriticLoss, CriticTerms, Network};
use scgan::model::{ConditionalCritic, ModelConfig, ModelKind, OptimizerConfig};

/// Cells per batch.
pub const B: usize = 4;
/// Genes.
pub const G: usize = 7;
/// Latent dimensions.
pub const L: usize = 3;
/// Classes of the conditional models.
pub const K: usize = 3;

/// The paper's model of `kind` shrunk to `G` genes, `L` latent dimensions and a few units per layer.
pub fn tiny(kind: ModelKind, library_size: f32) -> ModelConfig {
    let mut c = ModelConfig::paper(G, kind);
    c.latent_dim = L;
    c.generator_layers = vec![5, 6, 7];
    c.critic_layers = vec![6, 5, 4];
    c.library_size = library_size;
    c
}

/// Every kind of model, named for the messages: scGAN and both cscGAN critics.
pub fn kinds() -> Vec<(&'static str, ModelKind)> {
    vec![
        ("scGAN", ModelKind::Scgan),
        ("cscGAN per-class", ModelKind::Cscgan { n_classes: K, critic: ConditionalCritic::PerClassOutput }),
        ("cscGAN projection", ModelKind::Cscgan { n_classes: K, critic: ConditionalCritic::Projection }),
    ]
}

/// One batch of a critic update: `B` real cells of `G` genes, their labels, the latent vectors and the
/// interpolation weights of the penalty.
pub struct Inputs {
    pub real: Vec<f64>,
    pub labels: Vec<u32>,
    pub z: Vec<f64>,
    pub alpha: Vec<f64>,
    /// Standardised log library sizes of the real cells, for a critic that reads depth (others ignore them).
    pub depth: Vec<f64>,
}

impl Inputs {
    /// The critic loss of these inputs on `net`, and its gradient (into the network's critic gradients).
    pub fn critic_loss(&self, net: &mut Network<f64>, terms: CriticTerms) -> CriticLoss {
        net.critic_loss_and_gradients(&self.real, &self.labels, &self.z, &self.alpha, &self.depth, terms)
    }
}

/// A batch drawn from `seed`: real cells that sum to `library_size`, most genes expressed; labels cycling
/// through the `K` classes when `conditional`.
pub fn inputs(seed: u64, conditional: bool, library_size: f64) -> Inputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut real = vec![0.0; B * G];
    for row in real.chunks_mut(G) {
        for x in row.iter_mut() {
            if rng.random::<f64>() < 0.7 {
                *x = rng.random::<f64>() * 3.0 + 0.1;
            }
        }
        row[0] += 0.5;
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|x| *x *= library_size / s);
    }
    let z = (0..B * L).map(|_| StandardNormal.sample(&mut rng)).collect();
    let alpha = (0..B).map(|_| 0.1 + 0.8 * rng.random::<f64>()).collect();
    let labels = if conditional { (0..B as u32).map(|i| i % K as u32).collect() } else { vec![] };
    let depth = (0..B).map(|_| StandardNormal.sample(&mut rng)).collect();
    Inputs { real, labels, z, alpha, depth }
}

/// A tiny f64 network with every parameter (biases, batch-norm affines, outputs) moved off its initial value,
/// so that few gradients are trivially zero.
pub fn network(kind: ModelKind, seed: u64, library_size: f32) -> Network<f64> {
    network_from(tiny(kind, library_size), seed)
}

/// As [`network`], of any configuration.
pub fn network_from(config: ModelConfig, seed: u64) -> Network<f64> {
    network_on_threads(config, seed, 1)
}

/// As [`network_from`], computing on `threads` threads.
pub fn network_on_threads(config: ModelConfig, seed: u64, threads: usize) -> Network<f64> {
    let mut net = Network::<f64>::new(config, OptimizerConfig::default(), seed, threads).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    for which in 0..2 {
        let set = if which == 0 { net.generator_params_mut() } else { net.critic_params_mut() };
        let entries = set.entries().to_vec();
        for e in entries {
            // gamma around 1; hidden biases and betas mostly positive, so that few units are dead for the whole batch
            let base = if e.name.ends_with("gamma") {
                Some(1.0)
            } else if e.name.ends_with("beta") || (e.name.ends_with("bias") && e.name.contains("dense")) {
                Some(0.5)
            } else {
                None
            };
            // deeper critic weights leaning positive: the activations are non-negative, so this keeps units alive
            let shift =
                if e.name.starts_with("critic.dense") && !e.name.starts_with("critic.dense1") { 0.3 } else { 0.0 };
            for x in &mut set.values_mut()[e.range()] {
                let noise: f64 = StandardNormal.sample(&mut rng);
                *x = base.unwrap_or(*x) + shift + 0.3 * noise;
            }
        }
    }
    net
}
