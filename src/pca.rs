//! Principal components of sparse data, without densifying it.
//!
//! ## What is computed
//! For a `(n, p)` matrix `X` (cells in rows), PCA looks for the directions of largest variance of the centred
//! (and, optionally, standardised) data
//!
//! ```text
//! A = (X - 1 mu^T) D,      mu_j = mean of column j,   D = diag(1 / sd_j)  (D = I without scaling)
//! ```
//!
//! Its thin SVD `A = U S V^T` gives the loadings (`components = V`, `(p, k)`), the scores (`U S`, `(n, k)`) and
//! the explained variances `S^2 / (n - 1)`. `sd_j` uses `n - 1` in the denominator (as scanpy's `pp.scale`), and
//! a feature of zero variance gets `sd_j = 1`.
//!
//! ## Implicit centring
//! `X` is 90-95% zeros but `A` is dense, so `A` is never formed. It is only ever *applied* to thin dense
//! matrices, through a sparse product plus a rank-one correction:
//!
//! ```text
//! A M   = X (D M) - 1 (mu^T D M)           (M is (p, l))
//! A^T Y = D (X^T Y - mu (1^T Y))           (Y is (n, l))
//! ```
//!
//! Both cost `O(nnz * l)`. `X^T Y` uses a transposed copy of `X` (as large as `X`, freed when `fit` returns),
//! so that both products are parallel over output rows with rayon and deterministic (no shared sums).
//!
//! ## Randomized SVD (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1)
//! 1. Draw a Gaussian test matrix `Omega` `(p, l)` with `l = k + n_oversamples` (seeded ChaCha8).
//! 2. Range finder: `Q = orth(A Omega)`; then `n_power_iterations` times `Q = orth(A orth(A^T Q))`. Each power
//!    iteration raises the singular values to a higher odd power, so the top-`k` subspace dominates the noise
//!    floor by `(s_{l+1} / s_k)^(2q+1)`; re-orthonormalising with a thin QR after every product keeps the small
//!    singular directions from being lost to rounding.
//! 3. Project: `B = Q^T A` is only `(l, p)`; its exact thin SVD `B = U_B S V^T` (computed as the SVD of
//!    `B^T = A^T Q`) gives the top singular triplets of `A` as `U = Q U_B`, `S`, `V`.
//!
//! ## Exact alternative
//! [`PcaSolver::Covariance`] forms the `(p, p)` matrix `A^T A = D (X^T X - n mu mu^T) D` from sparse products
//! and takes its symmetric eigendecomposition: exact for every component, at `p^2` memory, so for up to a few
//! thousand features (the clustering's 1,000 dispersed genes, where all 50 components shape the kNN graph).
//!
//! ## Sign convention
//! Singular vectors are defined up to sign. Every component is flipped so that its entry of largest
//! magnitude is positive (the first such entry on ties), as scikit-learn's `svd_flip` does for `V`, so that
//! results are reproducible across runs and implementations.

use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::data::CsrMatrix;
use crate::error::{Error, Result};

/// A fitted PCA: loadings, the centring and scaling it applies, and the variances it explains.
#[derive(Debug, Clone)]
pub struct Pca {
    /// Loadings, `(n_features, k)`: column `c` is the `c`-th principal axis (unit length).
    pub components: Mat<f64>,
    /// Mean of every feature in the training data (subtracted before projecting).
    pub mean: Vec<f64>,
    /// Standard deviation of every feature (`n - 1` denominator; zero-variance features get 1) when the data
    /// were scaled, `None` otherwise.
    pub scale: Option<Vec<f64>>,
    /// Variance of the training scores along each component, `s_c^2 / (n - 1)`, decreasing.
    pub explained_variance: Vec<f64>,
    /// Total variance of the centred (and scaled) training data, the sum over features; the denominator of
    /// [`Pca::explained_variance_ratio`].
    pub total_variance: f64,
}

/// Parameters of [`Pca::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct PcaParams {
    /// Number of components `k` (clipped to `min(n_samples, n_features) - 1`).
    pub n_components: usize,
    /// Extra random directions of the range finder (`l = k + n_oversamples`).
    pub n_oversamples: usize,
    /// Power iterations of the range finder.
    pub n_power_iterations: usize,
    /// Seed of the Gaussian test matrix; equal seeds give identical results.
    pub seed: u64,
    /// Divide every feature by its standard deviation (zero-variance features by 1) after centring.
    pub scale: bool,
    /// How the components are computed.
    pub solver: PcaSolver,
}

/// The algorithm of [`Pca::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PcaSolver {
    /// Randomized SVD (module documentation): `O(nnz (k + n_oversamples) (2 n_power_iterations + 2))` time,
    /// memory of `X` plus a few `(n + p, k + n_oversamples)` matrices. Exact to many digits for components
    /// well above the noise floor; components within a flat tail of the spectrum (e.g. the 30th-50th of
    /// scaled log counts) are only approximate, their variances a few percent low.
    #[default]
    Randomized,
    /// Exact: eigendecomposition of the `(p, p)` covariance `A^T A`, formed from sparse products
    /// (`O(sum_i nnz_i^2 + p^3)` time, `p^2` memory). Use it for up to a few thousand features, when every
    /// component must be exact (as scanpy's default ARPACK solver is).
    Covariance,
}

impl Default for PcaParams {
    fn default() -> Self {
        PcaParams {
            n_components: 50,
            n_oversamples: 10,
            n_power_iterations: 4,
            seed: 0,
            scale: false,
            solver: PcaSolver::Randomized,
        }
    }
}

/// Dense matrices are kept row-major in a `Vec<f64>` for the sparse products (row `i` of `X M` reads rows of
/// `M`), and converted to faer only for QR and SVD.
struct RowMajor {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl RowMajor {
    fn from_mat(m: &Mat<f64>) -> Self {
        let (rows, cols) = (m.nrows(), m.ncols());
        RowMajor { rows, cols, data: (0..rows * cols).map(|idx| m[(idx / cols, idx % cols)]).collect() }
    }

    fn to_mat(&self) -> Mat<f64> {
        Mat::from_fn(self.rows, self.cols, |i, j| self.data[i * self.cols + j])
    }
}

/// `X M` for sparse `X` `(n, p)` and row-major `M` `(p, l)`, parallel over the rows of `X`.
fn sparse_times_dense(x: &CsrMatrix, m: &RowMajor) -> RowMajor {
    let l = m.cols;
    let mut out = vec![0.0; x.n_rows() * l];
    if l > 0 {
        out.par_chunks_mut(l).enumerate().for_each(|(i, row)| {
            let (cols, values) = x.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                let v = v as f64;
                let source = &m.data[j as usize * l..(j as usize + 1) * l];
                row.iter_mut().zip(source).for_each(|(o, s)| *o += v * s);
            }
        });
    }
    RowMajor { rows: x.n_rows(), cols: l, data: out }
}

/// The implicitly centred and scaled operator `A = (X - 1 mu^T) D`.
struct Operator<'a> {
    x: &'a CsrMatrix,
    xt: CsrMatrix,
    mean: &'a [f64],
    inv_sd: Option<Vec<f64>>,
}

/// `(X - 1 mu^T) D M = X (D M) - 1 (mu^T D M)` for sparse `X` `(n, p)` and row-major `M` `(p, l)`.
fn centred_product(x: &CsrMatrix, mean: &[f64], inv_sd: Option<&[f64]>, m: &RowMajor) -> RowMajor {
    let l = m.cols.max(1);
    let mut dm = RowMajor { rows: m.rows, cols: m.cols, data: m.data.clone() };
    if let Some(inv_sd) = inv_sd {
        dm.data.chunks_mut(l).zip(inv_sd).for_each(|(row, &f)| row.iter_mut().for_each(|v| *v *= f));
    }
    let mut correction = vec![0.0; m.cols];
    for (row, &mu) in dm.data.chunks(l).zip(mean) {
        correction.iter_mut().zip(row).for_each(|(c, v)| *c += mu * v);
    }
    let mut out = sparse_times_dense(x, &dm);
    out.data.par_chunks_mut(l).for_each(|row| row.iter_mut().zip(&correction).for_each(|(o, c)| *o -= c));
    out
}

impl Operator<'_> {
    /// `A M`.
    fn apply(&self, m: &RowMajor) -> RowMajor {
        centred_product(self.x, self.mean, self.inv_sd.as_deref(), m)
    }

    /// `A^T Y = D (X^T Y - mu (1^T Y))`.
    fn apply_transpose(&self, y: &RowMajor) -> RowMajor {
        let l = y.cols.max(1);
        let mut column_sums = vec![0.0; y.cols];
        for row in y.data.chunks(l) {
            column_sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let mut out = sparse_times_dense(&self.xt, y);
        out.data.par_chunks_mut(l).enumerate().for_each(|(j, row)| {
            let f = self.inv_sd.as_ref().map_or(1.0, |s| s[j]);
            row.iter_mut().zip(&column_sums).for_each(|(o, s)| *o = (*o - self.mean[j] * s) * f);
        });
        out
    }
}

/// Orthonormal basis of the columns of a tall matrix: the thin `Q` of its QR factorisation.
fn orthonormalize(m: &RowMajor) -> RowMajor {
    RowMajor::from_mat(&m.to_mat().qr().compute_thin_Q())
}

/// Feature means, variances and standard deviations (`n - 1` denominator; zero sd replaced by 1).
fn moments(x: &CsrMatrix) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = x.n_rows() as f64;
    let (sums, squares) = x.col_sums_and_squares();
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let var: Vec<f64> =
        sums.iter().zip(&squares).map(|(s, q)| ((q - s * s / n) / (n - 1.0).max(1.0)).max(0.0)).collect();
    let sd = var.iter().map(|v| if *v > 0.0 { v.sqrt() } else { 1.0 }).collect();
    (mean, var, sd)
}

impl Operator<'_> {
    /// Top `k` right singular vectors `(p, k)` and `s^2` of `A`, by randomized SVD (module documentation).
    fn randomized(&self, k: usize, params: &PcaParams) -> Result<(Mat<f64>, Vec<f64>)> {
        let (n, p) = (self.x.n_rows(), self.x.n_cols());
        let l = (k + params.n_oversamples).min(n.min(p));
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let omega = RowMajor { rows: p, cols: l, data: (0..p * l).map(|_| StandardNormal.sample(&mut rng)).collect() };
        let mut q = orthonormalize(&self.apply(&omega));
        for _ in 0..params.n_power_iterations {
            let z = orthonormalize(&self.apply_transpose(&q));
            q = orthonormalize(&self.apply(&z));
        }
        // B^T = A^T Q (p, l) = W S U_B^T, so B = U_B S W^T and the right singular vectors of A are W.
        let bt = self.apply_transpose(&q).to_mat();
        let svd = bt.thin_svd().map_err(|e| Error::invalid_data("data", "PCA", format!("SVD failed: {e:?}")))?;
        let s = svd.S().column_vector();
        Ok((svd.U().subcols(0, k).to_owned(), (0..k).map(|c| s[c] * s[c]).collect()))
    }

    /// Top `k` eigenvectors `(p, k)` and eigenvalues of `A^T A = D (X^T X - n mu mu^T) D`, formed densely:
    /// row `j` of `X^T X` sums `x_ij x_i` over the cells `i` expressing feature `j` (parallel over `j`).
    fn covariance(&self, k: usize) -> Result<(Mat<f64>, Vec<f64>)> {
        let (n, p) = (self.x.n_rows() as f64, self.x.n_cols());
        let f = |j: usize| self.inv_sd.as_ref().map_or(1.0, |s| s[j]);
        let mut gram = vec![0.0; p * p];
        gram.par_chunks_mut(p).enumerate().for_each(|(j, out)| {
            let (cells, values) = self.xt.row(j);
            for (&i, &v) in cells.iter().zip(values) {
                let (cols, vals) = self.x.row(i as usize);
                cols.iter().zip(vals).for_each(|(&c, &w)| out[c as usize] += v as f64 * w as f64);
            }
            out.iter_mut().enumerate().for_each(|(c, o)| *o = (*o - n * self.mean[j] * self.mean[c]) * f(j) * f(c));
        });
        let gram = Mat::from_fn(p, p, |i, j| gram[i * p + j]);
        let eigen = gram
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::invalid_data("data", "PCA", format!("eigendecomposition failed: {e:?}")))?;
        let (u, s) = (eigen.U(), eigen.S().column_vector());
        // Eigenvalues come in increasing order.
        Ok((Mat::from_fn(p, k, |j, c| u[(j, p - 1 - c)]), (0..k).map(|c| s[p - 1 - c].max(0.0)).collect()))
    }
}

impl Pca {
    /// Fits `params.n_components` principal components of `x` `(n_samples, n_features)`, values as given.
    ///
    /// `n_components` is clipped to `min(n_samples, n_features) - 1` (the centred data have at most that many
    /// informative directions when `n_samples <= n_features`, and the randomized range finder needs
    /// `k + n_oversamples <= min(n, p)` anyway); read `components.ncols()` for the number obtained.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `n_components` is 0; [`Error::InvalidData`] when the data have fewer
    /// than 2 samples or features, or contain non-finite values. A bare matrix has no file: the error names the
    /// placeholder `data`, which callers replace with theirs ([`Error::in_file`]).
    pub fn fit(x: &CsrMatrix, params: &PcaParams) -> Result<Pca> {
        let (n, p) = (x.n_rows(), x.n_cols());
        if params.n_components == 0 {
            return Err(Error::parameter("n_components", "must be at least 1"));
        }
        if n < 2 || p < 2 {
            let message = format!("needs at least 2 samples and 2 features, the matrix is {n} x {p}");
            return Err(Error::invalid_data("data", "PCA", message));
        }
        if let Some(pos) = x.data().iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid_data("data", "PCA", format!("stored value {pos} is not finite")));
        }
        let k = params.n_components.min(n.min(p) - 1);
        let (mean, var, sd) = moments(x);
        let inv_sd = params.scale.then(|| sd.iter().map(|s| 1.0 / s).collect::<Vec<f64>>());
        let total_variance =
            var.iter().enumerate().map(|(j, v)| v * inv_sd.as_ref().map_or(1.0, |f| f[j] * f[j])).sum();
        let op = Operator { x, xt: x.transpose(), mean: &mean, inv_sd };
        let (mut components, squares) = match params.solver {
            PcaSolver::Randomized => op.randomized(k, params)?,
            PcaSolver::Covariance => op.covariance(k)?,
        };
        for c in 0..k {
            let best = (0..p).fold(0, |b, j| if components[(j, c)].abs() > components[(b, c)].abs() { j } else { b });
            if components[(best, c)] < 0.0 {
                (0..p).for_each(|j| components[(j, c)] = -components[(j, c)]);
            }
        }
        let explained_variance = squares.iter().map(|s| s / (n as f64 - 1.0)).collect();
        Ok(Pca { components, mean, scale: params.scale.then_some(sd), explained_variance, total_variance })
    }

    /// Fits like [`Pca::fit`] and also returns the scores of the training data, `transform(x)`,
    /// `(n_samples, k)`. (They equal `U S` of the decomposition up to the accuracy of the randomized SVD; the
    /// projection `A V` is returned so that fitted and later-projected data are treated identically.)
    ///
    /// # Errors
    /// As [`Pca::fit`].
    pub fn fit_transform(x: &CsrMatrix, params: &PcaParams) -> Result<(Pca, Mat<f64>)> {
        let pca = Self::fit(x, params)?;
        let scores = pca.transform(x);
        Ok((pca, scores))
    }

    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.components.ncols()
    }

    /// Fraction of the total variance each component explains.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        let total = if self.total_variance > 0.0 { self.total_variance } else { 1.0 };
        self.explained_variance.iter().map(|v| v / total).collect()
    }

    /// Scores of `x` `(n_samples, n_features)` on the components, `(n_samples, k)`, with the training data's
    /// centring and scaling: `(x - 1 mean^T) D V`, computed as the sparse `x (D V)` minus a rank-one term.
    ///
    /// # Panics
    /// If `x` does not have as many columns (features, in the same order) as the training data: a caller must
    /// project data with the genes the PCA was fitted on.
    pub fn transform(&self, x: &CsrMatrix) -> Mat<f64> {
        let p = self.mean.len();
        assert_eq!(x.n_cols(), p, "PCA fitted on {p} features, given a matrix with {}", x.n_cols());
        let v = RowMajor::from_mat(&self.components);
        let inv_sd: Option<Vec<f64>> = self.scale.as_ref().map(|s| s.iter().map(|s| 1.0 / s).collect());
        centred_product(x, &self.mean, inv_sd.as_deref(), &v).to_mat()
    }
}

/// Scales every cell (row) to a total of `target_sum`, then takes `ln(1 + x)`; rows summing to zero stay zero.
/// The usual "log-normalisation" of single-cell counts (scanpy's `normalize_total` + `log1p`).
pub fn log_normalize(x: &CsrMatrix, target_sum: f64) -> CsrMatrix {
    let mut out = x.clone();
    let sums = x.row_sums();
    let indptr = x.indptr().to_vec();
    let data = out.data_mut();
    for (i, &total) in sums.iter().enumerate() {
        let factor = if total != 0.0 { target_sum / total } else { 0.0 };
        for v in &mut data[indptr[i] as usize..indptr[i + 1] as usize] {
            *v = ((*v as f64) * factor).ln_1p() as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// A sparse `(n, p)` matrix with a few strong latent directions plus noise, thresholded like counts, so
    /// that its spectrum decays (a flat random spectrum would not let a rank-k method match to 1e-6).
    fn structured(n: usize, p: usize, seed: u64) -> CsrMatrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scales = [6.0, 4.0, 3.0, 2.0, 1.5, 1.0];
        let r = scales.len();
        let factors: Vec<f64> = (0..n * r).map(|_| StandardNormal.sample(&mut rng)).collect();
        let loadings: Vec<f64> = (0..r * p).map(|_| StandardNormal.sample(&mut rng)).collect();
        let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..p {
                let noise: f64 = StandardNormal.sample(&mut rng);
                let mut v = 0.3 * noise + (j % 5) as f64 * 0.2;
                for f in 0..r {
                    v += scales[f] * factors[i * r + f] * loadings[f * p + j] * 0.3;
                }
                if v > 0.8 && rng.random::<f64>() < 0.8 {
                    rows.push(i as u32);
                    cols.push(j as u32);
                    values.push(v as f32);
                }
            }
        }
        CsrMatrix::from_triplets(n, p, &rows, &cols, &values)
    }

    /// The exact decomposition: dense centred (scaled) matrix, faer's thin SVD.
    fn exact(x: &CsrMatrix, scale: bool) -> (Vec<f64>, Mat<f64>, Mat<f64>, Mat<f64>) {
        let (n, p) = (x.n_rows(), x.n_cols());
        let (mean, _, sd) = moments(x);
        let a = Mat::from_fn(n, p, |i, j| (x.get(i, j) as f64 - mean[j]) / if scale { sd[j] } else { 1.0 });
        let svd = a.thin_svd().unwrap();
        let s = svd.S().column_vector();
        let variances = (0..p.min(n)).map(|c| s[c] * s[c] / (n as f64 - 1.0)).collect();
        let us = Mat::from_fn(n, p.min(n), |i, c| svd.U()[(i, c)] * s[c]);
        (variances, svd.V().to_owned(), us, a)
    }

    fn check_against_exact(scale: bool, solver: PcaSolver) {
        let x = structured(200, 40, 7);
        let params = PcaParams { n_components: 8, scale, seed: 3, solver, ..Default::default() };
        let exact_solver = solver == PcaSolver::Covariance;
        let (pca, scores) = Pca::fit_transform(&x, &params).unwrap();
        let (variances, v, us, dense) = exact(&x, scale);
        // The top 4 components stand well above the noise floor: exact to 1e-6. The next ones are close to it
        // (variance only ~2-4x that of component l + 1), where 4 power iterations still give ~1e-4.
        let projected = pca.transform(&x);
        assert_eq!(projected, scores);
        let dense_scores = &dense * &pca.components;
        for c in 0..8 {
            let rel = (pca.explained_variance[c] - variances[c]).abs() / variances[c];
            let cosine: f64 = (0..40).map(|j| pca.components[(j, c)] * v[(j, c)]).sum();
            let (max_rel, min_cos) = match (exact_solver, c < 4) {
                (true, _) => (1e-10, 1.0 - 1e-10),
                (false, true) => (1e-6, 0.9999),
                (false, false) => (1e-3, 0.999),
            };
            assert!(
                rel < max_rel,
                "component {c}: variance {} vs exact {} (rel {rel:e})",
                pca.explained_variance[c],
                variances[c]
            );
            assert!(cosine.abs() > min_cos, "component {c}: |cosine| {}", cosine.abs());
            // transform (implicit centring/scaling) = the dense (X - mean) D V, for every component ...
            let us_max = (0..200).map(|i| us[(i, c)].abs()).fold(0.0, f64::max);
            let implicit = (0..200).map(|i| (projected[(i, c)] - dense_scores[(i, c)]).abs()).fold(0.0, f64::max);
            assert!(implicit < 1e-10 * us_max, "component {c}: implicit vs dense projection {implicit:e}");
            // ... and = U S of the exact SVD (up to sign) for the converged ones (scores converge like the square
            // root of the variances: ~1e-4 relative where the variances agree to ~1e-7).
            if c < 4 || exact_solver {
                let sign = cosine.signum();
                let diff = (0..200).map(|i| (projected[(i, c)] - sign * us[(i, c)]).abs()).fold(0.0, f64::max);
                assert!(
                    diff < if exact_solver { 1e-8 } else { 1e-3 } * us_max,
                    "component {c}: transform vs U S differ by {diff:e} (max {us_max})"
                );
            }
            let col: Vec<f64> = (0..40).map(|j| pca.components[(j, c)]).collect();
            let max = col.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            assert!(max > 0.0, "sign convention");
        }
        let total: f64 = variances.iter().sum();
        assert!((pca.total_variance - total).abs() < 1e-9 * total);
    }

    #[test]
    fn pca_matches_exact_svd() {
        check_against_exact(false, PcaSolver::Randomized);
    }

    #[test]
    fn pca_matches_exact_svd_scaled() {
        check_against_exact(true, PcaSolver::Randomized);
    }

    #[test]
    fn pca_covariance_solver_is_exact() {
        check_against_exact(false, PcaSolver::Covariance);
        check_against_exact(true, PcaSolver::Covariance);
    }

    #[test]
    fn pca_is_deterministic_and_clips_components() {
        let x = structured(30, 12, 1);
        let params = PcaParams { n_components: 50, seed: 9, ..Default::default() };
        let a = Pca::fit(&x, &params).unwrap();
        let b = Pca::fit(&x, &params).unwrap();
        assert_eq!(a.n_components(), 11);
        assert_eq!(a.components, b.components);
        assert_eq!(a.explained_variance, b.explained_variance);
        assert_eq!(a.transform(&x), b.transform(&x));
        let ratio: f64 = a.explained_variance_ratio().iter().sum();
        assert!(ratio <= 1.0 + 1e-9 && ratio > 0.9, "ratio {ratio}");
    }

    #[test]
    fn pca_rejects_degenerate_input() {
        let x = structured(30, 12, 1);
        assert!(Pca::fit(&x, &PcaParams { n_components: 0, ..Default::default() }).is_err());
        assert!(Pca::fit(&CsrMatrix::zeros(1, 5), &PcaParams::default()).is_err());
        let bad = CsrMatrix::new(2, 2, vec![0, 1, 1], vec![0], vec![f32::NAN], "t").unwrap();
        assert!(Pca::fit(&bad, &PcaParams::default()).is_err());
    }

    #[test]
    fn log_normalize_scales_then_logs() {
        let x = CsrMatrix::new(3, 3, vec![0, 2, 2, 3], vec![0, 2, 1], vec![1.0, 3.0, 5.0], "t").unwrap();
        let y = log_normalize(&x, 100.0);
        assert!((y.get(0, 0) as f64 - 26f64.ln()).abs() < 1e-5);
        assert!((y.get(0, 2) as f64 - 76f64.ln()).abs() < 1e-5);
        assert!((y.get(2, 1) as f64 - 101f64.ln()).abs() < 1e-5);
        assert_eq!(y.row(1).0.len(), 0);
    }
}
