//! Sparse kernels for the real cells of a critic batch (5-8% of their entries are nonzero).
//!
//! The batch `X: (n, G)` is stored twice, rebuilt every step: gene-major (compressed sparse columns: for every gene
//! `j` the cells `i` with `x_ij != 0` and their values, built in two parallel passes over gene blocks) and
//! cell-major (compressed sparse rows). The two products the critic needs from it are then
//! ```text
//! forward   A = X W    (n, c)   for each cell i: for each (j, x_ij): A[i, :] += x_ij W[j, :]
//! gradient  dW += X^T D (G, c)  for each gene j: for each (i, x_ij): dW[j, :] += x_ij D[i, :]
//! ```
//! the work being `nnz * c` multiply-adds instead of `n G c`. Both keep 64-column tiles of their output row
//! (`A[i, tile]`, `dW[j, tile]`) in registers while they sum that row's nonzeros, reading the other operand's rows
//! from cache. The forward splits the cells over the threads and walks the genes in blocks whose rows of `W` fit
//! in L2, so that `W` streams from memory once per task and `A` is written once per block; the gradient splits
//! `dW` into gene blocks (the small `D`, `n x c`, stays in cache).

use faer::Par;
use rayon::prelude::*;

use super::Scalar;

/// Genes per block when building.
const GENE_BLOCK: usize = 512;
/// Columns per register tile (8 AVX2 registers of f32).
const TILE: usize = 64;
/// Genes per gradient task.
const GRAD_BLOCK: usize = 64;
/// Genes per block of the forward: 128 rows of `W` at the paper's 1,024 columns are 512 KB of f32, in L2.
const FORWARD_GENES: usize = 128;

/// A batch of cells in compressed sparse column (gene-major) form.
#[derive(Debug, Default)]
pub(crate) struct SparseRows<T> {
    n_rows: usize,
    n_cols: usize,
    counts: Vec<u32>,
    indptr: Vec<usize>,
    rows: Vec<u32>,
    vals: Vec<T>,
    /// The same nonzeros cell-major: `row_ptr` (n_rows + 1), and the genes (ascending) and values of each cell.
    row_ptr: Vec<usize>,
    row_cols: Vec<u32>,
    row_vals: Vec<T>,
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
        // cell-major, by transposing the gene-major structure: O(nnz), and each cell's genes come out ascending
        self.row_ptr.clear();
        self.row_ptr.resize(n_rows + 1, 0);
        for &i in &self.rows {
            self.row_ptr[i as usize + 1] += 1;
        }
        for i in 0..n_rows {
            self.row_ptr[i + 1] += self.row_ptr[i];
        }
        self.row_cols.resize(nnz, 0);
        self.row_vals.resize(nnz, T::ZERO);
        let mut next = self.row_ptr[..n_rows].to_vec();
        for j in 0..n_cols {
            for p in self.indptr[j]..self.indptr[j + 1] {
                let i = self.rows[p] as usize;
                self.row_cols[next[i]] = j as u32;
                self.row_vals[next[i]] = self.vals[p];
                next[i] += 1;
            }
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
    /// Each task takes a range of cells and walks the genes in blocks of [`FORWARD_GENES`]: for each of its cells
    /// it sums the cell's nonzeros in the block into register tiles of `a`'s row. Every element of `a` is summed
    /// over the genes in ascending order whatever the thread count, so the result does not depend on it.
    pub fn matmul(&self, a: &mut [T], w: &[T], c: usize, par: Par) {
        let (n, n_cols) = (self.n_rows, self.n_cols);
        let a = &mut a[..n * c];
        let (row_ptr, cols, vals) = (&self.row_ptr, &self.row_cols, &self.row_vals);
        let task = |i0: usize, out: &mut [T]| {
            out.fill(T::ZERO);
            // where each cell of the task has got to in its (ascending) genes
            let mut cursor: Vec<usize> = row_ptr[i0..i0 + out.len() / c].to_vec();
            super::with_simd(
                #[inline(always)]
                || {
                    for j0 in (0..n_cols).step_by(FORWARD_GENES) {
                        let j1 = (j0 + FORWARD_GENES).min(n_cols) as u32;
                        for (ii, arow) in out.chunks_exact_mut(c).enumerate() {
                            let (start, row_end) = (cursor[ii], row_ptr[i0 + ii + 1]);
                            let end = start + cols[start..row_end].iter().take_while(|&&j| j < j1).count();
                            cursor[ii] = end;
                            if start < end {
                                add_rows_tiled(arow, &cols[start..end], &vals[start..end], w, c);
                            }
                        }
                    }
                },
            )
        };
        let tasks = par.degree().clamp(1, n.max(1));
        if tasks == 1 {
            task(0, a);
            return;
        }
        let rows_per_task = n.div_ceil(tasks);
        a.par_chunks_mut(rows_per_task * c).enumerate().for_each(|(t, part)| task(t * rows_per_task, part));
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
                        if !rs.is_empty() {
                            add_rows_tiled(drow, rs, vs, d, c);
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

/// `out += sum_k x[k] m[index[k], :]` for the rows of the row-major `m: (_, c)`, in the order of `index`, with
/// [`TILE`] columns of `out` at a time held in registers. Call inside [`super::with_simd`].
#[inline(always)]
fn add_rows_tiled<T: Scalar>(out: &mut [T], index: &[u32], x: &[T], m: &[T], c: usize) {
    let mut tiles = out.chunks_exact_mut(TILE);
    for (t0, tile) in (&mut tiles).enumerate() {
        let c0 = t0 * TILE;
        let mut acc = [T::ZERO; TILE];
        acc.copy_from_slice(tile);
        for (&k, &xk) in index.iter().zip(x) {
            let src = &m[k as usize * c + c0..k as usize * c + c0 + TILE];
            for (a, v) in acc.iter_mut().zip(src) {
                *a += xk * *v;
            }
        }
        tile.copy_from_slice(&acc);
    }
    let rest = tiles.into_remainder();
    let c0 = c - rest.len();
    for (&k, &xk) in index.iter().zip(x) {
        for (o, v) in rest.iter_mut().zip(&m[k as usize * c + c0..(k as usize + 1) * c]) {
            *o += xk * *v;
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
        let mut forward_by_par = Vec::new();
        for par in [Par::Seq, Par::rayon(2)] {
            let mut s = SparseRows::default();
            let density = s.count(&x, n, g, par);
            assert!(density > 0.05 && density < 0.1, "{density}");
            s.fill(&x, par);
            let (mut a, mut a_ref) = (vec![0.0; n * c], vec![0.0; n * c]);
            s.matmul(&mut a, &w, c, par);
            forward(&mut a_ref, &x, &w, n, g, c, Par::Seq);
            assert!(a.iter().zip(&a_ref).all(|(p, q)| (p - q).abs() < 1e-9));
            forward_by_par.push(a);
            let mut dw = vec![1.0; g * c];
            let mut dw_ref = vec![1.0; g * c];
            s.matmul_transpose_add(&mut dw, &d, c, par);
            backward_weight(&mut dw_ref, &x, &d, n, g, c, true, Par::Seq);
            assert!(dw.iter().zip(&dw_ref).all(|(p, q)| (p - q).abs() < 1e-9));
        }
        assert_eq!(forward_by_par[0], forward_by_par[1], "the forward depends on the thread count");
    }
}
