//! Compressed sparse row matrices: the storage of every count matrix.
//!
//! A single-cell count matrix of shape `(n_cells, n_genes)` is 90-95% zeros, so scgan never holds it densely:
//! row `i` (a cell) is `indices[indptr[i]..indptr[i + 1]]` (gene columns) with `data[..]` (values). Operations
//! that shrink a matrix (filtering cells or genes) work in place, so that preprocessing needs no second copy;
//! dense values exist only one minibatch at a time ([`CsrMatrix::densify_rows`]).

use crate::error::{Error, Result};

/// A sparse `(n_rows, n_cols)` matrix in compressed sparse row form, `f32` values.
///
/// Invariants (checked by [`CsrMatrix::new`]): `indptr` has `n_rows + 1` non-decreasing entries starting at 0 and
/// ending at `nnz`; every index is below `n_cols`. Column indices within a row are usually sorted (all readers
/// sort them) but nothing depends on it except [`CsrMatrix::get`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<u64>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl CsrMatrix {
    /// Builds a matrix from its three arrays, checking the invariants. `what` names the source in errors.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<u64>,
        indices: Vec<u32>,
        data: Vec<f32>,
        what: &str,
    ) -> Result<Self> {
        let bad = |field: &str, message: String| Error::invalid_data(what, field, message);
        if indptr.len() != n_rows + 1 {
            return Err(bad("indptr", format!("has {} entries, expected n_rows + 1 = {}", indptr.len(), n_rows + 1)));
        }
        if indices.len() != data.len() {
            return Err(bad(
                "indices",
                format!("has {} entries but data has {}; they must be equal", indices.len(), data.len()),
            ));
        }
        if indptr[0] != 0 || indptr[n_rows] as usize != data.len() {
            return Err(bad(
                "indptr",
                format!("must start at 0 and end at nnz = {}, found {} .. {}", data.len(), indptr[0], indptr[n_rows]),
            ));
        }
        if let Some(row) = indptr.windows(2).position(|w| w[1] < w[0]) {
            return Err(bad("indptr", format!("decreases at row {row}: offsets must be non-decreasing")));
        }
        if let Some(pos) = indices.iter().position(|&j| j as usize >= n_cols) {
            return Err(bad(
                "indices",
                format!("entry {pos} is column {} but the matrix has {n_cols} columns", indices[pos]),
            ));
        }
        Ok(CsrMatrix { n_rows, n_cols, indptr, indices, data })
    }

    /// Builds a matrix from `(row, col, value)` triplets in any order; duplicate entries are summed and
    /// explicit zeros dropped. Used by readers of coordinate formats (Matrix Market) and by transposes.
    ///
    /// # Panics
    /// If a row or column index is out of range: callers validate indices against the shape first.
    pub fn from_triplets(n_rows: usize, n_cols: usize, rows: &[u32], cols: &[u32], values: &[f32]) -> Self {
        let mut counts = vec![0u64; n_rows + 1];
        for &r in rows {
            counts[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            counts[i + 1] += counts[i];
        }
        let nnz = values.len();
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0f32; nnz];
        let mut next = counts.clone();
        for k in 0..nnz {
            let slot = &mut next[rows[k] as usize];
            indices[*slot as usize] = cols[k];
            data[*slot as usize] = values[k];
            *slot += 1;
        }
        let mut matrix = CsrMatrix { n_rows, n_cols, indptr: counts, indices, data };
        matrix.sort_and_sum_duplicates();
        matrix
    }

    /// Builds a matrix from its rows in order, each `(columns, values)` with the same number of entries.
    ///
    /// # Panics
    /// If a row's columns and values differ in length or a column is not below `n_cols`: callers build rows from
    /// matrices of the same width.
    pub fn from_rows<C: AsRef<[u32]>, V: AsRef<[f32]>>(n_cols: usize, rows: impl IntoIterator<Item = (C, V)>) -> Self {
        let mut indptr = vec![0u64];
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        for (cols, values) in rows {
            let (cols, values) = (cols.as_ref(), values.as_ref());
            assert!(cols.len() == values.len(), "a row's columns and values differ in length");
            assert!(cols.iter().all(|&j| (j as usize) < n_cols), "column out of range");
            indices.extend_from_slice(cols);
            data.extend_from_slice(values);
            indptr.push(indices.len() as u64);
        }
        CsrMatrix { n_rows: indptr.len() - 1, n_cols, indptr, indices, data }
    }

    /// Dense row-major `values` (rows of `n_cols`) as a sparse matrix, dropping zeros.
    pub fn from_dense(values: &[f32], n_cols: usize) -> Self {
        let rows = values.chunks(n_cols.max(1)).map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(j, &v)| (j as u32, v))
                .unzip::<_, _, Vec<u32>, Vec<f32>>()
        });
        Self::from_rows(n_cols, rows)
    }

    /// The rows of `parts` (all `n_cols` wide) one after the other.
    pub fn vstack(parts: &[CsrMatrix], n_cols: usize) -> Self {
        Self::from_rows(n_cols, parts.iter().flat_map(|part| (0..part.n_rows).map(move |i| part.row(i))))
    }

    /// An all-zero matrix.
    pub fn zeros(n_rows: usize, n_cols: usize) -> Self {
        CsrMatrix { n_rows, n_cols, indptr: vec![0; n_rows + 1], indices: Vec::new(), data: Vec::new() }
    }

    /// Number of rows (cells).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (genes).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Row offsets, `n_rows + 1` entries.
    pub fn indptr(&self) -> &[u64] {
        &self.indptr
    }

    /// Column index of every stored entry.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Value of every stored entry.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Values, mutable (the sparsity pattern stays fixed).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Bytes held by the three arrays: the "CSR size" that memory budgets are stated against.
    pub fn memory_bytes(&self) -> usize {
        self.indptr.len() * 8 + self.indices.len() * 4 + self.data.len() * 4
    }

    /// The column indices and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (start, end) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
        (&self.indices[start..end], &self.data[start..end])
    }

    /// The value at `(i, j)`, zero when not stored. Assumes sorted indices within the row.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        let (cols, values) = self.row(i);
        match cols.binary_search(&(j as u32)) {
            Ok(k) => values[k],
            Err(_) => 0.0,
        }
    }

    /// Sum of every row, in `f64` so that large libraries add up exactly.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n_rows).map(|i| self.row(i).1.iter().map(|&v| v as f64).sum()).collect()
    }

    /// Number of positive entries in every row (genes detected per cell).
    pub fn row_positive_counts(&self) -> Vec<u32> {
        (0..self.n_rows).map(|i| self.row(i).1.iter().filter(|&&v| v > 0.0).count() as u32).collect()
    }

    /// Number of positive entries in every column (cells expressing each gene).
    pub fn col_positive_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_cols];
        for (&j, &v) in self.indices.iter().zip(&self.data) {
            if v > 0.0 {
                counts[j as usize] += 1;
            }
        }
        counts
    }

    /// Per-column sum and sum of squares, over all rows (zeros included implicitly), in `f64`.
    pub fn col_sums_and_squares(&self) -> (Vec<f64>, Vec<f64>) {
        let mut sums = vec![0f64; self.n_cols];
        let mut squares = vec![0f64; self.n_cols];
        for (&j, &v) in self.indices.iter().zip(&self.data) {
            let v = v as f64;
            sums[j as usize] += v;
            squares[j as usize] += v * v;
        }
        (sums, squares)
    }

    /// Multiplies every row `i` by `factors[i]`, in place.
    ///
    /// # Panics
    /// If `factors.len() != n_rows`.
    pub fn scale_rows(&mut self, factors: &[f32]) {
        assert_eq!(factors.len(), self.n_rows, "one factor per row");
        for (i, &factor) in factors.iter().enumerate() {
            let (start, end) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
            self.data[start..end].iter_mut().for_each(|v| *v *= factor);
        }
    }

    /// Keeps the rows where `keep` is true, in place; returns the kept rows' original positions.
    ///
    /// # Panics
    /// If `keep.len() != n_rows`.
    pub fn retain_rows(&mut self, keep: &[bool]) -> Vec<usize> {
        assert_eq!(keep.len(), self.n_rows, "one flag per row");
        let mut write = 0usize;
        let mut kept = Vec::new();
        let mut new_indptr = Vec::with_capacity(keep.iter().filter(|&&k| k).count() + 1);
        new_indptr.push(0u64);
        for (i, _) in keep.iter().enumerate().filter(|(_, &k)| k) {
            let (start, end) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
            self.indices.copy_within(start..end, write);
            self.data.copy_within(start..end, write);
            write += end - start;
            new_indptr.push(write as u64);
            kept.push(i);
        }
        self.shrink_to(write);
        self.indptr = new_indptr;
        self.n_rows = kept.len();
        kept
    }

    /// Keeps the columns where `keep` is true, renumbering them, in place; returns the kept columns' original
    /// positions.
    ///
    /// # Panics
    /// If `keep.len() != n_cols`.
    pub fn retain_cols(&mut self, keep: &[bool]) -> Vec<usize> {
        assert_eq!(keep.len(), self.n_cols, "one flag per column");
        let mut new_index = vec![u32::MAX; self.n_cols];
        let mut kept = Vec::new();
        for (j, _) in keep.iter().enumerate().filter(|(_, &k)| k) {
            new_index[j] = kept.len() as u32;
            kept.push(j);
        }
        let mut write = 0usize;
        for i in 0..self.n_rows {
            let (start, end) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
            self.indptr[i] = write as u64;
            for k in start..end {
                let j = new_index[self.indices[k] as usize];
                if j != u32::MAX {
                    self.indices[write] = j;
                    self.data[write] = self.data[k];
                    write += 1;
                }
            }
        }
        self.indptr[self.n_rows] = write as u64;
        self.shrink_to(write);
        self.n_cols = kept.len();
        kept
    }

    /// A new matrix of the given rows, in the given order (rows may repeat).
    pub fn select_rows(&self, rows: &[usize]) -> CsrMatrix {
        let nnz: usize = rows.iter().map(|&i| (self.indptr[i + 1] - self.indptr[i]) as usize).sum();
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::with_capacity(nnz);
        let mut data = Vec::with_capacity(nnz);
        indptr.push(0u64);
        for &i in rows {
            let (cols, values) = self.row(i);
            indices.extend_from_slice(cols);
            data.extend_from_slice(values);
            indptr.push(indices.len() as u64);
        }
        CsrMatrix { n_rows: rows.len(), n_cols: self.n_cols, indptr, indices, data }
    }

    /// The transpose, `(n_cols, n_rows)`, with sorted indices.
    pub fn transpose(&self) -> CsrMatrix {
        let mut counts = vec![0u64; self.n_cols + 1];
        for &j in &self.indices {
            counts[j as usize + 1] += 1;
        }
        for j in 0..self.n_cols {
            counts[j + 1] += counts[j];
        }
        let mut next = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for i in 0..self.n_rows {
            let (cols, values) = self.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                let slot = &mut next[j as usize];
                indices[*slot as usize] = i as u32;
                data[*slot as usize] = v;
                *slot += 1;
            }
        }
        CsrMatrix { n_rows: self.n_cols, n_cols: self.n_rows, indptr: counts, indices, data }
    }

    /// Writes rows `rows` densely into `out` (row-major, `rows.len() * n_cols`), each row multiplied by
    /// `scale[k]`. This is how minibatches are made: one batch dense at a time, never the whole matrix.
    ///
    /// # Panics
    /// If `out.len() != rows.len() * n_cols` or `scale.len() != rows.len()`.
    pub fn densify_rows(&self, rows: &[usize], scale: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), rows.len() * self.n_cols, "output buffer size");
        assert_eq!(scale.len(), rows.len(), "one scale per row");
        out.iter_mut().for_each(|v| *v = 0.0);
        for (k, &i) in rows.iter().enumerate() {
            let dense_row = &mut out[k * self.n_cols..(k + 1) * self.n_cols];
            let (cols, values) = self.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                dense_row[j as usize] = v * scale[k];
            }
        }
    }

    /// Sorts the column indices of every row, summing duplicates and dropping explicit zeros.
    pub fn sort_and_sum_duplicates(&mut self) {
        let mut write = 0usize;
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for i in 0..self.n_rows {
            let (start, end) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
            pairs.clear();
            pairs.extend(self.indices[start..end].iter().copied().zip(self.data[start..end].iter().copied()));
            if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
                pairs.sort_unstable_by_key(|p| p.0);
            }
            self.indptr[i] = write as u64;
            let mut k = 0;
            while k < pairs.len() {
                let (j, mut v) = pairs[k];
                k += 1;
                while k < pairs.len() && pairs[k].0 == j {
                    v += pairs[k].1;
                    k += 1;
                }
                if v != 0.0 {
                    self.indices[write] = j;
                    self.data[write] = v;
                    write += 1;
                }
            }
        }
        self.indptr[self.n_rows] = write as u64;
        self.shrink_to(write);
    }

    fn shrink_to(&mut self, nnz: usize) {
        self.indices.truncate(nnz);
        self.data.truncate(nnz);
        self.indices.shrink_to_fit();
        self.data.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_dense_values_and_stacks_build_the_same_matrix() {
        let dense = [1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0];
        let from_dense = CsrMatrix::from_dense(&dense, 3);
        let rows: [(&[u32], &[f32]); 3] = [(&[0, 2], &[1.0, 2.0]), (&[], &[]), (&[1], &[3.0])];
        assert_eq!(from_dense, CsrMatrix::from_rows(3, rows));
        assert_eq!((from_dense.n_rows(), from_dense.nnz(), from_dense.get(2, 1)), (3, 3, 3.0));
        let halves = [CsrMatrix::from_dense(&dense[..3], 3), CsrMatrix::from_dense(&dense[3..], 3)];
        assert_eq!(CsrMatrix::vstack(&halves, 3), from_dense);
        assert_eq!(CsrMatrix::vstack(&[], 3), CsrMatrix::zeros(0, 3));
    }

    fn example() -> CsrMatrix {
        // [[1, 0, 2],
        //  [0, 0, 0],
        //  [0, 3, 4]]
        CsrMatrix::new(3, 3, vec![0, 2, 2, 4], vec![0, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0], "test").unwrap()
    }

    #[test]
    fn new_rejects_broken_arrays() {
        assert!(CsrMatrix::new(2, 3, vec![0, 1], vec![0], vec![1.0], "t").is_err());
        assert!(CsrMatrix::new(1, 3, vec![0, 1], vec![3], vec![1.0], "t").is_err());
        assert!(CsrMatrix::new(2, 3, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0], "t").is_err());
        assert!(CsrMatrix::new(1, 3, vec![0, 2], vec![0], vec![1.0], "t").is_err());
    }

    #[test]
    fn retain_rows_and_cols_in_place() {
        let mut m = example();
        assert_eq!(m.retain_rows(&[true, false, true]), vec![0, 2]);
        assert_eq!(m.retain_cols(&[false, true, true]), vec![1, 2]);
        assert_eq!((m.n_rows(), m.n_cols()), (2, 2));
        assert_eq!(m.indptr(), &[0, 1, 3]);
        assert_eq!(m.indices(), &[1, 0, 1]);
        assert_eq!(m.data(), &[2.0, 3.0, 4.0]);
    }

    #[test]
    fn triplets_sum_duplicates_and_transpose_round_trips() {
        let m = CsrMatrix::from_triplets(2, 3, &[1, 0, 1, 1], &[2, 1, 0, 2], &[1.0, 5.0, 2.0, 3.0]);
        assert_eq!(m.get(1, 2), 4.0);
        assert_eq!(m.get(0, 1), 5.0);
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.transpose().transpose(), m);
    }

    #[test]
    fn densify_scales_rows() {
        let m = example();
        let mut out = vec![9.0; 6];
        m.densify_rows(&[2, 0], &[1.0, 10.0], &mut out);
        assert_eq!(out, vec![0.0, 3.0, 4.0, 10.0, 0.0, 20.0]);
    }

    #[test]
    fn sums_and_counts() {
        let m = example();
        assert_eq!(m.row_sums(), vec![3.0, 0.0, 7.0]);
        assert_eq!(m.row_positive_counts(), vec![2, 0, 2]);
        assert_eq!(m.col_positive_counts(), vec![1, 1, 2]);
        let (sums, squares) = m.col_sums_and_squares();
        assert_eq!(sums, vec![1.0, 3.0, 6.0]);
        assert_eq!(squares, vec![1.0, 9.0, 20.0]);
    }
}
