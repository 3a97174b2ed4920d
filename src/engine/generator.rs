//! The generator: `z (n, L) -> [linear (no bias) -> (conditional) batch norm -> ReLU] x layers -> linear + bias
//! -> ReLU -> LSN`, forward in training or inference mode, and backward.
//!
//! Shapes for the paper's model: `z (n, 128)`, `W_1 (128, 256)`, `W_2 (256, 512)`, `W_3 (512, 1024)`,
//! `W_out (1024, G)`, `b_out (G)`, `gamma_k, beta_k (w_k)` or `(K, w_k)`.
//!
//! The LSN layer scales each cell to the library size `c`: with `p = relu(o)`, `s = sum_j p_j + 2.22e-16` and
//! `x = c p / s`, its backward pass is `dp_k = (c / s) (dx_k - (dx . x) / c)`, and `do = dp * (x > 0)`
//! (`x_k > 0` exactly when `o_k > 0`). With the critic looking at `y = ln(1 + x)` ([`CriticInput::Log1p`]), the
//! forward pass ends with that transform and the backward pass starts with `dx = dy e^{-y}`, `x = e^y - 1`.
//! In training with counts the values are made into counts between the LSN and the logarithm (normalised back to
//! the library size, or left as counts for [`CriticInput::Log1pCounts`]), and the backward pass goes through them
//! with the expected slope over one count (`count_step_slope`).
//! The backward pass then runs the linear layers and batch norms in reverse:
//! `dW_out = h^T do`, `db_out = sum_i do_i`, `dh = do W_out^T`, batch-norm backward, `dW_k = h_{k-1}^T da_k`.

use std::ops::Range;

use faer::Par;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::batchnorm::{self, Running};
use super::counts::{count_step_slope, draw_count, draw_thinned_count, hash, start_count, start_thinned_count};
use super::linear::{backward_input, backward_weight, column_sums, dot, forward, sum};
use super::params::{Init, ParamSet};
use super::{ensure, for_each_row2, for_each_row_with, with_simd, Scalar};
use crate::model::{CountDraw, CriticInput, ModelConfig};

/// A seed from the bits of one cell's latent vector: the cell's output noise is a function of its latent vector,
/// so that generation stays a function of `(z, labels)` and the trainer keeps owning every random draw.
fn latent_hash<T: Scalar>(z: &[T]) -> u64 {
    z.iter().fold(0x006e_6f69_7365_u64, |h, v| {
        let bits = v.to_f64().to_bits();
        (h ^ bits).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
    })
}

/// An approximately standard normal number from `(seed, index)`: the sum of the four 16-bit quarters of one
/// hashed 64-bit word (Irwin-Hall with four terms), centred and scaled to unit variance. One hash and no
/// logarithm or cosine: Box-Muller made a step with output noise 17% slower (Session 15), this a few percent.
/// Its tails end at ±3.46 standard deviations, which a learnt noise scale does not miss.
fn standard_normal(seed: u64, index: u64) -> f64 {
    let word = hash(seed, index);
    let quarters = (0..4).map(|q| ((word >> (16 * q)) & 0xffff) as f64).sum::<f64>();
    // each quarter is uniform on {0, ..., 65535}: mean 32767.5, variance (65536² - 1) / 12
    const MEAN: f64 = 4.0 * 32_767.5;
    const SD: f64 = 37_837.23; // sqrt(4 * (65536² - 1) / 12)
    (quarters - MEAN) / SD
}

/// The output noise's scale at the start of training. Not zero: the noise's sign is symmetric, so the scale's
/// expected gradient is zero at zero and a scale started there stays near it (Session 4: mean 0.002 after 750
/// steps). A tenth is about half of one count's share of a trained generator's output before normalisation.
const OUTPUT_NOISE_START: f64 = 0.1;

/// Added to each cell's total before dividing, as the reference does.
const LSN_EPS: f64 = 2.22e-16;

/// Where the generator's tensors are in its [`ParamSet`], and its constants.
#[derive(Debug, Clone)]
pub(crate) struct GeneratorLayout {
    /// Latent dimension.
    pub latent: usize,
    /// Hidden widths.
    pub widths: Vec<usize>,
    /// Output width.
    pub n_genes: usize,
    /// Classes of the conditional batch norm (0: plain batch norm).
    pub n_classes: usize,
    dense: Vec<Range<usize>>,
    gamma: Vec<Range<usize>>,
    beta: Vec<Range<usize>>,
    out_w: Range<usize>,
    out_b: Range<usize>,
    /// Scale of the per-gene output noise ([`ModelConfig::output_noise`]).
    out_noise: Option<Range<usize>>,
    library_size: f64,
    eps: f64,
    decay: f64,
    /// The output is `ln(1 + x)` of the LSN values (what a log1p critic sees).
    pub log_output: bool,
    /// In training with counts, the output is the counts themselves (`ln(1 + k)` with `log_output`), not the
    /// counts normalised back to the library size ([`CriticInput::Log1pCounts`]).
    counts_output: bool,
}

/// Batch-norm running statistics, one `(w_k)` vector per layer.
#[derive(Debug, Clone)]
pub(crate) struct BnState<T> {
    /// Running means.
    pub mean: Vec<Vec<T>>,
    /// Running (biased) variances.
    pub var: Vec<Vec<T>>,
}

/// Reused work buffers.
#[derive(Debug, Default)]
pub(crate) struct GeneratorWork<T> {
    /// Count rounding of the training-mode forward passes (see [`crate::model::CountRounding`]): per-cell
    /// `library size / model library size` (empty: no rounding) and the seed of the rounding.
    pub rounding_scale: Vec<T>,
    /// Seed of the rounding; the uniform of cell `i`, gene `j` is a hash of `(seed, i G + j)`.
    pub rounding_seed: u64,
    /// How values become counts.
    pub count_draw: CountDraw,
    /// The fraction of counts kept when they are thinned after the draw (`None`: not thinned; see
    /// [`crate::model::CountRounding::thinning`]).
    pub count_thinning: Option<f64>,
    /// The LSN output before rounding, for the backward pass, and whether the last forward pass rounded.
    unrounded: Vec<T>,
    /// One count of each rounded cell in the units the critic sees: normalised units (`library_size / drawn total`
    /// for drawn counts: Poisson, rounded-Poisson; one kept count, `1 / (scale keep)`, for thinned rounded counts),
    /// or 1 for a critic shown the counts themselves ([`CriticInput::Log1pCounts`]).
    count_unit: Vec<T>,
    rounded: bool,
    /// The output noise `e_ij` of the last forward pass.
    noise: Vec<T>,
    xhat: Vec<Vec<T>>,
    h: Vec<Vec<T>>,
    mean: Vec<Vec<T>>,
    inv_std: Vec<Vec<T>>,
    row_scale: Vec<T>,
    dh: Vec<T>,
    dh2: Vec<T>,
    scratch: Vec<T>,
}

impl GeneratorLayout {
    /// Appends the generator's tensors (`generator.dense1.weight`, `generator.bn1.gamma`, ...) to `params`,
    /// initialised from `rng`, and returns the layout.
    pub fn build<T: Scalar>(cfg: &ModelConfig, params: &mut ParamSet<T>, rng: &mut ChaCha8Rng) -> Self {
        let k = cfg.n_classes();
        let mut dense = Vec::new();
        let (mut gamma, mut beta) = (Vec::new(), Vec::new());
        let mut n_in = cfg.latent_dim;
        for (i, &w) in cfg.generator_layers.iter().enumerate() {
            let l = i + 1;
            let init = Init::Glorot { fan_in: n_in, fan_out: w };
            dense.push(params.push(format!("generator.dense{l}.weight"), vec![n_in, w], init, rng));
            let shape = if k > 0 { vec![k, w] } else { vec![w] };
            gamma.push(params.push(format!("generator.bn{l}.gamma"), shape.clone(), Init::Ones, rng));
            beta.push(params.push(format!("generator.bn{l}.beta"), shape, Init::Zeros, rng));
            n_in = w;
        }
        let g = cfg.n_genes;
        let init = Init::VarianceScaling { fan_in: n_in, fan_out: g };
        let out_w = params.push("generator.out.weight".into(), vec![n_in, g], init, rng);
        let out_b = params.push("generator.out.bias".into(), vec![g], Init::Zeros, rng);
        let out_noise = cfg
            .output_noise
            .then(|| params.push("generator.out.noise_scale".into(), vec![g], Init::Constant(OUTPUT_NOISE_START), rng));
        GeneratorLayout {
            latent: cfg.latent_dim,
            widths: cfg.generator_layers.clone(),
            n_genes: g,
            n_classes: k,
            dense,
            gamma,
            beta,
            out_w,
            out_b,
            out_noise,
            library_size: cfg.library_size as f64,
            eps: cfg.bn_epsilon as f64,
            decay: cfg.bn_decay as f64,
            log_output: matches!(cfg.critic_input, CriticInput::Log1p | CriticInput::Log1pCounts),
            counts_output: cfg.critic_input == CriticInput::Log1pCounts,
        }
    }

    /// The same layout with another batch-norm running-average decay (0: the running statistics become the
    /// statistics of the last batch).
    pub fn with_bn_decay(&self, decay: f64) -> Self {
        GeneratorLayout { decay, ..self.clone() }
    }

    /// Running statistics initialised to mean 0, variance 1.
    pub fn new_bn_state<T: Scalar>(&self) -> BnState<T> {
        BnState {
            mean: self.widths.iter().map(|&w| vec![T::ZERO; w]).collect(),
            var: self.widths.iter().map(|&w| vec![T::ONE; w]).collect(),
        }
    }

    /// Names and shapes of the running statistics, as [`BnState`] orders them (means, then variances, per layer).
    pub fn bn_names(&self) -> Vec<(String, Vec<usize>)> {
        let mut names = Vec::new();
        for (i, &w) in self.widths.iter().enumerate() {
            names.push((format!("generator.bn{}.running_mean", i + 1), vec![w]));
            names.push((format!("generator.bn{}.running_var", i + 1), vec![w]));
        }
        names
    }

    fn labels<'a>(&self, labels: &'a [u32]) -> Option<&'a [u32]> {
        (self.n_classes > 0).then_some(labels)
    }

    fn prepare<T: Scalar>(&self, ws: &mut GeneratorWork<T>, n: usize) {
        let layers = self.widths.len();
        for v in [&mut ws.xhat, &mut ws.h, &mut ws.mean, &mut ws.inv_std] {
            v.resize_with(layers, Vec::new);
        }
        for (l, &w) in self.widths.iter().enumerate() {
            ensure(&mut ws.xhat[l], n * w);
            ensure(&mut ws.h[l], n * w);
            ensure(&mut ws.mean[l], w);
            ensure(&mut ws.inv_std[l], w);
        }
        let wmax = self.widths.iter().copied().max().unwrap_or(0);
        ensure(&mut ws.row_scale, n);
        ensure(&mut ws.dh, n * wmax);
        ensure(&mut ws.dh2, n * wmax);
        ensure(&mut ws.scratch, 2 * wmax);
    }

    /// Forward pass of `n` cells into `out: (n, G)`. In training mode (`train`) batch norm uses the batch's
    /// statistics and updates the running ones; otherwise it uses the running ones. The intermediate activations
    /// stay in `ws` for [`GeneratorLayout::backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Scalar>(
        &self,
        p: &[T],
        bn: &mut BnState<T>,
        ws: &mut GeneratorWork<T>,
        z: &[T],
        labels: &[u32],
        out: &mut [T],
        n: usize,
        train: bool,
        par: Par,
    ) {
        self.prepare(ws, n);
        let labels = self.labels(labels);
        let eps = T::from_f64(self.eps);
        let mut n_in = self.latent;
        for (l, &w) in self.widths.iter().enumerate() {
            let input: &[T] = if l == 0 { z } else { &ws.h[l - 1] };
            forward(&mut ws.xhat[l], input, &p[self.dense[l].clone()], n, n_in, w, par);
            let (gamma, beta) = (&p[self.gamma[l].clone()], &p[self.beta[l].clone()]);
            if train {
                let running = Running { mean: &mut bn.mean[l], var: &mut bn.var[l], decay: T::from_f64(self.decay) };
                let h = &mut ws.h[l];
                batchnorm::forward_train(
                    &mut ws.xhat[l],
                    h,
                    n,
                    w,
                    gamma,
                    beta,
                    labels,
                    eps,
                    running,
                    &mut ws.mean[l],
                    &mut ws.inv_std[l],
                );
            } else {
                let (a, h) = (&mut ws.xhat[l], &mut ws.h[l]);
                h[..n * w].copy_from_slice(&a[..n * w]);
                batchnorm::forward_infer(h, n, w, gamma, beta, labels, eps, &bn.mean[l], &bn.var[l]);
            }
            n_in = w;
        }
        let g = self.n_genes;
        let h_last: &[T] = if self.widths.is_empty() { z } else { &ws.h[self.widths.len() - 1] };
        let out = &mut out[..n * g];
        forward(out, h_last, &p[self.out_w.clone()], n, n_in, g, par);
        if let Some(noise_scale) = &self.out_noise {
            ensure(&mut ws.noise, n * g);
            let noise_scale = &p[noise_scale.clone()];
            let latent = self.latent;
            let add = |(i, (row, noise)): (usize, (&mut [T], &mut [T]))| {
                let seed = latent_hash(&z[i * latent..(i + 1) * latent]);
                for (j, ((y, e), s)) in row.iter_mut().zip(noise.iter_mut()).zip(noise_scale).enumerate() {
                    *e = T::from_f64(standard_normal(seed, j as u64));
                    *y += *s * *e;
                }
            };
            let noise = &mut ws.noise[..n * g];
            match par {
                Par::Seq => out.chunks_mut(g).zip(noise.chunks_mut(g)).enumerate().for_each(add),
                _ => out.par_chunks_mut(g).zip(noise.par_chunks_mut(g)).enumerate().for_each(add),
            }
        }
        let bias = &p[self.out_b.clone()];
        let (lib, lsn_eps) = (T::from_f64(self.library_size), T::from_f64(LSN_EPS));
        // Rounding comes between the LSN and the logarithm, so the LSN pass leaves the logarithm to it.
        let rounding = train && ws.rounding_scale.len() >= n;
        let log_output = self.log_output;
        let log_in_tail = log_output && !rounding;
        let tail = |row: &mut [T], scale: &mut T| {
            with_simd(
                #[inline(always)]
                || {
                    for (x, b) in row.iter_mut().zip(bias) {
                        let y = *x + *b;
                        *x = if y > T::ZERO { y } else { T::ZERO };
                    }
                    let c = lib / (sum(row) + lsn_eps);
                    row.iter_mut().for_each(|x| *x *= c);
                    *scale = c;
                },
            );
            if log_in_tail {
                // zeros stay zeros, so only the expressed genes pay for the logarithm
                row.iter_mut().filter(|x| **x > T::ZERO).for_each(|x| *x = x.ln_1p());
            }
        };
        for_each_row_with(par, out, g, &mut ws.row_scale[..n], |_, row, scale| tail(row, scale));
        ws.rounded = rounding;
        if rounding {
            ensure(&mut ws.unrounded, n * g);
            ensure(&mut ws.count_unit, n);
            ws.unrounded[..n * g].copy_from_slice(out);
            let (cell_scale, seed) = (&ws.rounding_scale[..n], ws.rounding_seed);
            let library_size = self.library_size;
            let (count_draw, thinning) = (ws.count_draw, ws.count_thinning);
            let counts_output = self.counts_output;
            // The count of cell i, gene j: drawn, then thinned (each count kept with probability `keep`).
            let count = move |draw: CountDraw, lambda: f64, index: u64| match thinning {
                Some(keep) => draw_thinned_count(draw, lambda, keep, seed, index),
                None => draw_count(draw, lambda, seed, index),
            };
            let draw = |i: usize, row: &mut [T], unit: &mut T| {
                let s = cell_scale[i].to_f64();
                let mut total = 0.0;
                for (j, x) in row.iter_mut().enumerate().filter(|(_, x)| **x > T::ZERO) {
                    let counts = count(count_draw, x.to_f64() * s, (i * g + j) as u64);
                    total += counts;
                    *x = T::from_f64(counts);
                }
                let c = if counts_output {
                    T::ONE
                } else if total > 0.0 {
                    T::from_f64(library_size / total)
                } else {
                    T::ZERO
                };
                *unit = c;
                for x in row.iter_mut().filter(|x| **x > T::ZERO) {
                    *x *= c;
                    if log_output {
                        *x = x.ln_1p();
                    }
                }
            };
            let round = |i: usize, row: &mut [T], unit: &mut T| {
                let s = cell_scale[i].to_f64();
                // thinned counts are a cell at `keep` times the library size
                let kept_scale = s * thinning.unwrap_or(1.0);
                // one count, in the units the critic sees
                let count_unit = if counts_output { 1.0 } else { 1.0 / kept_scale };
                *unit = T::from_f64(count_unit);
                for (j, x) in row.iter_mut().enumerate().filter(|(_, x)| **x > T::ZERO) {
                    let counts = count(CountDraw::Round, x.to_f64() * s, (i * g + j) as u64);
                    *x = T::from_f64(counts * count_unit);
                    if log_output && *x > T::ZERO {
                        *x = x.ln_1p();
                    }
                }
            };
            for_each_row_with(par, out, g, &mut ws.count_unit[..n], |i, row, unit| {
                if count_draw == CountDraw::Round {
                    round(i, row, unit)
                } else {
                    draw(i, row, unit)
                }
            });
        }
    }

    /// Backward pass after a training-mode [`GeneratorLayout::forward`] of the same `z`, `labels` with output
    /// `out`: `gx: (n, G)` holds `dL/dx` (it is overwritten), and the gradients of every generator tensor are
    /// written into `grads`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Scalar>(
        &self,
        p: &[T],
        grads: &mut [T],
        ws: &mut GeneratorWork<T>,
        z: &[T],
        labels: &[u32],
        out: &[T],
        gx: &mut [T],
        n: usize,
        par: Par,
    ) {
        let g = self.n_genes;
        let lib = T::from_f64(self.library_size);
        let inv_lib = T::ONE / lib;
        let scales = &ws.row_scale[..n];
        let gx = &mut gx[..n * g];
        let log_output = self.log_output;
        if ws.rounded {
            // Through the counts: dL/dx is dL/dy times the expected slope of y over one count (see
            // `count_step_slope`); the LSN and the ReLU mask use the values before rounding.
            let unrounded = &ws.unrounded[..n * g];
            let (units, count_draw, thinning) = (&ws.count_unit[..n], ws.count_draw, ws.count_thinning);
            let seed = ws.rounding_seed;
            for_each_row2(par, gx, g, &out[..n * g], g, |i, dx, y| {
                let x = &unrounded[i * g..(i + 1) * g];
                if log_output {
                    let (unit, s) = (units[i].to_f64(), ws.rounding_scale[i].to_f64());
                    // Thinning keeps each count with probability `keep`: one more expected count before it is
                    // `keep` more after it.
                    let kept_scale = s * thinning.unwrap_or(1.0);
                    let values = dx.iter_mut().zip(y).zip(x).enumerate().filter(|(_, (_, x))| **x > T::ZERO);
                    for (j, ((d, y), x)) in values {
                        // the count the step starts from: the drawn one, or the rounding's (thinned) floor
                        let lambda = x.to_f64() * s;
                        // y = ln(1 + k unit) for a drawn count k; rounding does not need it (no exp_m1 there)
                        let drawn = || if unit > 0.0 { (y.to_f64().exp_m1() / unit).round() } else { 0.0 };
                        let start = match thinning {
                            Some(keep) => {
                                start_thinned_count(count_draw, lambda, keep, seed, (i * g + j) as u64, drawn)
                            }
                            None => start_count(count_draw, lambda, drawn),
                        };
                        *d *= T::from_f64(count_step_slope(start * unit, unit, kept_scale));
                    }
                }
                let m = dot(dx, x) * inv_lib;
                for (d, xv) in dx.iter_mut().zip(x) {
                    *d = if *xv > T::ZERO { scales[i] * (*d - m) } else { T::ZERO };
                }
            });
        } else {
            // log1p (if any), LSN and output ReLU: gx becomes dL/do
            for_each_row2(par, gx, g, &out[..n * g], g, |i, dx, x| {
                with_simd(
                    #[inline(always)]
                    || {
                        let sc = scales[i];
                        let m = if log_output {
                            // x holds y = ln(1 + x): dL/dx = dL/dy e^{-y}; the LSN term needs x = e^y - 1
                            let mut m = T::ZERO;
                            for (d, y) in dx.iter_mut().zip(x) {
                                if *y > T::ZERO {
                                    *d *= (-*y).exp();
                                    m += *d * y.exp_m1();
                                }
                            }
                            m * inv_lib
                        } else {
                            dot(dx, x) * inv_lib
                        };
                        for (d, xv) in dx.iter_mut().zip(x) {
                            *d = if *xv > T::ZERO { sc * (*d - m) } else { T::ZERO };
                        }
                    },
                )
            });
        }
        let layers = self.widths.len();
        let n_last = if layers == 0 { self.latent } else { self.widths[layers - 1] };
        let h_last: &[T] = if layers == 0 { z } else { &ws.h[layers - 1] };
        backward_weight(&mut grads[self.out_w.clone()], h_last, gx, n, n_last, g, false, par);
        column_sums(&mut grads[self.out_b.clone()], gx);
        if let Some(noise_scale) = &self.out_noise {
            let dscale = &mut grads[noise_scale.clone()];
            dscale.fill(T::ZERO);
            for (dx, e) in gx.chunks(g).zip(ws.noise.chunks(g)).take(n) {
                dscale.iter_mut().zip(dx).zip(e).for_each(|((d, dx), e)| *d += *dx * *e);
            }
        }
        if layers == 0 {
            return;
        }
        backward_input(&mut ws.dh, gx, &p[self.out_w.clone()], n, n_last, g, par);
        let labels = self.labels(labels);
        for l in (0..layers).rev() {
            let w = self.widths[l];
            let n_in = if l == 0 { self.latent } else { self.widths[l - 1] };
            let (dgamma, dbeta) = two_ranges(grads, self.gamma[l].clone(), self.beta[l].clone());
            dgamma.fill(T::ZERO);
            dbeta.fill(T::ZERO);
            batchnorm::backward(
                &mut ws.dh,
                &ws.h[l],
                &ws.xhat[l],
                &ws.inv_std[l],
                n,
                w,
                &p[self.gamma[l].clone()],
                labels,
                dgamma,
                dbeta,
                &mut ws.scratch,
            );
            let input: &[T] = if l == 0 { z } else { &ws.h[l - 1] };
            backward_weight(&mut grads[self.dense[l].clone()], input, &ws.dh, n, n_in, w, false, par);
            if l > 0 {
                backward_input(&mut ws.dh2, &ws.dh, &p[self.dense[l].clone()], n, n_in, w, par);
                std::mem::swap(&mut ws.dh, &mut ws.dh2);
            }
        }
    }
}

/// Two disjoint mutable ranges of one slice (`a` before `b`).
fn two_ranges<T>(s: &mut [T], a: Range<usize>, b: Range<usize>) -> (&mut [T], &mut [T]) {
    debug_assert!(a.end <= b.start);
    let (lo, hi) = s.split_at_mut(b.start);
    (&mut lo[a], &mut hi[..b.end - b.start])
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    use super::*;
    use crate::model::ModelKind;

    /// The output noise's numbers have a standard normal's mean, variance and fourth moment (Irwin-Hall with four
    /// terms: 3 - 1.2 / 4 = 2.7 against 3), stay within their ±3.46 bound, and differ between seeds.
    #[test]
    fn output_noise_numbers_are_about_standard_normal() {
        let draws: Vec<f64> = (0..200_000).map(|i| standard_normal(91, i)).collect();
        let n = draws.len() as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let variance = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
        let kurtosis = draws.iter().map(|d| (d - mean).powi(4)).sum::<f64>() / n / variance.powi(2);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.01, "variance {variance}");
        assert!((kurtosis - 2.7).abs() < 0.05, "kurtosis {kurtosis}");
        assert!(draws.iter().all(|d| d.abs() <= 3.4642), "a draw beyond the bound");
        assert!(draws.iter().any(|d| d.abs() > 2.5), "no tails at all");
        assert_ne!(standard_normal(91, 5), standard_normal(92, 5));
    }

    /// A small scGAN generator (50 genes, latent dimension 8) with its running statistics, and `n` latent vectors.
    fn tiny_generator(n: usize) -> (GeneratorLayout, ParamSet<f64>, BnState<f64>, Vec<f64>) {
        let mut config = ModelConfig::paper(50, ModelKind::Scgan);
        config.generator_layers = vec![16, 16];
        config.latent_dim = 8;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut params = ParamSet::<f64>::new();
        let layout = GeneratorLayout::build(&config, &mut params, &mut rng);
        let bn = layout.new_bn_state();
        let z = (0..n * 8).map(|_| StandardNormal.sample(&mut rng)).collect();
        (layout, params, bn, z)
    }

    /// With rounding, every value of a training-mode pass is a whole number of counts at its cell's library size;
    /// inference passes are never rounded.
    #[test]
    fn rounded_cells_are_counts_at_their_library_size() {
        let n = 6;
        let (layout, params, mut bn, z) = tiny_generator(n);
        let scales = [0.01, 0.02, 0.05, 0.1, 0.5, 1.0];
        let mut ws = GeneratorWork { rounding_scale: scales.to_vec(), rounding_seed: 9, ..Default::default() };
        let mut out = vec![0.0; n * 50];
        layout.forward(params.values(), &mut bn, &mut ws, &z, &[], &mut out, n, true, Par::Seq);
        for (row, s) in out.chunks(50).zip(scales) {
            assert!(row.iter().all(|&x| ((x * s) - (x * s).round()).abs() < 1e-9), "{row:?}");
            let total: f64 = row.iter().sum::<f64>() * s;
            assert!((total - 20_000.0 * s).abs() < 50.0, "{total} counts for {}", 20_000.0 * s);
        }
        let mut inferred = vec![0.0; n * 50];
        layout.forward(params.values(), &mut bn, &mut ws, &z, &[], &mut inferred, n, false, Par::Seq);
        assert!(inferred.chunks(50).all(|row| (row.iter().sum::<f64>() - 20_000.0).abs() < 1e-6));
    }

    /// With Poisson draws (alone or after a rounded first count), every cell is a whole number of counts normalised
    /// by its own drawn total: its values sum to the model's library size and are multiples of one count's unit.
    #[test]
    fn drawn_cells_are_counts_normalised_by_their_total() {
        let n = 4;
        let (layout, params, mut bn, z) = tiny_generator(n);
        for count_draw in [CountDraw::Poisson, CountDraw::RoundedPoisson] {
            let scales = vec![0.02, 0.05, 0.1, 1.0];
            let mut ws = GeneratorWork { rounding_scale: scales, rounding_seed: 9, count_draw, ..Default::default() };
            let mut out = vec![0.0; n * 50];
            layout.forward(params.values(), &mut bn, &mut ws, &z, &[], &mut out, n, true, Par::Seq);
            for (row, s) in out.chunks(50).zip(&ws.rounding_scale) {
                assert!((row.iter().sum::<f64>() - 20_000.0).abs() < 1e-6, "{row:?}");
                // the drawn total T makes every value x T / 20,000 a whole count; it is near the library size asked
                let whole = |total: f64| {
                    row.iter().all(|x| (x * total / 20_000.0 - (x * total / 20_000.0).round()).abs() < 1e-6)
                };
                let total = (1..40_000).map(f64::from).find(|&t| whole(t)).expect("no total makes the values counts");
                assert!(total <= 20_000.0 * s * 1.5, "{count_draw:?}: total {total} for {}", 20_000.0 * s);
            }
        }
    }
}
