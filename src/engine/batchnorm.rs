//! Batch normalisation followed by ReLU, plain or conditional (one `(gamma, beta)` pair per class).
//!
//! For a pre-activation batch `a: (n, w)` and each feature `j`:
//! ```text
//! training:  mu_j = mean_i a_ij,  var_j = mean_i (a_ij - mu_j)^2          (biased, as tf.nn.moments)
//!            xhat_ij = (a_ij - mu_j) / sqrt(var_j + eps)
//!            running_mu  <- decay running_mu  + (1 - decay) mu              (every training-mode forward)
//!            running_var <- decay running_var + (1 - decay) var
//! inference: xhat_ij = (a_ij - running_mu_j) / sqrt(running_var_j + eps)
//! output:    h_ij = relu(gamma[y_i, j] xhat_ij + beta[y_i, j])
//! ```
//! `gamma`, `beta` are `(w)` for plain batch norm (`y_i` ignored) and `(K, w)` for the conditional one; the batch
//! statistics are over the whole batch in both cases. The backward pass, with `dxhat = relu'(.) dh * gamma[y]`:
//! ```text
//! dgamma[y_i] += relu'(.) dh_i * xhat_i,   dbeta[y_i] += relu'(.) dh_i
//! da_ij = (dxhat_ij - mean_i dxhat_ij - xhat_ij mean_i (dxhat_ij xhat_ij)) / sqrt(var_j + eps)
//! ```

use super::{with_simd, Scalar};

/// The affine parameters' row for cell `i`: class `labels[i]` when conditional, row 0 otherwise.
#[inline]
fn class_of(labels: Option<&[u32]>, i: usize) -> usize {
    labels.map_or(0, |l| l[i] as usize)
}

/// Running statistics and the decay, for the training-mode update.
pub(crate) struct Running<'a, T> {
    /// Running mean, `(w)`.
    pub mean: &'a mut [T],
    /// Running (biased) variance, `(w)`.
    pub var: &'a mut [T],
    /// Decay (0.999).
    pub decay: T,
}

/// Training-mode forward. On return `a` holds `xhat`, `h` the layer's output, `inv_std` `1 / sqrt(var + eps)`;
/// `mean` is scratch of length `w`. `labels` is `Some` for conditional batch norm.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_train<T: Scalar>(
    a: &mut [T],
    h: &mut [T],
    n: usize,
    w: usize,
    gamma: &[T],
    beta: &[T],
    labels: Option<&[u32]>,
    eps: T,
    running: Running<'_, T>,
    mean: &mut [T],
    inv_std: &mut [T],
) {
    with_simd(
        #[inline(always)]
        || {
            let a = &mut a[..n * w];
            let inv_n = T::ONE / T::from_f64(n as f64);
            mean.fill(T::ZERO);
            for row in a.chunks_exact(w) {
                for (m, x) in mean.iter_mut().zip(row) {
                    *m += *x;
                }
            }
            mean.iter_mut().for_each(|m| *m *= inv_n);
            // inv_std first holds the variance
            inv_std.fill(T::ZERO);
            for row in a.chunks_exact(w) {
                for ((s, x), m) in inv_std.iter_mut().zip(row).zip(mean.iter()) {
                    let d = *x - *m;
                    *s += d * d;
                }
            }
            let keep = running.decay;
            let take = T::ONE - keep;
            for j in 0..w {
                let var = inv_std[j] * inv_n;
                running.mean[j] = keep * running.mean[j] + take * mean[j];
                running.var[j] = keep * running.var[j] + take * var;
                inv_std[j] = T::ONE / (var + eps).sqrt();
            }
            for (i, (xrow, hrow)) in a.chunks_exact_mut(w).zip(h[..n * w].chunks_exact_mut(w)).enumerate() {
                let c = class_of(labels, i);
                let (g, b) = (&gamma[c * w..(c + 1) * w], &beta[c * w..(c + 1) * w]);
                for j in 0..w {
                    let xh = (xrow[j] - mean[j]) * inv_std[j];
                    xrow[j] = xh;
                    let y = g[j] * xh + b[j];
                    hrow[j] = if y > T::ZERO { y } else { T::ZERO };
                }
            }
        },
    )
}

/// Inference-mode forward in place: `a` becomes `h` using the running statistics.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_infer<T: Scalar>(
    a: &mut [T],
    n: usize,
    w: usize,
    gamma: &[T],
    beta: &[T],
    labels: Option<&[u32]>,
    eps: T,
    running_mean: &[T],
    running_var: &[T],
) {
    with_simd(
        #[inline(always)]
        || {
            for (i, row) in a[..n * w].chunks_exact_mut(w).enumerate() {
                let c = class_of(labels, i);
                let (g, b) = (&gamma[c * w..(c + 1) * w], &beta[c * w..(c + 1) * w]);
                for j in 0..w {
                    let xh = (row[j] - running_mean[j]) / (running_var[j] + eps).sqrt();
                    let y = g[j] * xh + b[j];
                    row[j] = if y > T::ZERO { y } else { T::ZERO };
                }
            }
        },
    )
}

/// Backward pass. `dh` holds `dL/dh` on entry and `dL/da` on return; `dgamma`, `dbeta` (shaped like
/// `gamma`, `beta`) are accumulated into; `scratch` has length at least `2 w`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Scalar>(
    dh: &mut [T],
    h: &[T],
    xhat: &[T],
    inv_std: &[T],
    n: usize,
    w: usize,
    gamma: &[T],
    labels: Option<&[u32]>,
    dgamma: &mut [T],
    dbeta: &mut [T],
    scratch: &mut [T],
) {
    with_simd(
        #[inline(always)]
        || {
            let (s1, rest) = scratch.split_at_mut(w);
            let s2 = &mut rest[..w];
            s1.fill(T::ZERO);
            s2.fill(T::ZERO);
            let dh = &mut dh[..n * w];
            for (i, ((drow, hrow), xrow)) in
                dh.chunks_exact_mut(w).zip(h.chunks_exact(w)).zip(xhat.chunks_exact(w)).enumerate()
            {
                let c = class_of(labels, i);
                let g = &gamma[c * w..(c + 1) * w];
                let dg = &mut dgamma[c * w..(c + 1) * w];
                let db = &mut dbeta[c * w..(c + 1) * w];
                for j in 0..w {
                    let dy = if hrow[j] > T::ZERO { drow[j] } else { T::ZERO };
                    dg[j] += dy * xrow[j];
                    db[j] += dy;
                    let dx = dy * g[j];
                    drow[j] = dx;
                    s1[j] += dx;
                    s2[j] += dx * xrow[j];
                }
            }
            let inv_n = T::ONE / T::from_f64(n as f64);
            s1.iter_mut().for_each(|s| *s *= inv_n);
            s2.iter_mut().for_each(|s| *s *= inv_n);
            for (drow, xrow) in dh.chunks_exact_mut(w).zip(xhat.chunks_exact(w)) {
                for j in 0..w {
                    drow[j] = inv_std[j] * (drow[j] - s1[j] - xrow[j] * s2[j]);
                }
            }
        },
    )
}
