//! [`CpuGan`]: the CPU backend of [`GanBackend`], an f32 [`Network`].

use super::network::Network;
use crate::model::{
    CountRounding, CriticBatch, CriticStats, GanBackend, MeanMatching, ModelConfig, NamedTensor, OptimizerConfig,
};
use crate::Result;

/// The CPU backend: scGAN / cscGAN in f32 on faer, with its own thread pool.
///
/// Every method of [`GanBackend`] runs on the pool of `threads` threads given to [`CpuGan::new`] (faer's GEMMs
/// and the engine's element-wise passes alike), so the result does not depend on the caller's rayon setup.
///
/// As in the reference, every training-mode forward pass of the generator updates the batch-norm running
/// statistics: the generator update's, and also the one that makes the fakes of each critic update.
pub struct CpuGan {
    net: Network<f32>,
}

impl CpuGan {
    /// A freshly initialised model (the reference's initialisers, from a ChaCha8 generator seeded with `seed`),
    /// running on `threads` threads (0: all cores, 1: sequential).
    ///
    /// # Errors
    /// An invalid configuration (see [`crate::model::validate`]) or optimizer setting, or a thread pool that
    /// cannot be started.
    pub fn new(config: ModelConfig, optimizer: OptimizerConfig, seed: u64, threads: usize) -> Result<CpuGan> {
        Ok(CpuGan { net: Network::new(config, optimizer, seed, threads)? })
    }

    /// The underlying f32 engine.
    pub fn network(&self) -> &Network<f32> {
        &self.net
    }

    /// The underlying f32 engine, mutable.
    pub fn network_mut(&mut self) -> &mut Network<f32> {
        &mut self.net
    }
}

impl GanBackend for CpuGan {
    fn config(&self) -> &ModelConfig {
        self.net.config()
    }

    /// # Panics
    /// If the batch's buffers disagree in size (`real` `B x n_genes`, `z` `B x latent_dim`, `alpha` `B`, `B >= 1`)
    /// or a label is missing or out of range (cscGAN).
    fn critic_step(&mut self, batch: &CriticBatch<'_>, lr: f32) -> CriticStats {
        let l = self.net.critic_step(
            batch.real,
            batch.labels,
            batch.z,
            batch.alpha,
            batch.real_depth,
            batch.penalty_weight,
            lr,
        );
        CriticStats {
            loss: l.loss as f32,
            wasserstein: l.wasserstein as f32,
            gradient_penalty: l.gradient_penalty.map(|p| p as f32),
        }
    }

    /// # Panics
    /// If `z` is not a non-empty multiple of `latent_dim` or a label is missing or out of range (cscGAN).
    fn generator_step(&mut self, z: &[f32], labels: &[u32], lr: f32) -> f32 {
        self.net.generator_step(z, labels, lr) as f32
    }

    /// # Panics
    /// If `z` is not a multiple of `latent_dim`, `out` not `n x n_genes`, or a label is missing or out of range.
    fn generate(&mut self, z: &[f32], labels: &[u32], out: &mut [f32]) {
        self.net.generate(z, labels, out)
    }

    fn parameters(&self) -> Vec<NamedTensor> {
        self.net.parameters()
    }

    fn state(&self) -> Vec<NamedTensor> {
        self.net.state()
    }

    fn set_count_rounding(&mut self, rounding: Option<&CountRounding>) {
        self.net.set_count_rounding(rounding);
    }

    fn set_mean_matching(&mut self, matching: Option<&MeanMatching>) {
        self.net.set_mean_matching(matching);
    }

    fn update_generator_average(&mut self) {
        self.net.update_generator_average();
    }

    fn averaged_model(&mut self, z: &[f32], labels: &[u32]) -> Result<Option<Box<dyn GanBackend>>> {
        Ok(self.net.averaged_network(z, labels)?.map(|net| Box::new(CpuGan { net }) as Box<dyn GanBackend>))
    }

    fn load_parameters(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        self.net.load_parameters(tensors)
    }

    fn load_state(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        self.net.load_state(tensors)
    }
}
