//! Exact k-nearest neighbours and UMAP's fuzzy-simplicial-set weights: the cell graph that Leiden clusters.
//!
//! ## Neighbours
//! Brute force in Euclidean distance, as scanpy's `pp.neighbors` does for small data: each cell's `k`
//! neighbours **include the cell itself** (first, at distance 0), so `k = 15` means 14 other cells. Squared
//! distances come in blocks from a matrix product, `|a - b|^2 = |a|^2 + |b|^2 - 2 a.b` (rayon over blocks of
//! cells), a few spare candidates are kept per cell, and their distances are recomputed exactly before the
//! final ranking (ties: lower index first), so that rounding in the product cannot reorder near neighbours.
//!
//! ## Fuzzy simplicial set (McInnes et al. 2018; scanpy's default `method='umap'`)
//! Each cell `i` gets its own distance scale. With `d_i1 <= ... <= d_i,k-1` its distances to its other
//! neighbours:
//!
//! - `rho_i` = the distance to its nearest neighbour at a positive distance (the local connectivity is 1);
//! - `sigma_i` solves `sum_{j} exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)` by bisection (64 steps,
//!   tolerance 1e-5), with a floor of `1e-3` times its mean neighbour distance.
//!
//! The directed membership strength is `w_ij = exp(-max(0, d_ij - rho_i) / sigma_i)` (so the nearest neighbour
//! gets 1, and the cell itself 0), and the graph is made undirected by the probabilistic union (fuzzy set
//! union) `W + W^T - W o W^T`: an edge exists with weight `a + b - a b` where `a = w_ij`, `b = w_ji`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// The `k` nearest neighbours of every point, the point itself first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbors {
    /// Neighbours per point, the point itself included.
    pub k: usize,
    /// `indices[i * k + r]` is the `r`-th neighbour of point `i` (`r = 0` is `i` itself).
    pub indices: Vec<u32>,
    /// The matching Euclidean distances, non-decreasing within a point.
    pub distances: Vec<f64>,
}

/// Extra candidates per point ranked by exact distance after the blocked product.
const SPARE_CANDIDATES: usize = 8;
/// Distance matrix entries per block (8 bytes each): bounds the memory of one block to about 32 MB.
const BLOCK_ENTRIES: usize = 4_000_000;

/// The `k` nearest neighbours (the point itself included, first) of every row of `points` `(n, d)`, by exact
/// Euclidean distance.
///
/// # Errors
/// [`Error::InvalidParameter`] when `k` is 0; [`Error::InvalidData`] when there are fewer than `k` points or a
/// coordinate is not finite.
pub fn knn_brute(points: MatRef<'_, f64>, k: usize) -> Result<Neighbors> {
    let (n, d) = (points.nrows(), points.ncols());
    if k == 0 {
        return Err(Error::parameter("n_neighbors", "must be at least 1"));
    }
    if n < k {
        return Err(Error::invalid_data(
            "data",
            "neighbors",
            format!("{n} cells, fewer than the {k} neighbours (the cell included) requested"),
        ));
    }
    if (0..d).any(|c| (0..n).any(|i| !points[(i, c)].is_finite())) {
        return Err(Error::invalid_data("data", "neighbors", "a coordinate is not finite"));
    }
    let norms: Vec<f64> = (0..n).map(|i| (0..d).map(|c| points[(i, c)].powi(2)).sum()).collect();
    let exact = |i: usize, j: usize| -> f64 { (0..d).map(|c| (points[(i, c)] - points[(j, c)]).powi(2)).sum() };
    let block = (BLOCK_ENTRIES / n.max(1)).clamp(1, 256);
    let starts: Vec<usize> = (0..n).step_by(block).collect();
    let per_block: Vec<Vec<(Vec<u32>, Vec<f64>)>> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + block).min(n);
            // gram[(j, r)] = <point j, point start + r>, column r contiguous.
            let mut gram = Mat::<f64>::zeros(n, end - start);
            matmul(
                gram.as_mut(),
                Accum::Replace,
                points,
                points.subrows(start, end - start).transpose(),
                1.0,
                Par::Seq,
            );
            (start..end)
                .map(|i| {
                    let column = gram.col_as_slice(i - start);
                    let keep = (k - 1 + SPARE_CANDIDATES).min(n - 1);
                    let mut candidates = nearest_candidates(i, column, &norms, keep);
                    let by_distance = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                    for c in &mut candidates {
                        c.0 = exact(i, c.1 as usize);
                    }
                    candidates.sort_unstable_by(by_distance);
                    let mut indices = vec![i as u32];
                    let mut distances = vec![0.0];
                    for &(d2, j) in candidates.iter().take(k - 1) {
                        indices.push(j);
                        distances.push(d2.sqrt());
                    }
                    (indices, distances)
                })
                .collect()
        })
        .collect();
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for (idx, dist) in per_block.into_iter().flatten() {
        indices.extend(idx);
        distances.extend(dist);
    }
    Ok(Neighbors { k, indices, distances })
}

/// The `keep` points `j != i` of smallest approximate squared distance `|x_i|^2 + |x_j|^2 - 2 gram_j`, in one
/// pass with a sorted buffer (most points fail the first comparison with the current `keep`-th distance).
fn nearest_candidates(i: usize, gram: &[f64], norms: &[f64], keep: usize) -> Vec<(f64, u32)> {
    let mut best: Vec<(f64, u32)> = Vec::with_capacity(keep + 1);
    for (j, (&g, &norm)) in gram.iter().zip(norms).enumerate() {
        if j == i {
            continue;
        }
        let d2 = norms[i] + norm - 2.0 * g;
        if best.len() == keep && best.last().is_none_or(|w| d2 >= w.0) {
            continue;
        }
        let position = best.partition_point(|b| b.0 <= d2);
        best.insert(position, (d2, j as u32));
        best.truncate(keep);
    }
    best
}

/// `rho_i` and `sigma_i` of every point (UMAP's `smooth_knn_dist` with `local_connectivity = 1`,
/// `bandwidth = 1`).
pub fn smooth_knn_distances(nn: &Neighbors) -> (Vec<f64>, Vec<f64>) {
    const ITERATIONS: usize = 64;
    const TOLERANCE: f64 = 1e-5;
    const MIN_K_DIST_SCALE: f64 = 1e-3;
    let k = nn.k;
    let n = nn.indices.len() / k.max(1);
    let target = (k as f64).log2();
    let mean_all =
        if nn.distances.is_empty() { 0.0 } else { nn.distances.iter().sum::<f64>() / nn.distances.len() as f64 };
    let mut rhos = vec![0.0; n];
    let mut sigmas = vec![0.0; n];
    for i in 0..n {
        let row = &nn.distances[i * k..(i + 1) * k];
        let rho = row.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
        let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..ITERATIONS {
            let psum: f64 = row[1..].iter().map(|&d| if d - rho > 0.0 { (-(d - rho) / mid).exp() } else { 1.0 }).sum();
            if (psum - target).abs() < TOLERANCE {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = if hi.is_infinite() { mid * 2.0 } else { (lo + hi) / 2.0 };
            }
        }
        let floor =
            if rho > 0.0 { MIN_K_DIST_SCALE * row.iter().sum::<f64>() / k as f64 } else { MIN_K_DIST_SCALE * mean_all };
        rhos[i] = rho;
        sigmas[i] = mid.max(floor);
    }
    (rhos, sigmas)
}

/// The undirected weighted cell graph: UMAP's fuzzy simplicial set of the neighbours (see the module
/// documentation), as edges `(i, j, weight)` with `i < j`, sorted, zero weights left out.
pub fn umap_connectivities(nn: &Neighbors) -> Vec<(u32, u32, f64)> {
    let k = nn.k;
    let n = nn.indices.len() / k.max(1);
    let (rhos, sigmas) = smooth_knn_distances(nn);
    // Directed strengths keyed by the unordered pair: (low, high, strength, whether it is low -> high).
    let mut directed: Vec<(u32, u32, f64, bool)> = Vec::with_capacity(n * k);
    for i in 0..n {
        for r in 0..k {
            let j = nn.indices[i * k + r];
            if j as usize == i {
                continue;
            }
            let excess = nn.distances[i * k + r] - rhos[i];
            let w = if excess <= 0.0 || sigmas[i] == 0.0 { 1.0 } else { (-excess / sigmas[i]).exp() };
            if w > 0.0 {
                let (a, b) = if (i as u32) < j { (i as u32, j) } else { (j, i as u32) };
                directed.push((a, b, w, (i as u32) < j));
            }
        }
    }
    directed.sort_unstable_by_key(|x| (x.0, x.1, x.3));
    let mut edges: Vec<(u32, u32, f64)> = Vec::with_capacity(directed.len());
    let mut t = 0;
    while t < directed.len() {
        let (a, b, w, _) = directed[t];
        let mut union = w;
        if t + 1 < directed.len() && directed[t + 1].0 == a && directed[t + 1].1 == b {
            let other = directed[t + 1].2;
            union = w + other - w * other;
            t += 1;
        }
        t += 1;
        if union > 0.0 {
            edges.push((a, b, union));
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> Mat<f64> {
        // Points on a line at positions i^1.5, so that every distance differs.
        Mat::from_fn(n, 2, |i, c| if c == 0 { (i as f64).powf(1.5) } else { 0.0 })
    }

    #[test]
    fn brute_force_neighbors_on_a_line() {
        let points = line(10);
        let nn = knn_brute(points.as_ref(), 3).unwrap();
        for i in 0..10 {
            let row = &nn.indices[i * 3..i * 3 + 3];
            assert_eq!(row[0] as usize, i);
            // direct check against a full sort of all distances
            let mut all: Vec<(f64, usize)> = (0..10).map(|j| ((points[(i, 0)] - points[(j, 0)]).abs(), j)).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected: Vec<u32> = all.iter().take(3).map(|p| p.1 as u32).collect();
            assert_eq!(row, expected.as_slice(), "point {i}");
            assert!((nn.distances[i * 3 + 1] - all[1].0).abs() < 1e-12);
        }
        assert!(knn_brute(points.as_ref(), 11).is_err());
        assert!(knn_brute(points.as_ref(), 0).is_err());
    }

    #[test]
    fn sigma_solves_the_log2_k_equation_and_weights_are_a_fuzzy_union() {
        let points = Mat::from_fn(40, 3, |i, c| ((i * 7 + c * 13) % 11) as f64 + 0.1 * i as f64);
        let nn = knn_brute(points.as_ref(), 6).unwrap();
        let (rhos, sigmas) = smooth_knn_distances(&nn);
        for i in 0..40 {
            let row = &nn.distances[i * 6..i * 6 + 6];
            assert_eq!(rhos[i], row[1]);
            let psum: f64 = row[1..].iter().map(|&d| (-(d - rhos[i]).max(0.0) / sigmas[i]).exp()).sum();
            assert!((psum - 6f64.log2()).abs() < 1e-4, "point {i}: {psum}");
        }
        let edges = umap_connectivities(&nn);
        let weight = |i: usize, j: usize| -> f64 {
            let r = (1..6).find(|&r| nn.indices[i * 6 + r] as usize == j);
            r.map_or(0.0, |r| (-(nn.distances[i * 6 + r] - rhos[i]).max(0.0) / sigmas[i]).exp())
        };
        for &(a, b, w) in &edges {
            assert!(a < b);
            let (x, y) = (weight(a as usize, b as usize), weight(b as usize, a as usize));
            assert!((w - (x + y - x * y)).abs() < 1e-12);
            assert!(w > 0.0 && w <= 1.0);
        }
        // Every point's nearest neighbour is joined with weight 1.
        for i in 0..40 {
            let j = nn.indices[i * 6 + 1];
            let (a, b) = if (i as u32) < j { (i as u32, j) } else { (j, i as u32) };
            let e = edges.iter().find(|e| e.0 == a && e.1 == b).unwrap();
            assert!((e.2 - 1.0).abs() < 1e-12);
        }
    }
}
