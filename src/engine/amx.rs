//! Matrix products in bfloat16 on Intel AMX tiles ([`crate::model::Precision::Bf16`]).
//!
//! An AMX core holds eight tile registers of up to 16 rows x 64 bytes. `TDPBF16PS C, A, B` multiplies a 16 x 32
//! bf16 tile A by a 32 x 16 bf16 tile B, stored as 16 rows of 16 pairs `(B[2r][j], B[2r + 1][j])`, and adds the
//! 16 x 16 f32 product into tile C: 8,192 multiply-adds in one instruction, 16 times the f32 FMAs of AVX-512.
//!
//! [`gemm`] computes `C = A B` (or `C += A B`) for f32 matrices of any layout:
//! - it packs A into panels of 16 rows and B into panels of 16 columns, each a run of ready-to-load 1 KiB tiles
//!   along k, rounding to bf16 on the way (as `VCVTNEPS2BF16` does: to nearest even); whole tiles are packed with
//!   AVX-512 BF16 instructions, tiles over a matrix's edge element by element, zero-padded;
//! - the kernel keeps a 32 x 32 block of C in four tiles and walks k in passes of 256, loading two A and two B
//!   tiles for four products; C is loaded and stored in place, or through a buffer at the edges;
//! - threads split the output's column (or row) blocks, so every element is summed by one thread in one order:
//!   the result does not depend on the thread count.
//!
//! Weights are the right operand of most products and change only at optimizer updates, so their packed panels
//! are kept ([`packed_weight`]), stamped with the last write to the parameter memory they came from.
//!
//! Written by hand because no crate offers it: faer, gemm and matrixmultiply have no bf16 kernels for AMX, and
//! Rust's AMX intrinsics are unstable; the tile instructions go through `asm!`, which is stable. Linux grants a
//! process the tile state only on request ([`available`] asks once).

use std::arch::asm;
use std::cell::Cell;
use std::sync::{Arc, Mutex, OnceLock};

use super::params::write_stamp;

use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

/// Rows of a tile, and of a panel of A or C.
const TILE_ROWS: usize = 16;
/// bf16 values in a tile row (64 bytes): the k-block of one tile product.
const K_BLOCK: usize = 32;
/// Values of one packed tile.
const TILE: usize = TILE_ROWS * K_BLOCK;
/// k-blocks per cache block: 8 x 32 = 256 values of k, so that two B panels (16 KiB) stay in L1.
const K_BLOCKS_PER_PASS: usize = 8;
/// Pairs of B panels (32 output columns each) walked together, for all row blocks, before the next.
const COLUMN_PAIRS_PER_GROUP: usize = 8;

#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

/// Whether a `(m, k) x (k, n)` product into an output with column stride `dst_col_stride` goes to the tiles:
/// the rest (the critic's one-column output layer, a batch of a few cells) costs more to pack than it gains.
pub(crate) fn suits(m: usize, k: usize, n: usize, dst_col_stride: isize) -> bool {
    m >= 32 && k >= 32 && n >= 32 && dst_col_stride == 1
}

/// Whether this CPU has AMX-BF16 and the kernel lets this process use its tiles. The environment variable
/// `SCGAN_DISABLE_AMX` (any value) says no, to compare with f32 products or to test the fallback.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("SCGAN_DISABLE_AMX").is_some() {
            return false;
        }
        // CPUID leaf 7: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE. (`is_x86_feature_detected!` for AMX is unstable.)
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        if leaf7.edx & (1 << 22) == 0 || leaf7.edx & (1 << 24) == 0 {
            return false;
        }
        if !(std::arch::is_x86_feature_detected!("avx512bf16") && std::arch::is_x86_feature_detected!("avx512bw")) {
            return false;
        }
        request_tile_permission()
    })
}

/// Linux gives a process the 8 KiB of tile state only on request: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA).
fn request_tile_permission() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: arch_prctl with these arguments only changes the process's permitted xsave features.
    unsafe {
        asm!("syscall", inlateout("rax") SYS_ARCH_PRCTL => ret, in("rdi") ARCH_REQ_XCOMP_PERM,
             in("rsi") XFEATURE_XTILEDATA, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret == 0
}

/// Rounds to bf16 as VCVTNEPS2BF16 does: to nearest even, subnormals to zero, NaN quiet.
#[inline(always)]
fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    if bits & 0x7f80_0000 == 0 {
        return ((bits >> 16) & 0x8000) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

thread_local! {
    /// Packing buffers of A and of B (when B is not a kept weight), reused from call to call.
    static SCRATCH: Cell<(Vec<u16>, Vec<u16>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// Raw pointer that may cross threads: tasks write disjoint tiles.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// `dst = lhs rhs` (or `+=`), with lhs and rhs rounded to bf16 and products summed in f32.
///
/// # Panics
/// If the shapes do not chain or `dst` is not row-major.
pub(crate) fn gemm(
    dst: MatMut<'_, f32>,
    accumulate: bool,
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    rhs_is_weight: bool,
    par: Par,
) {
    let (m, k, n) = (lhs.nrows(), lhs.ncols(), rhs.ncols());
    assert!(rhs.nrows() == k && dst.nrows() == m && dst.ncols() == n, "shapes do not chain");
    assert!(k > 0 && (dst.col_stride() == 1 || n == 1) && dst.row_stride() >= n as isize, "dst is not row-major");
    let k_blocks = k.div_ceil(K_BLOCK);
    let row_pairs = m.div_ceil(2 * TILE_ROWS);
    let col_pairs = n.div_ceil(2 * TILE_ROWS);
    // The buffers are taken out of the thread's cell for the call, so that nothing stays borrowed while other
    // threads work on the product.
    let (mut a_packed, mut b_packed) = SCRATCH.take();
    a_packed.resize(row_pairs * 2 * TILE_ROWS * k_blocks * K_BLOCK, 0);
    pack(&mut a_packed, lhs, k_blocks, par, false);
    let cached = if rhs_is_weight { packed_weight(rhs, k_blocks, col_pairs, par) } else { None };
    if cached.is_none() {
        b_packed.resize(col_pairs * 2 * TILE_ROWS * k_blocks * K_BLOCK, 0);
        pack(&mut b_packed, rhs.transpose(), k_blocks, par, true);
    }
    let threads = par.degree();
    let c = Output { ptr: SendPtr(dst.as_ptr_mut()), stride: dst.row_stride() as usize, rows: m, cols: n };
    let (a_ref, b_ref) = (&a_packed[..], cached.as_deref().map_or(&b_packed[..], |v| &v[..]));
    let task = |part: usize| {
        let (rows, cols) = if col_pairs >= row_pairs {
            (0..row_pairs, split(col_pairs, threads, part))
        } else {
            (split(row_pairs, threads, part), 0..col_pairs)
        };
        // SAFETY: AMX is available (checked by the caller); every part writes its own blocks of dst.
        unsafe { kernel(a_ref, b_ref, c, accumulate, k_blocks, rows, cols) }
    };
    if threads <= 1 {
        task(0)
    } else {
        (0..threads).into_par_iter().for_each(task);
    }
    SCRATCH.set((a_packed, b_packed));
}

/// A weight's packed panels, and the write stamp of the weights they were packed from.
struct PackedWeight {
    /// Address, shape and strides of the weight view.
    key: (usize, usize, usize, isize, isize),
    stamp: u64,
    panels: Arc<Vec<u16>>,
}

impl PackedWeight {
    /// Whether the weights are still as they were packed (written since, or freed: not).
    fn is_current(&self) -> bool {
        write_stamp(self.key.0, 4 * self.key.1 * self.key.2) == Some(self.stamp)
    }
}

/// Packed weights kept between products: each weight is used in several products between two optimizer updates
/// (the fakes of every critic update go through the generator; the critic's first layer is multiplied by its
/// input gradient and its tangent), and packing a 2,000 x 1,024 weight costs as much as a product with it.
static WEIGHT_CACHE: Mutex<Vec<PackedWeight>> = Mutex::new(Vec::new());
/// Weights kept at once: every weight of both networks in both layouts (2 x 9 for cscGAN), and some.
const WEIGHT_CACHE_LEN: usize = 32;

/// The panels of weight `w` (the right operand), packed again only when the weights were written since.
/// `None` for weights that are not (wholly) a [`super::ParamSet`]'s values: they have no write stamp, and the
/// caller packs them like any operand.
fn packed_weight(w: MatRef<'_, f32>, k_blocks: usize, col_pairs: usize, par: Par) -> Option<Arc<Vec<u16>>> {
    let len = col_pairs * 2 * TILE_ROWS * k_blocks * K_BLOCK;
    let key = (w.as_ptr() as usize, w.nrows(), w.ncols(), w.row_stride(), w.col_stride());
    let stamp = write_stamp(key.0, 4 * w.nrows() * w.ncols())?;
    let old = {
        let mut cache = WEIGHT_CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.iter().find(|c| c.key == key && c.stamp == stamp) {
            return Some(hit.panels.clone());
        }
        cache.iter().position(|c| c.key == key).map(|i| cache.remove(i))
    };
    // Packed outside the lock (other networks' products need not wait), into the stale copy's buffer when
    // nobody holds it any more (a fresh one costs page faults).
    let mut panels = old.and_then(|c| Arc::try_unwrap(c.panels).ok()).unwrap_or_default();
    panels.resize(len, 0);
    pack(&mut panels, w.transpose(), k_blocks, par, true);
    let panels = Arc::new(panels);
    let mut cache = WEIGHT_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    // Copies of weights written since or freed are dropped, and the oldest entry when the cache is full.
    cache.retain(|c| c.key != key && c.is_current());
    if cache.len() >= WEIGHT_CACHE_LEN {
        cache.remove(0);
    }
    cache.push(PackedWeight { key, stamp, panels: panels.clone() });
    Some(panels)
}

fn split(len: usize, parts: usize, part: usize) -> std::ops::Range<usize> {
    (len * part / parts)..(len * (part + 1) / parts)
}

/// Packs `x` (`(rows, k)`; B is passed transposed, so its columns are the rows here) into panels of 16 rows,
/// each a run of tiles along k, in A's tile layout or (`b_layout`) B's.
fn pack(packed: &mut [u16], x: MatRef<'_, f32>, k_blocks: usize, par: Par, b_layout: bool) {
    let source = Source {
        ptr: SendPtr(x.as_ptr() as *mut f32),
        rows: x.nrows(),
        cols: x.ncols(),
        rs: x.row_stride(),
        cs: x.col_stride(),
    };
    let panel = |(p, out): (usize, &mut [u16])| {
        for (kb, t) in out.chunks_exact_mut(TILE).enumerate() {
            pack_tile(t, source, p * TILE_ROWS, kb * K_BLOCK, b_layout);
        }
    };
    let chunk = k_blocks * TILE;
    match par {
        Par::Seq => packed.chunks_mut(chunk).enumerate().for_each(panel),
        _ => packed.par_chunks_mut(chunk).enumerate().for_each(panel),
    }
}

/// A strided f32 matrix read by the packers.
#[derive(Clone, Copy)]
struct Source {
    ptr: SendPtr<f32>,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl Source {
    /// Element `(i, j)`, or 0 outside.
    #[inline(always)]
    fn get(&self, i: usize, j: usize) -> f32 {
        if i < self.rows && j < self.cols {
            // SAFETY: (i, j) is inside the matrix.
            unsafe { *self.ptr.0.offset(i as isize * self.rs + j as isize * self.cs) }
        } else {
            0.0
        }
    }

    /// Whether the 16 x 32 block at `(i0, j0)` lies inside.
    #[inline(always)]
    fn holds(&self, i0: usize, j0: usize) -> bool {
        i0 + TILE_ROWS <= self.rows && j0 + K_BLOCK <= self.cols
    }

    /// The 32 values of row `i` from column `j0`, for a row-contiguous matrix.
    #[inline(always)]
    fn row32(&self, i: usize, j0: usize) -> &[f32; 32] {
        // SAFETY: the caller checked `holds` and `cs == 1`.
        unsafe { &*(self.ptr.0.offset(i as isize * self.rs + j0 as isize) as *const [f32; 32]) }
    }

    /// The 16 values of column `j` from row `i0`, for a column-contiguous matrix.
    #[inline(always)]
    fn col16(&self, i0: usize, j: usize) -> &[f32; 16] {
        // SAFETY: the caller checked `holds` and `rs == 1`.
        unsafe { &*(self.ptr.0.offset(j as isize * self.cs + i0 as isize) as *const [f32; 16]) }
    }
}

/// Packs one tile with AVX-512 BF16 conversions (every CPU with AMX-BF16 has AVX-512 F, BW and BF16).
#[inline(always)]
fn pack_tile(tile: &mut [u16], x: Source, i0: usize, k0: usize, b_layout: bool) {
    debug_assert_eq!(tile.len(), TILE);
    // SAFETY: only called when AMX-BF16 is available, and with it AVX-512 F, BW and BF16; the fast paths read
    // inside `x` (checked by `holds`) and write the 512 values of `tile`.
    unsafe {
        match (b_layout, x.holds(i0, k0), x.cs == 1, x.rs == 1) {
            (false, true, true, _) => simd::a_rows(tile, x, i0, k0),
            (false, true, false, true) => simd::a_columns(tile, x, i0, k0),
            (true, true, true, _) => simd::b_columns(tile, x, i0, k0),
            (true, true, false, true) => simd::b_rows(tile, x, i0, k0),
            (false, ..) => pack_a_edge(tile, x, i0, k0),
            (true, ..) => pack_b_edge(tile, x, i0, k0),
        }
    }
}

/// An A tile anywhere (over the matrix's edge, zero-padded): row r holds `A[i0 + r][k0..k0 + 32]`.
fn pack_a_edge(tile: &mut [u16], a: Source, i0: usize, k0: usize) {
    for (r, out) in tile.chunks_exact_mut(K_BLOCK).enumerate() {
        for (c, o) in out.iter_mut().enumerate() {
            *o = to_bf16(a.get(i0 + r, k0 + c));
        }
    }
}

/// A B tile anywhere, from `bt = B^T`: tile row r holds the pairs `(B[k0 + 2r][j], B[k0 + 2r + 1][j])` for the
/// 16 columns `j0..j0 + 16`, the layout TDPBF16PS multiplies.
fn pack_b_edge(tile: &mut [u16], bt: Source, j0: usize, k0: usize) {
    for (r, out) in tile.chunks_exact_mut(K_BLOCK).enumerate() {
        for c in 0..TILE_ROWS {
            out[2 * c] = to_bf16(bt.get(j0 + c, k0 + 2 * r));
            out[2 * c + 1] = to_bf16(bt.get(j0 + c, k0 + 2 * r + 1));
        }
    }
}

/// The row-major f32 output.
#[derive(Clone, Copy)]
struct Output {
    ptr: SendPtr<f32>,
    stride: usize,
    rows: usize,
    cols: usize,
}

/// C blocks of 32 x 32 (two A panels by two B panels) for the given panel pairs, over all of k.
///
/// Blocks inside the output are loaded and stored in place; blocks over its edge go through a 32 x 32 buffer.
///
/// # Safety
/// AMX tiles must be permitted; the packed panels must cover the pairs and k-blocks given.
unsafe fn kernel(
    a: &[u16],
    b: &[u16],
    c: Output,
    accumulate: bool,
    k_blocks: usize,
    row_pairs: std::ops::Range<usize>,
    col_pairs: std::ops::Range<usize>,
) {
    const BLOCK: usize = 2 * TILE_ROWS;
    let mut config = TileConfig { palette: 1, start_row: 0, reserved: [0; 14], bytes_per_row: [0; 16], rows: [0; 16] };
    for t in 0..8 {
        config.bytes_per_row[t] = 64;
        config.rows[t] = TILE_ROWS as u8;
    }
    let mut edge = [0f32; BLOCK * BLOCK];
    let panel = k_blocks * TILE;
    asm!("ldtilecfg [{}]", in(reg) &config, options(nostack));
    let mut k0 = 0;
    while k0 < k_blocks {
        let k1 = (k0 + K_BLOCKS_PER_PASS).min(k_blocks);
        let load = accumulate || k0 > 0;
        // Column blocks in groups: within a group the A pair stays in L1 while the group's B pairs (128 KiB per
        // pass) come from L2, and the output is written a few rows at a time rather than in tall strips, which
        // touch a page per row.
        for group in (col_pairs.start..col_pairs.end).step_by(COLUMN_PAIRS_PER_GROUP) {
            let group = group..(group + COLUMN_PAIRS_PER_GROUP).min(col_pairs.end);
            for (ip, jp) in row_pairs.clone().flat_map(|ip| group.clone().map(move |jp| (ip, jp))) {
                let b0 = b.as_ptr().add(2 * jp * panel);
                let b1 = b0.add(panel);
                let a0 = a.as_ptr().add(2 * ip * panel);
                let a1 = a0.add(panel);
                let (i0, j0) = (ip * BLOCK, jp * BLOCK);
                let inside = i0 + BLOCK <= c.rows && j0 + BLOCK <= c.cols;
                let (c00, ldc) = if inside {
                    (c.ptr.0.add(i0 * c.stride + j0), c.stride)
                } else {
                    let (rows, cols) = ((c.rows - i0).min(BLOCK), (c.cols - j0).min(BLOCK));
                    edge.fill(0.0);
                    if load {
                        for r in 0..rows {
                            std::ptr::copy_nonoverlapping(
                                c.ptr.0.add((i0 + r) * c.stride + j0),
                                edge.as_mut_ptr().add(r * BLOCK),
                                cols,
                            );
                        }
                    }
                    (edge.as_mut_ptr(), BLOCK)
                };
                let c01 = c00.add(TILE_ROWS);
                let c10 = c00.add(TILE_ROWS * ldc);
                let c11 = c10.add(TILE_ROWS);
                let stride = ldc * 4;
                if load {
                    asm!(
                        "tileloadd tmm0, [{c00} + {s}*1]",
                        "tileloadd tmm1, [{c01} + {s}*1]",
                        "tileloadd tmm2, [{c10} + {s}*1]",
                        "tileloadd tmm3, [{c11} + {s}*1]",
                        c00 = in(reg) c00, c01 = in(reg) c01, c10 = in(reg) c10, c11 = in(reg) c11,
                        s = in(reg) stride, options(nostack)
                    );
                } else {
                    asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack));
                }
                for kb in k0..k1 {
                    asm!(
                        "tileloadd tmm4, [{a0} + {s}*1]",
                        "tileloadd tmm6, [{b0} + {s}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tileloadd tmm7, [{b1} + {s}*1]",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tileloadd tmm5, [{a1} + {s}*1]",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) a0.add(kb * TILE), a1 = in(reg) a1.add(kb * TILE),
                        b0 = in(reg) b0.add(kb * TILE), b1 = in(reg) b1.add(kb * TILE),
                        s = in(reg) 64usize, options(nostack)
                    );
                }
                asm!(
                    "tilestored [{c00} + {s}*1], tmm0",
                    "tilestored [{c01} + {s}*1], tmm1",
                    "tilestored [{c10} + {s}*1], tmm2",
                    "tilestored [{c11} + {s}*1], tmm3",
                    c00 = in(reg) c00, c01 = in(reg) c01, c10 = in(reg) c10, c11 = in(reg) c11,
                    s = in(reg) stride, options(nostack)
                );
                if !inside {
                    let (rows, cols) = ((c.rows - i0).min(BLOCK), (c.cols - j0).min(BLOCK));
                    for r in 0..rows {
                        std::ptr::copy_nonoverlapping(
                            edge.as_ptr().add(r * BLOCK),
                            c.ptr.0.add((i0 + r) * c.stride + j0),
                            cols,
                        );
                    }
                }
            }
        }
        k0 = k1;
    }
    asm!("tilerelease", options(nostack));
}

mod simd;

#[cfg(test)]
mod tests {
    use faer::{MatMut, MatRef, Par};

    use super::{available, gemm, to_bf16};

    fn bf16_value(x: f32) -> f64 {
        f32::from_bits((to_bf16(x) as u32) << 16) as f64
    }

    /// Every layout of both operands, sizes on and off the tile grid, replace and accumulate, 1 and 2 threads:
    /// the product equals the f64 product of the bf16-rounded operands up to f32 summation error.
    #[test]
    fn products_match_the_rounded_operands_in_every_layout() {
        if !available() {
            eprintln!("skipped: this CPU has no AMX-BF16");
            return;
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for &(m, k, n) in &[(32, 32, 32), (37, 70, 45), (128, 300, 96), (16, 33, 1), (64, 1, 64)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1013) as f32 / 97.0 - 5.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1009) as f32 / 101.0 - 5.0).collect();
                let av = if ta {
                    MatRef::from_row_major_slice(&a, k, m).transpose()
                } else {
                    MatRef::from_row_major_slice(&a, m, k)
                };
                let bv = if tb {
                    MatRef::from_row_major_slice(&b, n, k).transpose()
                } else {
                    MatRef::from_row_major_slice(&b, k, n)
                };
                for (accumulate, weight, par) in [(false, false, Par::Seq), (true, true, Par::rayon(2))] {
                    let mut c: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
                    let before = c.clone();
                    pool.install(|| {
                        gemm(MatMut::from_row_major_slice_mut(&mut c, m, n), accumulate, av, bv, weight, par)
                    });
                    for i in 0..m {
                        for j in 0..n {
                            let exact: f64 = (0..k).map(|t| bf16_value(av[(i, t)]) * bf16_value(bv[(t, j)])).sum();
                            let bound: f64 = (0..k).map(|t| (av[(i, t)] as f64 * bv[(t, j)] as f64).abs()).sum();
                            let expected = exact + if accumulate { before[i * n + j] as f64 } else { 0.0 };
                            let got = c[i * n + j] as f64;
                            assert!(
                                (got - expected).abs() <= 1e-5 * (bound + 1.0),
                                "{m}x{k}x{n} ta={ta} tb={tb} acc={accumulate} ({i},{j}): {got} vs {expected}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rounding_matches_the_hardware_conversion() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80); // a tie rounds to even
        assert_eq!(to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(to_bf16(f32::from_bits(0x0000_0001)), 0); // subnormals flush to zero
        assert!(f32::from_bits((to_bf16(f32::NAN) as u32) << 16).is_nan());
    }
}
