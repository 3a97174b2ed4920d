//! The CPU engine: scGAN / cscGAN networks, their exact WGAN-GP gradients and AMSGrad, hand-written on faer.
//!
//! ## Brief overview
//! - [`CpuGan`] is the CPU backend of [`crate::model::GanBackend`]: an f32 [`Network`] plus its thread pool.
//! - [`Network`] is the engine itself, generic over the float type ([`Scalar`]: `f32` for training, `f64` for
//!   the finite-difference tests), with its parameters in two flat [`ParamSet`]s (generator, critic).
//! - Private modules: `linear` (GEMM on row-major buffers through faer, bias / ReLU / sums), `amx` (the same
//!   products in bf16 on AMX tiles, for [`crate::model::Precision::Bf16`]), `sparse` (layer-1
//!   kernels for sparse batches of cells), `batchnorm`, `generator`, `critic` (the loss and its exact gradient,
//!   the penalty's tangent pass), `optim` (AMSGrad), `params` (flat storage, names, initialisation).
//!
//! All matrices are row-major, one row per cell. Weights are stored `in x out`, so a layer is `A = R W + b` with
//! `R: (n_cells, n_in)`, `W: (n_in, n_out)`; the critic's first weight is `(n_genes, 1024)`, the layout ENGINE.md
//! measured fastest.
//!
//! ## The networks
//! Generator, for the hidden widths `g_1..g_n` (256, 512, 1024):
//! `h_0 = z (B, 128)`, `a_k = h_{k-1} W_k`, `h_k = relu(gamma[y] * (a_k - mu_k) / sqrt(var_k + eps) + beta[y])`
//! (batch norm with the batch's mean and biased variance in training mode, running averages in inference mode;
//! `gamma`, `beta` per class for cscGAN), then `o = h_n W_out + b_out (B, G)`, `p = relu(o)` and the LSN layer
//! `x = p * library_size / (sum_j p_j + 2.22e-16)`.
//!
//! Critic, for the hidden widths `c_1..c_m` (1024, 512, 256): `r_0 = x`, `a_k = r_{k-1} W_k + b_k`,
//! `r_k = relu(a_k)`, and `D(x, y) = u_y . r_m + c_y` with the output weight `u_y` and bias `c_y`: one shared
//! `(w, b)` (scGAN), one per class `(W[y], b[y])` (cscGAN's default), or `(w + E[y], b)` (projection critic).
//!
//! ## The loss and its exact gradient
//! Critic loss `L = mean D(fake) - mean D(real) + lambda * mean_i (||g_i|| - 1)^2` with `g_i = grad_x D(x_hat_i)`,
//! `x_hat_i = alpha_i real_i + (1 - alpha_i) fake_i`. With the masks `M_k = diag(a_k > 0)` (piecewise constant),
//! the unit signals `d_m = M_m u`, `d_{k-1} = M_{k-1} W_k d_k` (column-vector form, `W_k` as stored) give
//! `g = W_1 d_1`. With `v_i = (2 lambda / B) (||g_i|| - 1) g_i / ||g_i||` and the tangent pass
//! `s_0 = v`, `s_k = M_k W_k^T s_{k-1}`, the penalty's gradient is
//! `dP/dW_k = sum_i s_{k-1,i} d_{k,i}^T`, `dP/du = sum_i s_{m,i}`, and nothing for the biases.
//! Stacking the rows `[real; fake; x_hat]`, with the real and fake signals scaled by `-1/B` and `+1/B`
//! (Wasserstein terms) and the `x_hat` activations replaced by the tangents `s_k`, every layer's whole gradient is
//! one GEMM, `dW_k = R_{k-1}^T D_k` (see `critic.rs`).
//!
//! ## Speed
//! One critic step at paper size is a handful of GEMMs: the generator's forward pass, layer 1 on the real and fake
//! rows only (the interpolates' first pre-activation follows by linearity), layers 2-4 on all `3B` rows, the
//! backward signals, `g`, the tangent pass, and one GEMM per weight gradient. Besides that:
//! - real cells (and generated ones, once training makes them sparse) with at most 30% nonzeros skip their two
//!   layer-1 GEMMs for gene-major sparse kernels (`sparse.rs`);
//! - outputs wider than 4,096 columns (the `(B, G)` products) are computed in column blocks, which faer runs
//!   20-40% faster than one call at `G = 16,791`;
//! - the element-wise passes are fused and compiled for AVX-512 or AVX2 when available (`with_simd`); AMSGrad is
//!   one parallel pass over flat arrays; every work buffer is allocated once and reused;
//! - with [`crate::model::Precision::Bf16`] on a CPU with AMX-BF16, the f32 products of at least 32 x 32 x 32 are
//!   bf16 products with f32 sums on the tiles (`amx.rs`; 1.55x the steps per second at `G = 2,000`).
//!
//! ## Threads and determinism
//! `threads` (given to [`CpuGan::new`]) sets a private rayon pool; faer's GEMMs and the element-wise passes all run
//! on it (`1`: everything sequential). Results depend only on the seed, the inputs, the thread count and the
//! precision (bf16 products on AMX tiles do not depend on the thread count): two runs with the same are
//! bit-identical.
//!
//! ## Example
//! ```
//! use scgan::engine::CpuGan;
//! use scgan::model::{GanBackend, ModelConfig, ModelKind, OptimizerConfig, CriticBatch};
//!
//! let mut config = ModelConfig::paper(20, ModelKind::Scgan);
//! config.generator_layers = vec![8, 8];
//! config.critic_layers = vec![8, 4];
//! config.latent_dim = 4;
//! let mut gan = CpuGan::new(config, OptimizerConfig::default(), 7, 1)?;
//! let (b, g) = (3, 20);
//! let real = vec![1000.0_f32; b * g];
//! let z = vec![0.5_f32; b * 4];
//! let alpha = vec![0.3_f32; b];
//! let batch = CriticBatch { real: &real, labels: &[], z: &z, alpha: &alpha, penalty_weight: 1.0, real_depth: &[] };
//! let stats = gan.critic_step(&batch, 1e-4);
//! assert!(stats.loss.is_finite());
//! let mut cells = vec![0.0_f32; b * g];
//! gan.generate(&z, &[], &mut cells);
//! assert!((cells[..g].iter().sum::<f32>() - 20_000.0).abs() < 1.0);
//! # Ok::<(), scgan::Error>(())
//! ```

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx;
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[path = "amx_unsupported.rs"]
mod amx;
mod batchnorm;
pub(crate) mod counts;
mod cpu;
mod critic;
mod generator;
mod linear;
mod matching;
mod network;
mod optim;
mod params;
mod sparse;

pub use cpu::CpuGan;
pub use network::{CriticLoss, CriticTerms, Network};
pub use params::{ParamEntry, ParamSet};

/// Whether [`crate::model::Precision::Bf16`] runs on this machine: the CPU has AMX-BF16 (with AVX-512 BF16) and
/// the kernel grants this process the tile state.
pub fn bf16_available() -> bool {
    amx::available()
}

/// `dst = lhs rhs` as a network with bf16 products computes it (`dst` row-major), its blocks split over
/// `par.degree()` tasks of the current rayon pool. For benchmarks.
///
/// # Panics
/// If this CPU has no AMX-BF16 ([`bf16_available`]), the shapes do not chain or `dst` is not row-major.
#[doc(hidden)]
pub fn bf16_gemm(dst: faer::MatMut<'_, f32>, lhs: faer::MatRef<'_, f32>, rhs: faer::MatRef<'_, f32>, par: Par) {
    assert!(amx::available(), "this CPU has no AMX-BF16");
    amx::gemm(dst, false, lhs, rhs, false, par);
}

/// A right operand held as a network holds its weights, so that bf16 products with it reuse its packed panels
/// until it is written, as training's products with weights do ([`bf16_gemm_weight`]). For benchmarks.
#[doc(hidden)]
pub struct Bf16Weight {
    values: ParamSet<f32>,
    rows: usize,
    cols: usize,
}

impl Bf16Weight {
    /// A copy of `w` in parameter storage.
    pub fn new(w: faer::MatRef<'_, f32>) -> Self {
        let (rows, cols) = (w.nrows(), w.ncols());
        let mut values = ParamSet::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        values.push("w".into(), vec![rows, cols], params::Init::Zeros, &mut rng);
        for (i, value) in values.values_mut().iter_mut().enumerate() {
            *value = w[(i / cols, i % cols)];
        }
        Bf16Weight { values, rows, cols }
    }
}

/// `dst = lhs w` as [`bf16_gemm`], with `w` packed at its first product only.
///
/// # Panics
/// As [`bf16_gemm`].
#[doc(hidden)]
pub fn bf16_gemm_weight(dst: faer::MatMut<'_, f32>, lhs: faer::MatRef<'_, f32>, w: &Bf16Weight, par: Par) {
    assert!(amx::available(), "this CPU has no AMX-BF16");
    let rhs = faer::MatRef::from_row_major_slice(w.values.values(), w.rows, w.cols);
    amx::gemm(dst, false, lhs, rhs, true, par);
}

use faer::Par;
use rayon::prelude::*;

/// The float type the engine runs in: `f32` (training) or `f64` (gradient tests).
pub trait Scalar:
    faer::traits::RealField
    + Copy
    + Default
    + Send
    + Sync
    + std::fmt::Debug
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Conversion (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Conversion.
    fn from_f32(x: f32) -> Self;
    /// Conversion.
    fn to_f64(self) -> f64;
    /// Conversion (rounding for f64).
    fn to_f32(self) -> f32;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `ln(1 + x)`.
    fn ln_1p(self) -> Self;
    /// `e^x - 1`.
    fn exp_m1(self) -> Self;
    /// `e^x`.
    fn exp(self) -> Self;
}

macro_rules! impl_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn from_f32(x: f32) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn to_f32(self) -> f32 {
                self as f32
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
        }
    };
}
impl_scalar!(f32);
impl_scalar!(f64);

/// Runs `f` compiled for AVX-512 (or else AVX2 + FMA) when the CPU has it (detected at run time), so that the
/// element-wise loops inside it vectorize 16 (or 8) wide instead of the x86-64 baseline's 4. Mark the closure
/// `#[inline(always)]` so that it is compiled inside the target-feature function. Results are the same on every
/// path (IEEE operations, no contraction into FMAs, no reassociated sums).
#[inline(always)]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") {
            // SAFETY: the CPU supports AVX-512 F and VL, and with them AVX2 and FMA (checked above).
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Grows `buf` to at least `len` elements (never shrinks, so buffers are allocated once and reused).
pub(crate) fn ensure<T: Scalar>(buf: &mut Vec<T>, len: usize) {
    if buf.len() < len {
        buf.resize(len, T::ZERO);
    }
}

/// Runs `f(row_index, row, value)` over the rows of a row-major buffer and a value per row (both mutable), in
/// parallel unless `par` is sequential.
pub(crate) fn for_each_row_with<T: Send, U: Send>(
    par: Par,
    a: &mut [T],
    width: usize,
    values: &mut [U],
    f: impl Fn(usize, &mut [T], &mut U) + Sync + Send,
) {
    if width == 0 {
        return;
    }
    match par {
        Par::Seq => a.chunks_mut(width).zip(values).enumerate().for_each(|(i, (x, v))| f(i, x, v)),
        _ => a.par_chunks_mut(width).zip(values).enumerate().for_each(|(i, (x, v))| f(i, x, v)),
    }
}

/// Runs `f(row_index, row_a, row_b)` over the rows of two row-major buffers of equal row counts.
pub(crate) fn for_each_row2<T: Send + Sync>(
    par: Par,
    a: &mut [T],
    wa: usize,
    b: &[T],
    wb: usize,
    f: impl Fn(usize, &mut [T], &[T]) + Sync + Send,
) {
    if wa == 0 || wb == 0 {
        return;
    }
    match par {
        Par::Seq => a.chunks_mut(wa).zip(b.chunks(wb)).enumerate().for_each(|(i, (x, y))| f(i, x, y)),
        _ => a.par_chunks_mut(wa).zip(b.par_chunks(wb)).enumerate().for_each(|(i, (x, y))| f(i, x, y)),
    }
}
