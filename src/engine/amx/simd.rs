//! The four layouts of whole tiles, vectorized. A tile is 16 rows of 16 `u32`, each the bf16 pair
//! `(even, odd)` (low, high half); the layouts differ in which source values make a pair and whether the 16 x 16
//! block must be transposed on the way.

use std::arch::x86_64::*;

use super::{Source, K_BLOCK, TILE_ROWS};

/// Pairs `(lo[i], hi[i])` of two 16-float vectors as bf16, rounded to nearest even.
#[inline(always)]
unsafe fn pairs(lo: __m512, hi: __m512) -> __m512i {
    let lo = _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(lo)));
    let hi = _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(hi)));
    _mm512_or_si512(lo, _mm512_slli_epi32::<16>(hi))
}

/// Consecutive pairs of 32 floats from `p` (16 `u32`: pair r is `(p[2r], p[2r + 1])`).
#[inline(always)]
unsafe fn consecutive_pairs(p: *const f32) -> __m512i {
    let bh = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p.add(16)), _mm512_loadu_ps(p));
    std::mem::transmute::<__m512bh, __m512i>(bh)
}

/// Writes the transpose of the 16 x 16 `u32` block `columns` (column m is `columns[m]`) as tile rows.
#[inline(always)]
unsafe fn store_transposed(tile: &mut [u16], columns: &[__m512i; 16]) {
    #[repr(align(64))]
    struct Block([u32; 256]);
    let mut block = Block([0; 256]);
    for (m, v) in columns.iter().enumerate() {
        _mm512_store_si512(block.0.as_mut_ptr().add(16 * m) as *mut __m512i, *v);
    }
    let index = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    let out = tile.as_mut_ptr() as *mut u32;
    for r in 0..TILE_ROWS {
        let row = _mm512_i32gather_epi32::<4>(index, block.0.as_ptr().add(r) as *const i32);
        _mm512_storeu_si512(out.add(16 * r) as *mut __m512i, row);
    }
}

/// A with contiguous rows: tile row r is 32 consecutive values of row `i0 + r`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub(super) unsafe fn a_rows(tile: &mut [u16], a: Source, i0: usize, k0: usize) {
    let out = tile.as_mut_ptr() as *mut __m512i;
    for r in 0..TILE_ROWS {
        _mm512_storeu_si512(out.add(r), consecutive_pairs(a.row32(i0 + r, k0).as_ptr()));
    }
}

/// A with contiguous columns (a transposed view): columns 2m and 2m + 1 make pair column m.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub(super) unsafe fn a_columns(tile: &mut [u16], a: Source, i0: usize, k0: usize) {
    let mut columns = [_mm512_setzero_si512(); 16];
    for (m, c) in columns.iter_mut().enumerate() {
        let even = _mm512_loadu_ps(a.col16(i0, k0 + 2 * m).as_ptr());
        let odd = _mm512_loadu_ps(a.col16(i0, k0 + 2 * m + 1).as_ptr());
        *c = pairs(even, odd);
    }
    store_transposed(tile, &columns);
}

/// B^T with contiguous rows (B a transposed view, as in `D W^T`): each is a column of B, 32 consecutive k.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub(super) unsafe fn b_columns(tile: &mut [u16], bt: Source, j0: usize, k0: usize) {
    let mut columns = [_mm512_setzero_si512(); 16];
    for (c, v) in columns.iter_mut().enumerate() {
        *v = consecutive_pairs(bt.row32(j0 + c, k0).as_ptr());
    }
    store_transposed(tile, &columns);
}

/// B row-major: rows `k0 + 2r` and `k0 + 2r + 1` of B, 16 columns each, make tile row r.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub(super) unsafe fn b_rows(tile: &mut [u16], bt: Source, j0: usize, k0: usize) {
    let out = tile.as_mut_ptr() as *mut __m512i;
    for r in 0..K_BLOCK / 2 {
        let even = _mm512_loadu_ps(bt.col16(j0, k0 + 2 * r).as_ptr());
        let odd = _mm512_loadu_ps(bt.col16(j0, k0 + 2 * r + 1).as_ptr());
        _mm512_storeu_si512(out.add(r), pairs(even, odd));
    }
}
