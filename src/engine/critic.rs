//! The critic `G -> c_1 -> ... -> c_m -> 1` (ReLU between, none at the output), its WGAN-GP loss with the exact
//! gradient-penalty gradient, and its input gradient (for the generator's update).
//!
//! ## Layout of one critic step (batch `B`, rows stacked `[real; fake; x_hat]`, `3B` rows)
//! ```text
//! x0  (3B, G)    rows real | fake | v          (the x_hat rows of x0 hold g, then v, never x_hat itself)
//! r_k (3B, c_k)  activations relu(a_k); after the tangent pass the x_hat rows hold s_k
//! d_k (3B, c_k)  backward signals: -d_k/B on real rows, +d_k/B on fake rows, unit d_k on x_hat rows
//! ```
//! 1. Layer 1 on the `2B` real and fake rows only (one GEMM); the `x_hat` rows by linearity,
//!    `a_1(x_hat) = alpha a_1(real) + (1 - alpha) a_1(fake)` (bias and depth term included), then ReLU on all
//!    `3B` rows. A critic that reads depth adds `s_i v` to row `i` before the mix, so that an interpolate's depth
//!    is interpolated too.
//! 2. Layers `2..m` on `3B` rows; outputs `D_r = u_y . r_m + c_y` (`u_y` the effective output weight of the
//!    row's class).
//! 3. Backward signals: `d_m = scale * (r_m > 0) * u_y`, `d_{k-1} = (d_k W_k^T) * (r_{k-1} > 0)`, with scale
//!    `-1/B`, `+1/B`, `1` on real, fake, `x_hat` rows (`0, 0, 1` for the penalty alone).
//! 4. Input gradient at `x_hat`: `g = d_1 W_1^T (B, G)`; `v = (2 lambda / B) (||g|| - 1) g / ||g||`.
//! 5. Tangent pass on the `x_hat` rows: `s_0 = v`, `s_k = (s_{k-1} W_k) * (r_k > 0)`, written over `r_k`.
//! 6. Gradients: `dW_k = R_{k-1}^T D_k` (one GEMM per layer, `R_0 = x0`), `db_k` = column sums of the real and
//!    fake rows of `D_k`, `du_y += scale r_m` over real and fake rows plus `s_m` over `x_hat` rows,
//!    `dc_y += scale` over real and fake rows; `dv = sum_i s_i d_1[i]` over real and fake rows.
//!
//! An update without the penalty (`lambda` zero: a lazy penalty's other updates, `--penalty-every`) has no `x_hat`
//! rows: steps 1-3 and 6 on the `2B` real and fake rows, steps 4-5 skipped.
//!
//! Why step 6 is the whole gradient: the Wasserstein part is ordinary backpropagation with signals `+-d_k/B`;
//! the penalty `P = lambda mean (||g|| - 1)^2` with `g = W_1 M_1 W_2 M_2 ... M_m u` (masks `M_k` constant almost
//! everywhere) has `dP/dW_k = sum_i s_{k-1,i} d_{k,i}^T` and `dP/du = sum_i s_{m,i}`, and no bias gradient.

use std::ops::Range;

use faer::Par;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::linear::{backward_input, backward_weight, bias_relu, column_sums, dot, forward, relu_mask};
use super::params::{Init, ParamSet};
use super::sparse::SparseRows;
use super::{ensure, with_simd, Scalar};
use crate::model::{ConditionalCritic, ModelConfig, ModelKind};

/// The critic's output layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputKind {
    /// One `(w, b)`: `D = w . h + b` (scGAN).
    Shared,
    /// One `(W[y], b[y])` per class: `D = W[y] . h + b[y]`.
    PerClass,
    /// `D = (w + E[y]) . h + b`.
    Projection,
}

/// Where the critic's tensors are in its [`ParamSet`].
#[derive(Debug, Clone)]
pub(crate) struct CriticLayout {
    /// Input width.
    pub n_genes: usize,
    /// Hidden widths.
    pub widths: Vec<usize>,
    kind: OutputKind,
    w: Vec<Range<usize>>,
    b: Vec<Range<usize>>,
    out_w: Range<usize>,
    out_b: Range<usize>,
    embed: Option<Range<usize>>,
    /// `v` of a critic that reads depth ([`ModelConfig::critic_depth`]): row `i`'s depth `s_i` adds `s_i v` to
    /// its layer-1 pre-activation.
    depth: Option<Range<usize>>,
}

/// Reused work buffers.
#[derive(Debug, Default)]
pub(crate) struct CriticWork<T> {
    r: Vec<Vec<T>>,
    d: Vec<Vec<T>>,
    tmp: Vec<T>,
    out: Vec<T>,
    scale: Vec<T>,
    norms: Vec<T>,
    /// Effective output weight of every class, `(max(K, 1), c_m)`: `w`, `W[y]` or `w + E[y]`.
    u: Vec<T>,
    /// Output bias of every class, `(max(K, 1))`.
    c: Vec<T>,
    /// The real cells, gene-major, when sparse enough.
    sparse_real: SparseRows<T>,
    /// The fakes, gene-major, when sparse enough (generated cells become as sparse as real ones in training).
    sparse_fake: SparseRows<T>,
    /// Whether the last critic loss used the sparse kernels for the real cells and for the fakes.
    pub last_sparse: (bool, bool),
}

/// The loss terms of one evaluation (f64 sums of the engine's values).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CriticTermsValue {
    /// mean D(real) - mean D(fake).
    pub wasserstein: f64,
    /// mean (||g|| - 1)^2, when computed (`lambda` not zero).
    pub penalty: Option<f64>,
}

impl CriticLayout {
    /// Appends the critic's tensors (`critic.dense1.weight`, ...) to `params`, initialised from `rng`.
    pub fn build<T: Scalar>(cfg: &ModelConfig, params: &mut ParamSet<T>, rng: &mut ChaCha8Rng) -> Self {
        let (mut w, mut b) = (Vec::new(), Vec::new());
        let mut n_in = cfg.n_genes;
        for (i, &width) in cfg.critic_layers.iter().enumerate() {
            let l = i + 1;
            let init = Init::VarianceScaling { fan_in: n_in, fan_out: width };
            w.push(params.push(format!("critic.dense{l}.weight"), vec![n_in, width], init, rng));
            b.push(params.push(format!("critic.dense{l}.bias"), vec![width], Init::Zeros, rng));
            n_in = width;
        }
        // zeros: the critic starts as one that ignores depth
        let depth = cfg
            .critic_depth
            .then(|| params.push("critic.depth.weight".into(), vec![cfg.critic_layers[0]], Init::Zeros, rng));
        let glorot = Init::Glorot { fan_in: n_in, fan_out: 1 };
        let (kind, k) = match cfg.kind {
            ModelKind::Scgan => (OutputKind::Shared, 0),
            ModelKind::Cscgan { n_classes, critic: ConditionalCritic::PerClassOutput } => {
                (OutputKind::PerClass, n_classes)
            }
            ModelKind::Cscgan { n_classes, critic: ConditionalCritic::Projection } => {
                (OutputKind::Projection, n_classes)
            }
        };
        let (out_w, out_b, embed) = match kind {
            OutputKind::Shared | OutputKind::Projection => {
                let ow = params.push("critic.out.weight".into(), vec![n_in], glorot, rng);
                let ob = params.push("critic.out.bias".into(), vec![1], Init::Zeros, rng);
                let e = (kind == OutputKind::Projection)
                    .then(|| params.push("critic.embed.weight".into(), vec![k, n_in], glorot, rng));
                (ow, ob, e)
            }
            OutputKind::PerClass => {
                let ow = params.push("critic.out.weight".into(), vec![k, n_in], glorot, rng);
                let ob = params.push("critic.out.bias".into(), vec![k], Init::Zeros, rng);
                (ow, ob, None)
            }
        };
        CriticLayout { n_genes: cfg.n_genes, widths: cfg.critic_layers.clone(), kind, w, b, out_w, out_b, embed, depth }
    }

    /// Adds `depth[i] v` to row `i` of the layer-1 pre-activations `a1` (`depth.len()` rows of `c_1`), for a critic
    /// that reads depth; nothing otherwise.
    fn add_depth<T: Scalar>(&self, p: &[T], a1: &mut [T], depth: &[T]) {
        let Some(v) = &self.depth else { return };
        let (v, c1) = (&p[v.clone()], self.widths[0]);
        for (row, &s) in a1.chunks_mut(c1).zip(depth) {
            row.iter_mut().zip(v).for_each(|(a, &vj)| *a += s * vj);
        }
    }

    /// `dv = sum_i depth[i] d_1[i]` over the real and fake rows (the penalty reaches `v` only through the ReLU masks,
    /// as it reaches the biases, so it adds nothing).
    fn depth_gradient<T: Scalar>(&self, grads: &mut [T], d1: &[T], depth: &[T]) {
        let Some(v) = &self.depth else { return };
        let (dv, c1) = (&mut grads[v.clone()], self.widths[0]);
        dv.fill(T::ZERO);
        for (row, &s) in d1.chunks(c1).zip(depth) {
            dv.iter_mut().zip(row).for_each(|(g, &d)| *g += s * d);
        }
    }

    fn last_width(&self) -> usize {
        self.widths.last().copied().unwrap_or(self.n_genes)
    }

    /// Fills `ws.u` and `ws.c` with every class's effective output weight and bias.
    fn effective_outputs<T: Scalar>(&self, p: &[T], ws: &mut CriticWork<T>) {
        let h = self.last_width();
        let (w, b) = (&p[self.out_w.clone()], &p[self.out_b.clone()]);
        let k = match self.kind {
            OutputKind::Shared => 1,
            OutputKind::PerClass => b.len(),
            OutputKind::Projection => self.embed.as_ref().map_or(1, |e| e.len() / h),
        };
        ws.u.clear();
        ws.c.clear();
        for y in 0..k {
            match self.kind {
                OutputKind::Shared => ws.u.extend_from_slice(w),
                OutputKind::PerClass => ws.u.extend_from_slice(&w[y * h..(y + 1) * h]),
                OutputKind::Projection => {
                    let e = self.embed.as_ref().map(|e| &p[e.clone()][y * h..(y + 1) * h]);
                    ws.u.extend(w.iter().enumerate().map(|(j, wj)| *wj + e.map_or(T::ZERO, |e| e[j])));
                }
            }
            ws.c.push(if self.kind == OutputKind::PerClass { b[y] } else { b[0] });
        }
    }

    fn prepare<T: Scalar>(&self, ws: &mut CriticWork<T>, rows: usize, b: usize) {
        let m = self.widths.len();
        ws.r.resize_with(m, Vec::new);
        ws.d.resize_with(m, Vec::new);
        for (l, &w) in self.widths.iter().enumerate() {
            ensure(&mut ws.r[l], rows * w);
            ensure(&mut ws.d[l], rows * w);
        }
        ensure(&mut ws.tmp, b * self.widths.iter().copied().max().unwrap_or(0));
        ensure(&mut ws.out, rows);
        ensure(&mut ws.scale, rows);
        ensure(&mut ws.norms, b);
    }

    /// Layers `2..m` on `rows` rows (layer 1's activations already in `ws.r[0]`), then the outputs `ws.out`.
    fn forward_rest<T: Scalar>(
        &self,
        p: &[T],
        ws: &mut CriticWork<T>,
        rows: usize,
        b: usize,
        labels: &[u32],
        par: Par,
    ) {
        for l in 1..self.widths.len() {
            let (n_in, w) = (self.widths[l - 1], self.widths[l]);
            let (lo, hi) = ws.r.split_at_mut(l);
            let a = &mut hi[0][..rows * w];
            forward(a, &lo[l - 1], &p[self.w[l].clone()], rows, n_in, w, par);
            bias_relu(a, &p[self.b[l].clone()]);
        }
        let h = self.last_width();
        self.effective_outputs(p, ws);
        let last = &ws.r[self.widths.len() - 1];
        let (u, c) = (&ws.u, &ws.c);
        with_simd(
            #[inline(always)]
            || {
                for (i, o) in ws.out[..rows].iter_mut().enumerate() {
                    let y = label_of(labels, i % b);
                    *o = dot(&u[y * h..(y + 1) * h], &last[i * h..(i + 1) * h]) + c[y];
                }
            },
        );
    }

    /// Backward signals `d_k` on `rows` rows, from `d_m = scale_i (r_m > 0) u_y` down to `d_1`.
    /// Needs `ws.u` from [`CriticLayout::forward_rest`].
    fn signals<T: Scalar>(&self, p: &[T], ws: &mut CriticWork<T>, rows: usize, b: usize, labels: &[u32], par: Par) {
        let m = self.widths.len();
        let h = self.last_width();
        {
            let (r, d) = (&ws.r[m - 1], &mut ws.d[m - 1]);
            let (u, scale) = (&ws.u, &ws.scale);
            with_simd(
                #[inline(always)]
                || {
                    for i in 0..rows {
                        let y = label_of(labels, i % b);
                        let s = scale[i];
                        let u = &u[y * h..(y + 1) * h];
                        let (rrow, drow) = (&r[i * h..(i + 1) * h], &mut d[i * h..(i + 1) * h]);
                        for ((dj, rj), uj) in drow.iter_mut().zip(rrow).zip(u) {
                            *dj = if *rj > T::ZERO { s * *uj } else { T::ZERO };
                        }
                    }
                },
            );
        }
        for l in (1..m).rev() {
            let (n_in, w) = (self.widths[l - 1], self.widths[l]);
            let (lo, hi) = ws.d.split_at_mut(l);
            let dprev = &mut lo[l - 1][..rows * n_in];
            backward_input(dprev, &hi[0], &p[self.w[l].clone()], rows, n_in, w, par);
            relu_mask(dprev, &ws.r[l - 1][..rows * n_in]);
        }
    }

    /// The WGAN-GP loss terms and the gradient of `wasserstein_weight * (mean D(fake) - mean D(real)) +
    /// lambda * mean (||g|| - 1)^2` with respect to every critic tensor, written into `grads`.
    ///
    /// `real: (B, G)` are the real cells; `x0: (3B, G)` holds the fakes in rows `B..2B`; rows `0..B` receive the
    /// real cells when they are not sparse; rows `2B..3B` are overwritten (with `g`, then `v`) when `lambda` is not
    /// zero. When the real cells (or the fakes) have at most a fraction `sparse_limit` of nonzeros, they are kept
    /// gene-major in `ws` and their two products with `W_1` (layer 1 forward, their share of `dW_1`) use the sparse
    /// kernels instead of GEMMs.
    /// `labels` has `B` entries (or none for scGAN), `alpha` `B`. With `lambda` zero the penalty, which would add
    /// nothing to the gradient, is not computed (no `x_hat` rows, no tangent pass): a lazy penalty's other updates.
    /// The penalty is then reported as `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_gradients<T: Scalar>(
        &self,
        p: &[T],
        grads: &mut [T],
        ws: &mut CriticWork<T>,
        real: &[T],
        x0: &mut [T],
        b: usize,
        labels: &[u32],
        alpha: &[T],
        depth: &[T],
        lambda: T,
        wasserstein_weight: T,
        sparse_limit: f64,
        par: Par,
    ) -> CriticTermsValue {
        let (g, c1, m) = (self.n_genes, self.widths[0], self.widths.len());
        let penalised = lambda != T::ZERO;
        let rows = if penalised { 3 * b } else { 2 * b };
        self.prepare(ws, rows, b);
        let real_sparse = ws.sparse_real.build_if_sparse(&real[..b * g], b, g, sparse_limit, par);
        if !real_sparse {
            x0[..b * g].copy_from_slice(&real[..b * g]);
        }
        let fake_sparse = ws.sparse_fake.build_if_sparse(&x0[b * g..2 * b * g], b, g, sparse_limit, par);
        ws.last_sparse = (real_sparse, fake_sparse);
        // 1. layer 1: GEMM (or sparse kernel) on real and fake rows, x_hat rows by linearity
        {
            let r1 = &mut ws.r[0];
            let w1 = &p[self.w[0].clone()];
            match (real_sparse, fake_sparse) {
                (false, false) => forward(&mut r1[..2 * b * c1], &x0[..2 * b * g], w1, 2 * b, g, c1, par),
                (true, false) => {
                    forward(&mut r1[b * c1..2 * b * c1], &x0[b * g..2 * b * g], w1, b, g, c1, par);
                    ws.sparse_real.matmul(&mut r1[..b * c1], w1, c1, par);
                }
                (false, true) => {
                    forward(&mut r1[..b * c1], &x0[..b * g], w1, b, g, c1, par);
                    ws.sparse_fake.matmul(&mut r1[b * c1..2 * b * c1], w1, c1, par);
                }
                (true, true) => {
                    ws.sparse_real.matmul(&mut r1[..b * c1], w1, c1, par);
                    ws.sparse_fake.matmul(&mut r1[b * c1..2 * b * c1], w1, c1, par);
                }
            }
            self.add_depth(p, &mut r1[..2 * b * c1], depth);
            let bias = &p[self.b[0].clone()];
            if !penalised {
                bias_relu(&mut r1[..rows * c1], bias);
            } else {
                let (rf, hat) = r1[..3 * b * c1].split_at_mut(2 * b * c1);
                let (real, fake) = rf.split_at_mut(b * c1);
                let mix = |i: usize, (re, (fa, ha)): (&mut [T], (&mut [T], &mut [T]))| {
                    let a = alpha[i];
                    let a1 = T::ONE - a;
                    with_simd(
                        #[inline(always)]
                        || {
                            for (((r, f), h), bj) in re.iter_mut().zip(fa.iter_mut()).zip(ha.iter_mut()).zip(bias) {
                                let (x, y) = (*r + *bj, *f + *bj);
                                *h = relu(a * x + a1 * y);
                                *r = relu(x);
                                *f = relu(y);
                            }
                        },
                    )
                };
                let it = real.chunks_mut(c1).zip(fake.chunks_mut(c1).zip(hat.chunks_mut(c1)));
                match par {
                    Par::Seq => it.enumerate().for_each(|(i, t)| mix(i, t)),
                    _ => real
                        .par_chunks_mut(c1)
                        .zip(fake.par_chunks_mut(c1).zip(hat.par_chunks_mut(c1)))
                        .enumerate()
                        .for_each(|(i, t)| mix(i, t)),
                }
            }
        }
        // 2. the other layers and the outputs
        self.forward_rest(p, ws, rows, b, labels, par);
        let inv_b = T::ONE / T::from_f64(b as f64);
        let (mut d_real, mut d_fake) = (0.0, 0.0);
        for i in 0..b {
            d_real += ws.out[i].to_f64();
            d_fake += ws.out[b + i].to_f64();
        }
        let wasserstein = (d_real - d_fake) / b as f64;
        // 3. backward signals
        for i in 0..b {
            ws.scale[i] = -wasserstein_weight * inv_b;
            ws.scale[b + i] = wasserstein_weight * inv_b;
        }
        ws.scale[2 * b..rows].fill(T::ONE);
        self.signals(p, ws, rows, b, labels, par);
        let penalty = if penalised { Some(self.penalty_pass(p, ws, x0, b, lambda, par)) } else { None };
        // 6. gradients
        for l in 0..m {
            let (n_in, w) = (if l == 0 { g } else { self.widths[l - 1] }, self.widths[l]);
            let dw = &mut grads[self.w[l].clone()];
            if l == 0 && (real_sparse || fake_sparse) {
                // one GEMM over the dense rows (ending with the v rows, if any), then the others
                let start = if fake_sparse { 2 * b } else { b };
                let d1 = &ws.d[0];
                if rows > start {
                    let n = rows - start;
                    backward_weight(dw, &x0[start * g..rows * g], &d1[start * w..rows * w], n, g, w, false, par);
                } else {
                    dw.fill(T::ZERO);
                }
                if real_sparse {
                    ws.sparse_real.matmul_transpose_add(dw, &d1[..b * w], w, par);
                } else {
                    backward_weight(dw, &x0[..b * g], &d1[..b * w], b, g, w, true, par);
                }
                if fake_sparse {
                    ws.sparse_fake.matmul_transpose_add(dw, &d1[b * w..2 * b * w], w, par);
                }
            } else {
                let input: &[T] = if l == 0 { &x0[..rows * g] } else { &ws.r[l - 1][..rows * n_in] };
                backward_weight(dw, input, &ws.d[l][..rows * w], rows, n_in, w, false, par);
            }
            column_sums(&mut grads[self.b[l].clone()], &ws.d[l][..2 * b * w]);
        }
        self.depth_gradient(grads, &ws.d[0][..2 * b * c1], depth);
        self.output_gradients(grads, ws, rows, b, labels);
        CriticTermsValue { wasserstein, penalty }
    }

    /// The penalty's part of a critic evaluation, after [`CriticLayout::signals`] on all `3B` rows: `g` at the
    /// `x_hat` rows, turned into `v` over those rows of `x0`, then the tangent pass that replaces the `x_hat` rows
    /// of every layer's activations by `s_k`. Returns the penalty, mean (||g|| - 1)^2.
    fn penalty_pass<T: Scalar>(
        &self,
        p: &[T],
        ws: &mut CriticWork<T>,
        x0: &mut [T],
        b: usize,
        lambda: T,
        par: Par,
    ) -> f64 {
        let (g, c1, m) = (self.n_genes, self.widths[0], self.widths.len());
        let rows = 3 * b;
        let inv_b = T::ONE / T::from_f64(b as f64);
        // 4. g at x_hat, then v, over the x_hat rows of x0
        let w1 = &p[self.w[0].clone()];
        let gv = &mut x0[2 * b * g..rows * g];
        backward_input(gv, &ws.d[0][2 * b * c1..rows * c1], w1, b, g, c1, par);
        let coef = T::from_f64(2.0) * lambda * inv_b;
        let to_v = |row: &mut [T], norm: &mut T| {
            with_simd(
                #[inline(always)]
                || {
                    let n = dot(row, row).sqrt();
                    *norm = n;
                    let f = if n > T::ZERO { coef * (n - T::ONE) / n } else { T::ZERO };
                    row.iter_mut().for_each(|x| *x *= f);
                },
            )
        };
        let norms = &mut ws.norms[..b];
        match par {
            Par::Seq => gv.chunks_mut(g).zip(norms.iter_mut()).for_each(|(r, n)| to_v(r, n)),
            _ => gv.par_chunks_mut(g).zip(norms.par_iter_mut()).for_each(|(r, n)| to_v(r, n)),
        }
        let penalty = norms.iter().map(|n| (n.to_f64() - 1.0).powi(2)).sum::<f64>() / b as f64;
        // 5. tangent pass over the x_hat rows
        for l in 0..m {
            let (n_in, w) = (if l == 0 { g } else { self.widths[l - 1] }, self.widths[l]);
            let tmp = &mut ws.tmp[..b * w];
            let input: &[T] = if l == 0 { &x0[2 * b * g..rows * g] } else { &ws.r[l - 1][2 * b * n_in..rows * n_in] };
            forward(tmp, input, &p[self.w[l].clone()], b, n_in, w, par);
            let hat = &mut ws.r[l][2 * b * w..rows * w];
            with_simd(
                #[inline(always)]
                || {
                    for (s, t) in hat.iter_mut().zip(tmp.iter()) {
                        *s = if *s > T::ZERO { *t } else { T::ZERO };
                    }
                },
            );
        }
        penalty
    }

    /// `du_y += scale_i r_m[i]` over all rows (the x_hat rows hold `s_m` with scale 1), `dc_y += scale_i` over the
    /// real and fake rows.
    fn output_gradients<T: Scalar>(&self, grads: &mut [T], ws: &CriticWork<T>, rows: usize, b: usize, labels: &[u32]) {
        let h = self.last_width();
        grads[self.out_w.clone()].fill(T::ZERO);
        grads[self.out_b.clone()].fill(T::ZERO);
        if let Some(e) = &self.embed {
            grads[e.clone()].fill(T::ZERO);
        }
        let last = &ws.r[self.widths.len() - 1];
        for i in 0..rows {
            let y = label_of(labels, i % b);
            let s = ws.scale[i];
            let row = &last[i * h..(i + 1) * h];
            let (wy, by) = match self.kind {
                OutputKind::Shared | OutputKind::Projection => (self.out_w.start, self.out_b.start),
                OutputKind::PerClass => (self.out_w.start + y * h, self.out_b.start + y),
            };
            for (gw, x) in grads[wy..wy + h].iter_mut().zip(row) {
                *gw += s * *x;
            }
            if let Some(e) = &self.embed {
                let ey = e.start + y * h;
                for (ge, x) in grads[ey..ey + h].iter_mut().zip(row) {
                    *ge += s * *x;
                }
            }
            if i < 2 * b {
                grads[by] += s;
            }
        }
    }

    /// Forward and backward through the critic for `n` cells `x: (n, G)`: writes `gx = scale * dD(x_i)/dx_i`
    /// into `gx: (n, G)` and returns the sum of the outputs `D(x_i)`. Layer 1 uses the sparse kernel when at most
    /// a fraction `sparse_limit` of `x` is nonzero.
    #[allow(clippy::too_many_arguments)]
    pub fn input_gradient<T: Scalar>(
        &self,
        p: &[T],
        ws: &mut CriticWork<T>,
        x: &[T],
        n: usize,
        labels: &[u32],
        depth: &[T],
        scale: T,
        gx: &mut [T],
        sparse_limit: f64,
        par: Par,
    ) -> f64 {
        let (g, c1) = (self.n_genes, self.widths[0]);
        self.prepare(ws, n, n);
        let r1 = &mut ws.r[0][..n * c1];
        if ws.sparse_fake.build_if_sparse(&x[..n * g], n, g, sparse_limit, par) {
            ws.sparse_fake.matmul(r1, &p[self.w[0].clone()], c1, par);
        } else {
            forward(r1, &x[..n * g], &p[self.w[0].clone()], n, g, c1, par);
        }
        self.add_depth(p, r1, depth);
        bias_relu(r1, &p[self.b[0].clone()]);
        self.forward_rest(p, ws, n, n, labels, par);
        let total = ws.out[..n].iter().map(|d| d.to_f64()).sum();
        ws.scale[..n].fill(scale);
        self.signals(p, ws, n, n, labels, par);
        backward_input(&mut gx[..n * g], &ws.d[0][..n * c1], &p[self.w[0].clone()], n, g, c1, par);
        total
    }
}

#[inline(always)]
fn relu<T: Scalar>(x: T) -> T {
    if x > T::ZERO {
        x
    } else {
        T::ZERO
    }
}

#[inline(always)]
fn label_of(labels: &[u32], i: usize) -> usize {
    labels.get(i).map_or(0, |&y| y as usize)
}
