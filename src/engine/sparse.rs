//! Sparse kernels for the real cells of a critic batch (5-8% of their entries are nonzero).
//!
//! The batch `X: (n, G)` is stored gene-major (compressed sparse columns: for every gene `j` the cells `i` with
//! `x_ij != 0` and their values), rebuilt every step in two parallel passes over gene blocks. The two products
//! the critic needs from it are then
//! ```text
//! forward   A = X W    (n, c)   for each gene j: for each (i, x_ij): A[i, :] += x_ij W[j, :]
//! gradient  dW += X^T D (G, c)  for each gene j: for each (i, x_ij): dW[j, :] += x_ij D[i, :]
//! ```
//! Both stream `W` / `dW` (`(G, c)`, the large operand) exactly once, row by row, while the small operand
//! (`A` or `D`, `n x c`) stays in cache; the work is `nnz * c` multiply-adds instead of `n G c`. Both work on
//! contiguous rows of the large operand: the forward splits the genes over the threads, each summing into a
//! private `(n, c)` accumulator (then reduced); the gradient splits `dW` into gene blocks and keeps 64-column tiles
//! `dW[j, tile]` in registers while it sums the nonzeros of gene `j`.

use faer::Par;
use rayon::prelude::*;

use super::Scalar;

/// Genes per block when building.
const GENE_BLOCK: usize = 512;
/// Columns per register tile (8 AVX2 registers of f32).
const TILE: usize = 64;
/// Genes per gradient task.
const GRAD_BLOCK: usize = 64;

/// A batch of cells in compressed sparse column (gene-major) form.
#[derive(Debug, Default)]
pub(crate) struct SparseRows<T> {
    n_rows: usize,
    n_cols: usize,
    counts: Vec<u32>,
    indptr: Vec<usize>,
    rows: Vec<u32>,
    vals: Vec<T>,
    acc: Vec<T>,
}

impl<T: Scalar> SparseRows<T> {
    /// Counts the nonzeros of the row-major `x: (n_rows, n_cols)`; returns their fraction. Call
    /// [`SparseRows::fill`] next to build the structure.
    pub fn count(&mut self, x: &[T], n_rows: usize, n_cols: usize, par: Par) -> f64 {
        self.n_rows = n_rows;
        self.n_cols = n_cols;
        self.counts.clear();
        self.counts.resize(n_cols, 0);
        let count_block = |blk: usize, c: &mut [u32]| {
            let (j0, len) = (blk * GENE_BLOCK, c.len());
            for row in x[..n_rows * n_cols].chunks_exact(n_cols) {
                for (cj, v) in c.iter_mut().zip(&row[j0..j0 + len]) {
                    *cj += u32::from(*v != T::ZERO);
                }
            }
        };
        match par {
            Par::Seq => self.counts.chunks_mut(GENE_BLOCK).enumerate().for_each(|(b, c)| count_block(b, c)),
            _ => self.counts.par_chunks_mut(GENE_BLOCK).enumerate().for_each(|(b, c)| count_block(b, c)),
        }
        self.indptr.clear();
        self.indptr.push(0);
        let mut total = 0;
        for c in &self.counts {
            total += *c as usize;
            self.indptr.push(total);
        }
        total as f64 / (n_rows * n_cols).max(1) as f64
    }

    /// Fills the structure from the same `x` as the last [`SparseRows::count`].
    pub fn fill(&mut self, x: &[T], par: Par) {
        let (n_rows, n_cols) = (self.n_rows, self.n_cols);
        let nnz = self.indptr[n_cols];
        self.rows.resize(nnz, 0);
        self.vals.resize(nnz, T::ZERO);
        // one task per gene block, each owning its contiguous range of the output arrays
        let mut tasks = Vec::with_capacity(n_cols.div_ceil(GENE_BLOCK));
        let (mut rows, mut vals) = (&mut self.rows[..], &mut self.vals[..]);
        for j0 in (0..n_cols).step_by(GENE_BLOCK) {
            let j1 = (j0 + GENE_BLOCK).min(n_cols);
            let len = self.indptr[j1] - self.indptr[j0];
            let (r, rest_r) = std::mem::take(&mut rows).split_at_mut(len);
            let (v, rest_v) = std::mem::take(&mut vals).split_at_mut(len);
            rows = rest_r;
            vals = rest_v;
            tasks.push((j0, j1, r, v));
        }
        let indptr = &self.indptr;
        let fill_block = |(j0, j1, r, v): (usize, usize, &mut [u32], &mut [T])| {
            let base = indptr[j0];
            let mut cursor = [0usize; GENE_BLOCK];
            for (jj, c) in cursor[..j1 - j0].iter_mut().enumerate() {
                *c = indptr[j0 + jj] - base;
            }
            for (i, row) in x[..n_rows * n_cols].chunks_exact(n_cols).enumerate() {
                for (jj, xv) in row[j0..j1].iter().enumerate() {
                    if *xv != T::ZERO {
                        let p = cursor[jj];
                        r[p] = i as u32;
                        v[p] = *xv;
                        cursor[jj] = p + 1;
                    }
                }
            }
        };
        match par {
            Par::Seq => tasks.into_iter().for_each(fill_block),
            _ => tasks.into_par_iter().for_each(fill_block),
        }
    }

    /// Builds the structure from the row-major `x: (n_rows, n_cols)` if at most a fraction `limit` of it is nonzero
    /// (never for a negative `limit`); returns whether it did.
    ///
    /// A probe of the first 8 rows rejects clearly dense batches (more than 1.5 `limit` nonzero) without the full
    /// count: the fakes are dense for much of training.
    pub fn build_if_sparse(&mut self, x: &[T], n_rows: usize, n_cols: usize, limit: f64, par: Par) -> bool {
        if limit < 0.0 {
            return false;
        }
        let probe = &x[..n_rows.min(8) * n_cols];
        let nonzero = probe.iter().filter(|v| **v != T::ZERO).count();
        if nonzero as f64 > 1.5 * limit * probe.len() as f64 || self.count(x, n_rows, n_cols, par) > limit {
            return false;
        }
        self.fill(x, par);
        true
    }

    /// `a = X w` for `w: (n_cols, c)` into `a: (n_rows, c)`, all row-major.
    ///
    /// The genes are split into one contiguous range per thread; each task streams its rows of `w` in order
    /// (prefetch-friendly) into a private `(n_rows, c)` accumulator (L2-sized for the paper's widths), and the
    /// accumulators are summed at the end.
    pub fn matmul(&mut self, a: &mut [T], w: &[T], c: usize, par: Par) {
        let n = self.n_rows;
        let n_cols = self.n_cols;
        let a = &mut a[..n * c];
        let tasks = par.degree().clamp(1, n_cols.max(1));
        let (indptr, rows, vals) = (&self.indptr, &self.rows, &self.vals);
        let task = |t: usize, acc: &mut [T]| {
            let (j0, j1) = (t * n_cols / tasks, (t + 1) * n_cols / tasks);
            acc.fill(T::ZERO);
            super::with_simd(
                #[inline(always)]
                || {
                    for j in j0..j1 {
                        let wrow = &w[j * c..(j + 1) * c];
                        for p in indptr[j]..indptr[j + 1] {
                            let (i, x) = (rows[p] as usize, vals[p]);
                            for (d, wv) in acc[i * c..(i + 1) * c].iter_mut().zip(wrow) {
                                *d += x * *wv;
                            }
                        }
                    }
                },
            )
        };
        if tasks == 1 {
            task(0, a);
            return;
        }
        super::ensure(&mut self.acc, tasks * n * c);
        let acc = &mut self.acc[..tasks * n * c];
        acc.par_chunks_mut(n * c).enumerate().for_each(|(t, part)| task(t, part));
        let acc = &self.acc[..tasks * n * c];
        a.par_chunks_mut(c).enumerate().for_each(|(i, row)| {
            super::with_simd(
                #[inline(always)]
                || {
                    row.copy_from_slice(&acc[i * c..(i + 1) * c]);
                    for t in 1..tasks {
                        for (d, v) in row.iter_mut().zip(&acc[(t * n + i) * c..(t * n + i + 1) * c]) {
                            *d += *v;
                        }
                    }
                },
            )
        });
    }

    /// `dw += X^T d` for `d: (n_rows, c)` into `dw: (n_cols, c)`, all row-major.
    pub fn matmul_transpose_add(&self, dw: &mut [T], d: &[T], c: usize, par: Par) {
        let (indptr, rows, vals) = (&self.indptr, &self.rows, &self.vals);
        let task = |blk: usize, out: &mut [T]| {
            let j0 = blk * GRAD_BLOCK;
            super::with_simd(
                #[inline(always)]
                || {
                    for (jj, drow) in out.chunks_exact_mut(c).enumerate() {
                        let j = j0 + jj;
                        let (rs, vs) = (&rows[indptr[j]..indptr[j + 1]], &vals[indptr[j]..indptr[j + 1]]);
                        if rs.is_empty() {
                            continue;
                        }
                        let mut tiles = drow.chunks_exact_mut(TILE);
                        for (t0, tile) in (&mut tiles).enumerate() {
                            let c0 = t0 * TILE;
                            let mut acc = [T::ZERO; TILE];
                            acc.copy_from_slice(tile);
                            for (&i, &x) in rs.iter().zip(vs) {
                                let src = &d[i as usize * c + c0..i as usize * c + c0 + TILE];
                                for (a, v) in acc.iter_mut().zip(src) {
                                    *a += x * *v;
                                }
                            }
                            tile.copy_from_slice(&acc);
                        }
                        let rest = tiles.into_remainder();
                        let c0 = c - rest.len();
                        for (&i, &x) in rs.iter().zip(vs) {
                            for (o, v) in rest.iter_mut().zip(&d[i as usize * c + c0..(i as usize + 1) * c]) {
                                *o += x * *v;
                            }
                        }
                    }
                },
            )
        };
        let dw = &mut dw[..self.n_cols * c];
        match par {
            Par::Seq => dw.chunks_mut(GRAD_BLOCK * c).enumerate().for_each(|(b, o)| task(b, o)),
            _ => dw.par_chunks_mut(GRAD_BLOCK * c).enumerate().for_each(|(b, o)| task(b, o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::linear::{backward_weight, forward};

    #[test]
    fn sparse_products_match_dense() {
        let (n, g, c) = (5, 1100, 300);
        let x: Vec<f64> = (0..n * g).map(|k| if (k * 7919) % 13 == 0 { (k % 17) as f64 + 0.5 } else { 0.0 }).collect();
        let w: Vec<f64> = (0..g * c).map(|k| ((k * 31) % 97) as f64 / 50.0 - 1.0).collect();
        let d: Vec<f64> = (0..n * c).map(|k| ((k * 13) % 29) as f64 / 10.0 - 1.4).collect();
        for par in [Par::Seq, Par::rayon(2)] {
            let mut s = SparseRows::default();
            let density = s.count(&x, n, g, par);
            assert!(density > 0.05 && density < 0.1, "{density}");
            s.fill(&x, par);
            let (mut a, mut a_ref) = (vec![0.0; n * c], vec![0.0; n * c]);
            s.matmul(&mut a, &w, c, par);
            forward(&mut a_ref, &x, &w, n, g, c, Par::Seq);
            assert!(a.iter().zip(&a_ref).all(|(p, q)| (p - q).abs() < 1e-9));
            let mut dw = vec![1.0; g * c];
            let mut dw_ref = vec![1.0; g * c];
            s.matmul_transpose_add(&mut dw, &d, c, par);
            backward_weight(&mut dw_ref, &x, &d, n, g, c, true, Par::Seq);
            assert!(dw.iter().zip(&dw_ref).all(|(p, q)| (p - q).abs() < 1e-9));
        }
    }
}
