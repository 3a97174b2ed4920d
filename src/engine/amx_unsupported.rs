//! Stand-in for `amx.rs` where AMX tiles cannot be used (not x86-64 Linux): bf16 products are never available,
//! so networks keep f32 products.

use faer::{MatMut, MatRef, Par};

/// Never: the tiles need x86-64 and Linux's permission call.
pub(crate) fn available() -> bool {
    false
}

/// Never reached: no product goes to the tiles when they are not available.
pub(crate) fn suits(_m: usize, _k: usize, _n: usize, _dst_col_stride: isize) -> bool {
    false
}

/// Never called ([`available`] is false).
pub(crate) fn gemm(_: MatMut<'_, f32>, _: bool, _: MatRef<'_, f32>, _: MatRef<'_, f32>, _: bool, _: Par) {
    unreachable!("bf16 products on AMX tiles are not available on this platform")
}
