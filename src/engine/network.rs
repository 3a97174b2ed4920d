//! [`Network`]: generator, critic, their optimizers and work buffers, generic over the float type.
//!
//! The training methods mirror [`crate::model::GanBackend`]; the `*_loss_and_gradients` methods compute a loss
//! and its gradient without updating anything but the batch-norm running statistics, for the finite-difference
//! tests (`tests/gradients.rs`).

use std::sync::Arc;

use faer::Par;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::critic::{CriticLayout, CriticWork};
use super::generator::{BnState, GeneratorLayout, GeneratorWork};
use super::linear::with_precision;
use super::matching::MeanMatching;
use super::optim::AmsGrad;
use super::params::{copy_in, expected_names, match_tensors, ParamSet};
use super::{ensure, Scalar};
use crate::model::{ModelConfig, NamedTensor, OptimizerConfig, Precision};
use crate::{Error, Result};

/// Which terms of the critic loss [`Network::critic_loss_and_gradients`] differentiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticTerms {
    /// `mean D(fake) - mean D(real) + lambda * penalty`: the loss the critic minimises.
    Full,
    /// `lambda * penalty` alone (to test the second-order part on its own).
    PenaltyOnly,
    /// `mean D(fake) - mean D(real)` alone, with the penalty skipped: a lazy penalty's unpenalised updates.
    WassersteinOnly,
}

/// The value of a critic loss evaluation, in f64.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CriticLoss {
    /// The loss differentiated (see [`CriticTerms`]).
    pub loss: f64,
    /// mean D(real) - mean D(fake).
    pub wasserstein: f64,
    /// mean (||grad_x D(x_hat)|| - 1)^2, without lambda; `None` when the update skipped the penalty.
    pub gradient_penalty: Option<f64>,
}

/// The scGAN / cscGAN engine in float type `T`: parameters, AMSGrad states, batch-norm statistics, work buffers.
///
/// [`crate::engine::CpuGan`] is a `Network<f32>`; the gradient tests use `Network<f64>`.
pub struct Network<T: Scalar> {
    config: ModelConfig,
    optimizer: OptimizerConfig,
    gen_layout: GeneratorLayout,
    critic_layout: CriticLayout,
    gen: ParamSet<T>,
    critic: ParamSet<T>,
    gen_opt: AmsGrad<T>,
    critic_opt: AmsGrad<T>,
    bn: BnState<T>,
    /// Moving average of the generator's values (with [`ModelConfig::generator_average`]).
    average: Option<Vec<T>>,
    gen_ws: GeneratorWork<T>,
    critic_ws: CriticWork<T>,
    x0: Vec<T>,
    gx: Vec<T>,
    /// The real cells as the critic sees them, when it does not see the normalised values themselves.
    real_input: Vec<T>,
    /// The depth of every row a critic that reads depth is given ([`ModelConfig::critic_depth`]): the real
    /// cells' then the fakes', or the fakes' alone in a generator update; empty for other critics.
    depth: Vec<T>,
    /// The generator loss's mean-matching term ([`crate::model::MeanMatching`]).
    matching: MeanMatching<T>,
    sparse_limit: f64,
    par: Par,
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// A batch of cells goes through the critic's sparse layer-1 kernels when at most this fraction of it is nonzero.
const SPARSE_LIMIT: f64 = 0.3;

impl<T: Scalar> Network<T> {
    /// A freshly initialised network (the reference's initialisers, drawn from a ChaCha8 generator seeded with
    /// `seed`), running on `threads` threads (0: all cores; 1: sequential).
    ///
    /// # Errors
    /// An invalid configuration (zero sizes, no classes for cscGAN, non-positive library size, ...), or a
    /// thread pool that cannot be built.
    pub fn new(config: ModelConfig, optimizer: OptimizerConfig, seed: u64, threads: usize) -> Result<Self> {
        crate::model::validate(&config)?;
        validate_optimizer(&optimizer)?;
        let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
        let (par, pool) = if threads <= 1 {
            (Par::Seq, None)
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("scgan-engine-{i}"))
                .build()
                .map_err(|e| Error::parameter("threads", format!("cannot start {threads} threads: {e}")))?;
            (Par::rayon(threads), Some(Arc::new(pool)))
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut gen = ParamSet::new();
        let gen_layout = GeneratorLayout::build(&config, &mut gen, &mut rng);
        let mut critic = ParamSet::new();
        let critic_layout = CriticLayout::build(&config, &mut critic, &mut rng);
        let bn = gen_layout.new_bn_state();
        let average = config.generator_average.map(|_| gen.values().to_vec());
        Ok(Network {
            average,
            gen_opt: AmsGrad::new(gen.len()),
            critic_opt: AmsGrad::new(critic.len()),
            config,
            optimizer,
            gen_layout,
            critic_layout,
            gen,
            critic,
            bn,
            gen_ws: GeneratorWork::default(),
            critic_ws: CriticWork::default(),
            x0: Vec::new(),
            gx: Vec::new(),
            real_input: Vec::new(),
            depth: Vec::new(),
            matching: MeanMatching::default(),
            sparse_limit: SPARSE_LIMIT,
            par,
            pool,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The generator's parameters (and the gradient of the last generator loss).
    pub fn generator_params(&self) -> &ParamSet<T> {
        &self.gen
    }

    /// The generator's parameters, mutable.
    pub fn generator_params_mut(&mut self) -> &mut ParamSet<T> {
        &mut self.gen
    }

    /// The critic's parameters (and the gradient of the last critic loss).
    pub fn critic_params(&self) -> &ParamSet<T> {
        &self.critic
    }

    /// The critic's parameters, mutable.
    pub fn critic_params_mut(&mut self) -> &mut ParamSet<T> {
        &mut self.critic
    }

    /// Running mean and variance of generator batch norm `layer` (0-based).
    ///
    /// # Panics
    /// If `layer` is not below the number of generator layers.
    pub fn running_stats(&self, layer: usize) -> (&[T], &[T]) {
        (&self.bn.mean[layer], &self.bn.var[layer])
    }

    /// Sets the largest fraction of nonzeros in a batch of cells (real or generated) for which the critic uses its
    /// sparse kernels in layer 1 (default 0.3; negative: never). For tests and benchmarks of both paths.
    #[doc(hidden)]
    pub fn set_sparse_limit(&mut self, limit: f64) {
        self.sparse_limit = limit;
    }

    /// Whether the last critic loss used the sparse kernels for (the real cells, the fakes).
    #[doc(hidden)]
    pub fn last_sparse_paths(&self) -> (bool, bool) {
        self.critic_ws.last_sparse
    }

    fn run<R: Send>(&mut self, f: impl FnOnce(&mut Self) -> R + Send) -> R {
        let bf16 = self.config.precision == Precision::Bf16;
        match self.pool.clone() {
            Some(pool) => pool.install(|| with_precision(bf16, || f(self))),
            None => with_precision(bf16, || f(self)),
        }
    }

    /// Checks the labels of a batch of `n` cells.
    fn check_labels(&self, labels: &[u32], n: usize) {
        let k = self.config.n_classes();
        if k > 0 {
            assert_eq!(labels.len(), n, "cscGAN needs one label per cell");
            if let Some(bad) = labels.iter().find(|&&y| y as usize >= k) {
                panic!("label {bad} out of range for {k} classes");
            }
        }
    }

    /// The critic loss of one batch and its gradient (into [`Network::critic_params`]' gradients), without
    /// updating the critic. The fakes are generated in training mode (updating the batch-norm running statistics).
    ///
    /// # Panics
    /// If `real` is not `B x n_genes` with `B = alpha.len() >= 1`, `z` not `B x latent_dim`, the labels are
    /// not one per cell below `n_classes` (cscGAN), or a critic that reads depth is not given `B` real depths.
    #[doc(hidden)]
    pub fn critic_loss_and_gradients(
        &mut self,
        real: &[T],
        labels: &[u32],
        z: &[T],
        alpha: &[T],
        real_depth: &[T],
        terms: CriticTerms,
    ) -> CriticLoss {
        self.run(|net| net.critic_inner(real, labels, z, alpha, real_depth, terms, 1.0))
    }

    /// Fills `self.depth` for a critic that reads depth: `real_depth` (if any rows), then the first latent
    /// coordinate of every fake (where `--library-input` writes its library size); leaves it empty otherwise.
    fn fill_depth(&mut self, real_depth: Option<&[T]>, z: &[T]) {
        self.depth.clear();
        if !self.config.critic_depth {
            return;
        }
        let l = self.config.latent_dim;
        if let Some(real_depth) = real_depth {
            assert_eq!(real_depth.len() * l, z.len(), "a critic that reads depth needs one depth per real cell");
            self.depth.extend_from_slice(real_depth);
        }
        self.depth.extend(z.chunks(l).map(|row| row[0]));
    }

    /// `penalty_weight` multiplies lambda (see [`crate::model::CriticBatch::penalty_weight`]).
    #[allow(clippy::too_many_arguments)]
    fn critic_inner(
        &mut self,
        real: &[T],
        labels: &[u32],
        z: &[T],
        alpha: &[T],
        real_depth: &[T],
        terms: CriticTerms,
        penalty_weight: f32,
    ) -> CriticLoss {
        let (b, g) = (alpha.len(), self.config.n_genes);
        assert!(b > 0, "empty batch");
        assert_eq!(real.len(), b * g, "real must be batch x n_genes");
        assert_eq!(z.len(), b * self.config.latent_dim, "z must be batch x latent_dim");
        self.check_labels(labels, b);
        self.fill_depth(Some(real_depth), z);
        let par = self.par;
        ensure(&mut self.x0, 3 * b * g);
        let fake = &mut self.x0[b * g..2 * b * g];
        self.gen_layout.forward(self.gen.values(), &mut self.bn, &mut self.gen_ws, z, labels, fake, b, true, par);
        let lambda = match terms {
            CriticTerms::WassersteinOnly => 0.0,
            _ => self.config.lambda_gp as f64 * penalty_weight as f64,
        };
        let ww = if terms == CriticTerms::PenaltyOnly { T::ZERO } else { T::ONE };
        let real: &[T] = if self.gen_layout.log_output {
            self.real_input.clear();
            self.real_input.extend(real.iter().map(|&x| if x > T::ZERO { x.ln_1p() } else { x }));
            &self.real_input
        } else {
            real
        };
        let (p, grads) = self.critic.values_and_grads_mut();
        let v = self.critic_layout.loss_and_gradients(
            p,
            grads,
            &mut self.critic_ws,
            real,
            &mut self.x0,
            b,
            labels,
            alpha,
            &self.depth,
            T::from_f64(lambda),
            ww,
            self.sparse_limit,
            par,
        );
        let penalty = lambda * v.penalty.unwrap_or(0.0);
        let loss = if terms == CriticTerms::PenaltyOnly { penalty } else { penalty - v.wasserstein };
        CriticLoss { loss, wasserstein: v.wasserstein, gradient_penalty: v.penalty }
    }

    /// The generator loss `-mean D(G(z, y), y)` (plus the mean-matching term, if set) and its gradient (into
    /// [`Network::generator_params`]' gradients), without updating anything but the batch-norm running statistics.
    ///
    /// # Panics
    /// If `z` is not a non-empty multiple of `latent_dim`, or the labels are not one per cell below `n_classes`.
    #[doc(hidden)]
    pub fn generator_loss_and_gradients(&mut self, z: &[T], labels: &[u32]) -> f64 {
        self.run(|net| net.generator_inner(z, labels))
    }

    fn generator_inner(&mut self, z: &[T], labels: &[u32]) -> f64 {
        let (l, g) = (self.config.latent_dim, self.config.n_genes);
        assert!(!z.is_empty() && z.len().is_multiple_of(l), "z must be batch x latent_dim");
        let b = z.len() / l;
        self.check_labels(labels, b);
        self.fill_depth(None, z);
        let par = self.par;
        ensure(&mut self.x0, b * g);
        ensure(&mut self.gx, b * g);
        let fake = &mut self.x0[..b * g];
        self.gen_layout.forward(self.gen.values(), &mut self.bn, &mut self.gen_ws, z, labels, fake, b, true, par);
        let scale = -T::ONE / T::from_f64(b as f64);
        let total = self.critic_layout.input_gradient(
            self.critic.values(),
            &mut self.critic_ws,
            &self.x0,
            b,
            labels,
            &self.depth,
            scale,
            &mut self.gx,
            self.sparse_limit,
            par,
        );
        let matching =
            if self.matching.is_on() { self.matching.add_gradient(&self.x0, labels, b, g, &mut self.gx) } else { 0.0 };
        let (p, grads) = self.gen.values_and_grads_mut();
        self.gen_layout.backward(p, grads, &mut self.gen_ws, z, labels, &self.x0, &mut self.gx, b, par);
        -total / b as f64 + matching
    }

    /// Adds (or with `None` removes) the mean-matching term of the generator loss (see
    /// [`crate::model::MeanMatching`]).
    ///
    /// # Panics
    /// If the targets are not `classes x n_genes` for the model's classes (one without).
    pub fn set_mean_matching(&mut self, matching: Option<&crate::model::MeanMatching>) {
        self.matching = match matching {
            Some(m) => {
                let classes = self.config.n_classes().max(1);
                assert_eq!(m.targets.len(), classes * self.config.n_genes, "targets must be classes x n_genes");
                MeanMatching { weight: m.weight as f64, targets: m.targets.iter().map(|&t| T::from_f32(t)).collect() }
            }
            None => MeanMatching::default(),
        };
    }

    /// Rounds the generated cells of the following training passes to counts (see
    /// [`crate::model::CountRounding`]), or with `None` stops rounding.
    pub fn set_count_rounding(&mut self, rounding: Option<&crate::model::CountRounding>) {
        self.gen_ws.rounding_scale.clear();
        if let Some(rounding) = rounding {
            self.gen_ws.rounding_scale.extend(rounding.scales.iter().map(|&s| T::from_f32(s)));
            self.gen_ws.rounding_seed = rounding.seed;
            self.gen_ws.count_draw = rounding.draw;
            self.gen_ws.count_thinning = (rounding.thinning < 1.0).then_some(rounding.thinning as f64);
        }
    }

    /// One critic update (see [`crate::model::GanBackend::critic_step`]); returns the loss before the update.
    #[allow(clippy::too_many_arguments)]
    pub fn critic_step(
        &mut self,
        real: &[T],
        labels: &[u32],
        z: &[T],
        alpha: &[T],
        real_depth: &[T],
        penalty_weight: f32,
        lr: f32,
    ) -> CriticLoss {
        self.run(|net| {
            let loss = net.critic_inner(real, labels, z, alpha, real_depth, CriticTerms::Full, penalty_weight);
            let (values, grads) = net.critic.split();
            net.critic_opt.update(values, grads, lr, &net.optimizer, net.par);
            loss
        })
    }

    /// One generator update (see [`crate::model::GanBackend::generator_step`]); returns the loss before it.
    pub fn generator_step(&mut self, z: &[T], labels: &[u32], lr: f32) -> f64 {
        self.run(|net| {
            let loss = net.generator_inner(z, labels);
            let (values, grads) = net.gen.split();
            net.gen_opt.update(values, grads, lr, &net.optimizer, net.par);
            loss
        })
    }

    /// Moves the generator average towards the current weights: `a <- d a + (1 - d) w` with
    /// `d = min(decay, (1 + t) / (10 + t))` after the `t`-th generator update, as TensorFlow's
    /// `ExponentialMovingAverage(num_updates)`, so that the first updates are not dominated by the initial weights.
    pub fn update_generator_average(&mut self) {
        let (Some(decay), Some(average)) = (self.config.generator_average, self.average.as_mut()) else { return };
        let t = self.gen_opt.step as f64;
        let d = T::from_f64((decay as f64).min((1.0 + t) / (10.0 + t)));
        let keep = T::ONE - d;
        let values = self.gen.values();
        let update = |(a, w): (&mut T, &T)| *a = d * *a + keep * *w;
        match self.par {
            Par::Seq => average.iter_mut().zip(values).for_each(update),
            _ => {
                use rayon::prelude::*;
                let mut parallel =
                    || average.par_iter_mut().zip(values.par_iter()).with_min_len(1 << 14).for_each(update);
                match &self.pool {
                    Some(pool) => pool.install(parallel),
                    None => parallel(),
                }
            }
        }
    }

    /// A network whose generator holds the average weights, with the current critic, and with batch-norm
    /// running statistics measured on one training-mode pass of `z` (and `labels`) through the averaged
    /// generator. `None` without an average.
    ///
    /// # Errors
    /// A thread pool that cannot be started.
    ///
    /// # Panics
    /// If `z` is not a non-empty multiple of `latent_dim` or the labels are not one per cell below `n_classes`.
    pub fn averaged_network(&mut self, z: &[T], labels: &[u32]) -> Result<Option<Network<T>>> {
        let Some(average) = &self.average else { return Ok(None) };
        let l = self.config.latent_dim;
        assert!(!z.is_empty() && z.len().is_multiple_of(l), "z must be n x latent_dim");
        let n = z.len() / l;
        self.check_labels(labels, n);
        let mut config = self.config.clone();
        config.generator_average = None;
        let threads = match self.par {
            Par::Seq => 1,
            Par::Rayon(t) => t.get(),
        };
        let mut net = Network::new(config, self.optimizer, 0, threads)?;
        net.gen.values_mut().copy_from_slice(average);
        net.critic.values_mut().copy_from_slice(self.critic.values());
        let measure = net.gen_layout.with_bn_decay(0.0);
        let mut out = vec![T::ZERO; n * self.config.n_genes];
        net.run(|net| {
            let par = net.par;
            measure.forward(net.gen.values(), &mut net.bn, &mut net.gen_ws, z, labels, &mut out, n, true, par);
        });
        Ok(Some(net))
    }

    /// Generates `n = z.len() / latent_dim` cells into `out: (n, n_genes)` in inference mode, in chunks of 256.
    ///
    /// # Panics
    /// If `z` is not a multiple of `latent_dim`, `out` not `n x n_genes`, or the labels are not one per cell
    /// below `n_classes`.
    pub fn generate(&mut self, z: &[T], labels: &[u32], out: &mut [T]) {
        let (l, g) = (self.config.latent_dim, self.config.n_genes);
        assert!(z.len().is_multiple_of(l), "z must be n x latent_dim");
        let n = z.len() / l;
        assert_eq!(out.len(), n * g, "out must be n x n_genes");
        self.check_labels(labels, n);
        const CHUNK: usize = 256;
        let conditional = self.config.n_classes() > 0;
        self.run(|net| {
            let par = net.par;
            for (c, (zc, oc)) in z.chunks(CHUNK * l).zip(out.chunks_mut(CHUNK * g)).enumerate() {
                let m = zc.len() / l;
                let lc = if conditional { &labels[c * CHUNK..c * CHUNK + m] } else { &[][..] };
                net.gen_layout.forward(net.gen.values(), &mut net.bn, &mut net.gen_ws, zc, lc, oc, m, false, par);
                if net.gen_layout.log_output {
                    oc.iter_mut().filter(|x| **x > T::ZERO).for_each(|x| *x = x.exp_m1());
                }
            }
        });
    }

    /// The trainable parameters as named f32 tensors, generator's then critic's.
    pub fn parameters(&self) -> Vec<NamedTensor> {
        let mut out = self.gen.export("", self.gen.values());
        out.extend(self.critic.export("", self.critic.values()));
        out
    }

    /// Batch-norm running statistics, then the AMSGrad moments (`optim.{generator,critic}.{m,v,vhat}.<name>`)
    /// and step counts (`optim.generator.step`, `optim.critic.step`: one f32 each, exact below 2^24 steps).
    pub fn state(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (l, (m, v)) in self.bn.mean.iter().zip(&self.bn.var).enumerate() {
            let w = m.len();
            let t = |kind: &str, d: &[T]| NamedTensor {
                name: format!("generator.bn{}.{kind}", l + 1),
                shape: vec![w],
                data: d.iter().map(|x| x.to_f32()).collect(),
            };
            out.push(t("running_mean", m));
            out.push(t("running_var", v));
        }
        for (who, set, opt) in [("generator", &self.gen, &self.gen_opt), ("critic", &self.critic, &self.critic_opt)] {
            out.extend(set.export(&format!("optim.{who}.m."), &opt.m));
            out.extend(set.export(&format!("optim.{who}.v."), &opt.v));
            out.extend(set.export(&format!("optim.{who}.vhat."), &opt.vhat));
            out.push(NamedTensor { name: format!("optim.{who}.step"), shape: vec![1], data: vec![opt.step as f32] });
        }
        if let Some(average) = &self.average {
            out.extend(self.gen.export("average.", average));
        }
        out
    }

    /// Replaces the trainable parameters (see [`crate::model::GanBackend::load_parameters`]).
    ///
    /// # Errors
    /// A missing, duplicated, unknown, misshapen or non-finite tensor, named in the error. Nothing is changed then.
    pub fn load_parameters(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        let mut expected = expected_names(&self.gen, "");
        expected.extend(expected_names(&self.critic, ""));
        let found = match_tensors(tensors, &expected)?;
        for set in [&mut self.gen, &mut self.critic] {
            let entries = set.entries().to_vec();
            for e in entries {
                copy_in(&mut set.values_mut()[e.range()], &found[&e.name].data);
            }
        }
        Ok(())
    }

    /// Replaces the non-trainable state (see [`crate::model::GanBackend::load_state`]).
    ///
    /// # Errors
    /// As [`Network::load_parameters`], and a step count that is not a non-negative whole number, or a negative
    /// variance or second moment. Nothing is changed then.
    pub fn load_state(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        let mut expected = self.gen_layout.bn_names();
        for (who, set) in [("generator", &self.gen), ("critic", &self.critic)] {
            for kind in ["m", "v", "vhat"] {
                expected.extend(expected_names(set, &format!("optim.{who}.{kind}.")));
            }
            expected.push((format!("optim.{who}.step"), vec![1]));
        }
        if self.average.is_some() {
            expected.extend(expected_names(&self.gen, "average."));
        }
        let found = match_tensors(tensors, &expected)?;
        for (name, _) in &expected {
            let t = found[name];
            let negative_ok = name.contains(".m.") || name.ends_with("running_mean") || name.starts_with("average.");
            if !negative_ok {
                if let Some(x) = t.data.iter().find(|x| **x < 0.0) {
                    return Err(Error::parameter(name, format!("negative value {x}")));
                }
            }
            if name.ends_with(".step") && t.data[0].fract() != 0.0 {
                return Err(Error::parameter(name, format!("step count {} is not a whole number", t.data[0])));
            }
        }
        for (l, (m, v)) in self.bn.mean.iter_mut().zip(self.bn.var.iter_mut()).enumerate() {
            copy_in(m, &found[&format!("generator.bn{}.running_mean", l + 1)].data);
            copy_in(v, &found[&format!("generator.bn{}.running_var", l + 1)].data);
        }
        for (who, set, opt) in
            [("generator", &self.gen, &mut self.gen_opt), ("critic", &self.critic, &mut self.critic_opt)]
        {
            for e in set.entries() {
                copy_in(&mut opt.m[e.range()], &found[&format!("optim.{who}.m.{}", e.name)].data);
                copy_in(&mut opt.v[e.range()], &found[&format!("optim.{who}.v.{}", e.name)].data);
                copy_in(&mut opt.vhat[e.range()], &found[&format!("optim.{who}.vhat.{}", e.name)].data);
            }
            opt.step = found[&format!("optim.{who}.step")].data[0] as u64;
        }
        if let Some(average) = self.average.as_mut() {
            for e in self.gen.entries() {
                copy_in(&mut average[e.range()], &found[&format!("average.{}", e.name)].data);
            }
        }
        Ok(())
    }
}

fn validate_optimizer(o: &OptimizerConfig) -> Result<()> {
    for (name, v) in [("beta1", o.beta1), ("beta2", o.beta2)] {
        if !(0.0..1.0).contains(&v) {
            return Err(Error::parameter(name, format!("{v} is not in [0, 1)")));
        }
    }
    if !(o.epsilon > 0.0 && o.epsilon.is_finite()) {
        return Err(Error::parameter("epsilon", format!("{} is not a positive number", o.epsilon)));
    }
    Ok(())
}
