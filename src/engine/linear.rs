//! Linear layers on row-major buffers: GEMM through faer, bias and ReLU passes, column sums.
//!
//! A batch is a row-major `(n, width)` slice; a weight is a row-major `(n_in, n_out)` slice ("in x out").
//! The three products a layer needs are
//! ```text
//! forward        A  = R W          (n, n_in) x (n_in, n_out)
//! input signal   dR = D W^T        (n, n_out) x (n_out, n_in)
//! weight grad    dW = R^T D        (n_in, n) x (n, n_out)
//! ```
//! all one faer `matmul` with the transposes as free views. The thread count is faer's `Par` argument.

use faer::linalg::matmul::matmul;
use faer::prelude::ReborrowMut;
use faer::{Accum, MatMut, MatRef, Par};

use super::{with_simd, Scalar};

/// A row-major `(rows, cols)` view of the first `rows * cols` elements of `s`.
///
/// # Panics
/// If `s` is shorter than `rows * cols`.
#[inline]
pub(crate) fn view<T: Scalar>(s: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(&s[..rows * cols], rows, cols)
}

/// A mutable row-major `(rows, cols)` view of the first `rows * cols` elements of `s`.
///
/// # Panics
/// If `s` is shorter than `rows * cols`.
#[inline]
pub(crate) fn view_mut<T: Scalar>(s: &mut [T], rows: usize, cols: usize) -> MatMut<'_, T> {
    MatMut::from_row_major_slice_mut(&mut s[..rows * cols], rows, cols)
}

thread_local! {
    /// Whether the f32 products of the network running on this thread are bf16 products on AMX tiles. A network
    /// sets it around each of its passes ([`with_precision`]); its GEMMs are all called from the thread that runs
    /// the pass, so the setting cannot leak into another network's products.
    static BF16_PRODUCTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's f32 products in bf16 on AMX tiles when `bf16` is set and the CPU has AMX-BF16.
pub(crate) fn with_precision<R>(bf16: bool, f: impl FnOnce() -> R) -> R {
    /// Puts the thread's setting back when the pass ends, also by a panic.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BF16_PRODUCTS.set(self.0);
        }
    }
    let _restore = Restore(BF16_PRODUCTS.replace(bf16 && super::amx::available()));
    f()
}

/// The same view with its element type spelt out.
///
/// # Safety
/// `T` must be `f32`.
unsafe fn f32_view<T>(m: MatRef<'_, T>) -> MatRef<'_, f32> {
    MatRef::from_raw_parts(m.as_ptr() as *const f32, m.nrows(), m.ncols(), m.row_stride(), m.col_stride())
}

/// The same mutable view with its element type spelt out.
///
/// # Safety
/// `T` must be `f32`.
unsafe fn f32_view_mut<T>(m: MatMut<'_, T>) -> MatMut<'_, f32> {
    let (rows, cols, row_stride, col_stride) = (m.nrows(), m.ncols(), m.row_stride(), m.col_stride());
    MatMut::from_raw_parts_mut(m.as_ptr_mut() as *mut f32, rows, cols, row_stride, col_stride)
}

/// Outputs wider than this are computed in column blocks of [`COL_BLOCK`].
const WIDE: usize = 4096;
/// Column block of wide outputs.
const COL_BLOCK: usize = 2048;

/// `dst = lhs rhs` (or `dst += lhs rhs` when `accumulate`).
///
/// In a network with bf16 products ([`with_precision`]) an f32 product big enough for the tiles goes to
/// [`super::amx::gemm`]; `rhs_is_weight` says that `rhs` is a view of a network's weights, whose packed bf16 form
/// is kept until they are written.
///
/// A wide output (more than 4,096 columns: the `(B, G)` products at paper size) is computed in blocks of 2,048
/// columns, one faer call each: measured 20-40% faster than one call for `(128, 1024) x (1024, 16791)`.
///
/// # Panics
/// If the shapes do not chain (faer's conditions).
#[inline]
pub(crate) fn gemm<T: Scalar>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    rhs_is_weight: bool,
    par: Par,
) {
    let mut dst = dst;
    if lhs.ncols() == 0 {
        if !accumulate {
            dst.fill(T::ZERO);
        }
        return;
    }
    if BF16_PRODUCTS.get()
        && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && super::amx::suits(dst.nrows(), lhs.ncols(), dst.ncols(), dst.col_stride())
    {
        // SAFETY: T is f32 (checked above).
        let (dst, lhs, rhs) = unsafe { (f32_view_mut(dst), f32_view(lhs), f32_view(rhs)) };
        super::amx::gemm(dst, accumulate, lhs, rhs, rhs_is_weight, par);
        return;
    }
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    let n = dst.ncols();
    if n <= WIDE {
        matmul(dst, accum, lhs, rhs, T::ONE, par);
        return;
    }
    let mut j0 = 0;
    while j0 < n {
        let len = COL_BLOCK.min(n - j0);
        matmul(dst.rb_mut().subcols_mut(j0, len), accum, lhs, rhs.subcols(j0, len), T::ONE, par);
        j0 += len;
    }
}

/// `A = R W` for `R: (n, n_in)`, `W: (n_in, n_out)` into `a: (n, n_out)`.
pub(crate) fn forward<T: Scalar>(a: &mut [T], r: &[T], w: &[T], n: usize, n_in: usize, n_out: usize, par: Par) {
    gemm(view_mut(a, n, n_out), false, view(r, n, n_in), view(w, n_in, n_out), true, par);
}

/// `dR = D W^T` for `D: (n, n_out)`, `W: (n_in, n_out)` into `dr: (n, n_in)`.
pub(crate) fn backward_input<T: Scalar>(dr: &mut [T], d: &[T], w: &[T], n: usize, n_in: usize, n_out: usize, par: Par) {
    gemm(view_mut(dr, n, n_in), false, view(d, n, n_out), view(w, n_in, n_out).transpose(), true, par);
}

/// `dW = R^T D` (or `+=` when `accumulate`) for `R: (n, n_in)`, `D: (n, n_out)` into `dw: (n_in, n_out)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_weight<T: Scalar>(
    dw: &mut [T],
    r: &[T],
    d: &[T],
    n: usize,
    n_in: usize,
    n_out: usize,
    accumulate: bool,
    par: Par,
) {
    gemm(view_mut(dw, n_in, n_out), accumulate, view(r, n, n_in).transpose(), view(d, n, n_out), false, par);
}

/// `r = relu(a + b)` in place, row by row, for `a: (n, width)`.
pub(crate) fn bias_relu<T: Scalar>(a: &mut [T], bias: &[T]) {
    let width = bias.len();
    with_simd(
        #[inline(always)]
        || {
            for row in a.chunks_exact_mut(width) {
                for (x, b) in row.iter_mut().zip(bias) {
                    let y = *x + *b;
                    *x = if y > T::ZERO { y } else { T::ZERO };
                }
            }
        },
    )
}

/// `dst = sum over rows of src` for `src: (n, width)`; `dst: (width)`.
pub(crate) fn column_sums<T: Scalar>(dst: &mut [T], src: &[T]) {
    let width = dst.len();
    dst.fill(T::ZERO);
    with_simd(
        #[inline(always)]
        || {
            for row in src.chunks_exact(width) {
                for (d, x) in dst.iter_mut().zip(row) {
                    *d += *x;
                }
            }
        },
    )
}

/// `dst = signal * (act > 0)` in place: the ReLU mask of the activations `act` applied to a backward signal.
///
/// Written as a select (not a conditional store) so that it vectorizes and has no unpredictable branch.
pub(crate) fn relu_mask<T: Scalar>(signal: &mut [T], act: &[T]) {
    with_simd(
        #[inline(always)]
        || {
            for (s, a) in signal.iter_mut().zip(act) {
                *s = if *a > T::ZERO { *s } else { T::ZERO };
            }
        },
    )
}

/// Sum (eight partial sums, so that it vectorizes; inline it into a [`with_simd`] region).
#[inline(always)]
pub(crate) fn sum<T: Scalar>(a: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let ca = a.chunks_exact(8);
    let mut s = T::ZERO;
    for x in ca.remainder() {
        s += *x;
    }
    for x in ca {
        for k in 0..8 {
            acc[k] += x[k];
        }
    }
    for v in acc {
        s += v;
    }
    s
}

/// Dot product (eight partial sums, so that it vectorizes; inline it into a [`with_simd`] region).
#[inline(always)]
pub(crate) fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = T::ZERO;
    for (x, y) in ra.iter().zip(rb) {
        s += *x * *y;
    }
    for v in acc {
        s += v;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_products_in_column_blocks() {
        let (n, k, m) = (3, 5, WIDE + COL_BLOCK + 17);
        let a: Vec<f64> = (0..n * k).map(|i| i as f64 * 0.25 - 1.0).collect();
        let b: Vec<f64> = (0..k * m).map(|i| ((i * 37) % 101) as f64 / 50.0).collect();
        for accumulate in [false, true] {
            let mut c = vec![1.0; n * m];
            gemm(view_mut(&mut c, n, m), accumulate, view(&a, n, k), view(&b, k, m), false, Par::Seq);
            for i in 0..n {
                for j in (0..m).step_by(97).chain([m - 1]) {
                    let s: f64 =
                        (0..k).map(|q| a[i * k + q] * b[q * m + j]).sum::<f64>() + f64::from(u8::from(accumulate));
                    assert!((c[i * m + j] - s).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn products_match_naive() {
        let (n, i, o) = (3, 4, 2);
        let r: Vec<f64> = (0..n * i).map(|k| k as f64 * 0.5 - 2.0).collect();
        let w: Vec<f64> = (0..i * o).map(|k| (k as f64).sin()).collect();
        let d: Vec<f64> = (0..n * o).map(|k| (k as f64).cos()).collect();
        let mut a = vec![0.0; n * o];
        forward(&mut a, &r, &w, n, i, o, Par::Seq);
        let mut dr = vec![0.0; n * i];
        backward_input(&mut dr, &d, &w, n, i, o, Par::Seq);
        let mut dw = vec![0.0; i * o];
        backward_weight(&mut dw, &r, &d, n, i, o, false, Par::Seq);
        for p in 0..n {
            for q in 0..o {
                let s: f64 = (0..i).map(|k| r[p * i + k] * w[k * o + q]).sum();
                assert!((a[p * o + q] - s).abs() < 1e-12);
            }
            for k in 0..i {
                let s: f64 = (0..o).map(|q| d[p * o + q] * w[k * o + q]).sum();
                assert!((dr[p * i + k] - s).abs() < 1e-12);
            }
        }
        for k in 0..i {
            for q in 0..o {
                let s: f64 = (0..n).map(|p| r[p * i + k] * d[p * o + q]).sum();
                assert!((dw[k * o + q] - s).abs() < 1e-12);
            }
        }
    }
}
