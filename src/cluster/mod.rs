//! Labels for data that has none, made as the paper's pipeline made them.
//!
//! scGAN's reference labels its cells by clustering them with the standard scanpy pipeline (Zheng et al. 2017
//! recipe, then a kNN graph, then graph clustering at resolution 0.15). [`cluster_cells`] reproduces it on raw
//! counts, never densifying the count matrix:
//!
//! 1. **Normalise** every cell to the median library size ([`dispersion::median_normalization`]).
//! 2. **Select** the `n_top_genes` most dispersed genes, Cell Ranger flavour
//!    ([`dispersion::select_dispersed_genes`]: per-gene dispersion `var / mean`, normalised within 20 bins of
//!    the mean by the bin's median and MAD).
//! 3. **Restrict** the counts to those genes, renormalise every cell to the median (of the already normalised
//!    totals, as `recipe_zheng17` renormalises its normalised matrix) and take `ln(1 + x)`.
//! 4. **Scale** every gene to zero mean and unit variance, and 5. keep **50 principal components**: both in one
//!    step, [`Pca`] with `scale = true`, which centres and scales implicitly (the matrix stays sparse); exact
//!    (covariance eigendecomposition) for up to [`EXACT_PCA_MAX_GENES`] genes, as scanpy's ARPACK is.
//! 6. **Neighbours**: the 15 nearest cells (the cell itself included, as in scanpy), exact Euclidean distance
//!    on the components ([`knn::knn_brute`]).
//! 7. **Graph**: UMAP's fuzzy simplicial set ([`knn::umap_connectivities`], scanpy's default connectivities).
//! 8. **Leiden** on that weighted undirected graph, maximising modularity with a resolution parameter
//!    `gamma` (the Reichardt-Bornholdt configuration model, as scanpy's `tl.leiden`):
//!    `Q = sum_c [ e_c / m - gamma (K_c / 2m)^2 ]`, `e_c` the weight inside community `c`, `K_c` its total
//!    degree, `m` the total weight.
//!
//! ## Leiden instead of Louvain
//! The paper used Louvain. Louvain can produce communities that are badly connected, even disconnected (a
//! node that bridged two parts of its community moves out and the community falls apart; Traag, Waltman & van
//! Eck 2019); Leiden adds a refinement phase that guarantees connected communities and finds partitions of
//! at least equal quality. It optimises the same objective with the same resolution parameter and is scanpy's
//! current default (`tl.louvain` is deprecated), so labels stay comparable with the paper's.
//!
//! Clusters are numbered by decreasing size (0 = the largest; ties by the first cell), so results are
//! reproducible and readable. Everything is deterministic for a given `seed` (PCA's test matrix and Leiden's
//! node order).

pub mod dispersion;
pub mod knn;

use faer::Mat;
use leiden_rs::{GraphDataBuilder, Leiden, LeidenConfig, Partition, QualityType};

use crate::data::CsrMatrix;
use crate::error::{Error, Result};
use crate::pca::{log_normalize, Pca, PcaParams, PcaSolver};

/// Up to this many selected genes the principal components are computed exactly ([`PcaSolver::Covariance`]),
/// beyond it by randomized SVD. The kNN graph depends on all 50 components, and those of scaled log counts past
/// the first ten or so lie in a flat noise tail where randomized SVD is a few percent off: on PBMC data only
/// 57% of the graph's edges matched scanpy's (exact ARPACK) graph with the randomized solver.
pub const EXACT_PCA_MAX_GENES: usize = 4000;

/// Parameters of [`cluster_cells`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterParams {
    /// Resolution `gamma` of the modularity; larger values give more, smaller clusters. The paper used 0.15.
    pub resolution: f64,
    /// Number of dispersed genes kept (all genes with counts when there are fewer).
    pub n_top_genes: usize,
    /// Number of principal components of the neighbour search.
    pub n_pcs: usize,
    /// Neighbours per cell, the cell itself included (scanpy's `n_neighbors`).
    pub n_neighbors: usize,
    /// Seed of the PCA and of Leiden.
    pub seed: u64,
}

impl Default for ClusterParams {
    /// The paper's pipeline: resolution 0.15, 1,000 genes, 50 components, 15 neighbours, seed 0.
    fn default() -> Self {
        ClusterParams { resolution: 0.15, n_top_genes: 1000, n_pcs: 50, n_neighbors: 15, seed: 0 }
    }
}

/// The result of [`cluster_cells`].
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of every cell: 0 is the largest cluster, then by decreasing size.
    pub labels: Vec<u32>,
    /// Number of clusters.
    pub n_clusters: usize,
    /// Newman-Girvan modularity (resolution 1) of the partition on the cell graph.
    pub modularity: f64,
    /// The objective Leiden maximised: modularity at the requested resolution.
    pub quality: f64,
    /// The dispersed genes used (column indices of the input, increasing).
    pub selected_genes: Vec<usize>,
    /// The cells' principal-component scores `(n_cells, n_pcs)`: an embedding that can be reused (plots).
    pub pcs: Mat<f64>,
}

/// Clusters cells from raw counts `(n_cells, n_genes)` with the paper's pipeline (module documentation).
///
/// # Errors
/// [`Error::InvalidParameter`] for a resolution that is negative or not finite, or zero `n_top_genes`,
/// `n_pcs` or `n_neighbors`; [`Error::InvalidData`] when there are fewer than `n_neighbors + 1` cells, or the
/// counts are negative, not finite, or all zero.
pub fn cluster_cells(counts: &CsrMatrix, params: &ClusterParams) -> Result<Clustering> {
    check_params(params)?;
    let n = counts.n_rows();
    if n < params.n_neighbors + 1 {
        return Err(Error::invalid_data(
            "data",
            "clustering",
            format!(
                "{n} cells are too few to cluster with {} neighbours per cell: at least {} are needed",
                params.n_neighbors,
                params.n_neighbors + 1
            ),
        ));
    }
    // 1-2. Median normalisation and dispersed genes.
    let selected_genes = dispersion::select_dispersed_genes(counts, params.n_top_genes)?;
    // 3. Restrict, renormalise to the median of the normalised totals, log1p.
    let totals = counts.row_sums();
    let (_, factors) = dispersion::median_normalization(&totals)?;
    let mut keep = vec![false; counts.n_cols()];
    selected_genes.iter().for_each(|&j| keep[j] = true);
    let mut restricted = counts.clone();
    restricted.retain_cols(&keep);
    let restricted_totals = restricted.row_sums();
    let renormalised: Vec<f64> = restricted_totals.iter().zip(&factors).map(|(t, f)| t * f).collect();
    let mut positive: Vec<f64> = renormalised.iter().copied().filter(|&t| t > 0.0).collect();
    if positive.is_empty() {
        return Err(Error::invalid_data("data", "clustering", "no cell has counts in the selected genes"));
    }
    let target = dispersion::median(&mut positive);
    let logged = log_normalize(&restricted, target);
    drop(restricted);
    // 4-5. Scaled PCA.
    let solver =
        if selected_genes.len() <= EXACT_PCA_MAX_GENES { PcaSolver::Covariance } else { PcaSolver::Randomized };
    let pca_params =
        PcaParams { n_components: params.n_pcs, seed: params.seed, scale: true, solver, ..Default::default() };
    let (_, pcs) = Pca::fit_transform(&logged, &pca_params)?;
    drop(logged);
    // 6-7. Neighbours and fuzzy-simplicial-set graph.
    let neighbors = knn::knn_brute(pcs.as_ref(), params.n_neighbors)?;
    let edges = knn::umap_connectivities(&neighbors);
    // 8. Leiden.
    let (partition, quality, modularity) = leiden(n, &edges, params)?;
    let (labels, n_clusters) = relabel_by_size(partition.as_slice());
    Ok(Clustering { labels, n_clusters, modularity, quality, selected_genes, pcs })
}

fn check_params(params: &ClusterParams) -> Result<()> {
    if !params.resolution.is_finite() || params.resolution < 0.0 {
        return Err(Error::parameter("resolution", format!("must be finite and >= 0, got {}", params.resolution)));
    }
    for (name, value) in
        [("n_top_genes", params.n_top_genes), ("n_pcs", params.n_pcs), ("n_neighbors", params.n_neighbors)]
    {
        if value == 0 {
            return Err(Error::parameter(name, "must be at least 1"));
        }
    }
    Ok(())
}

/// Runs Leiden on the undirected graph `edges` (`i < j`, positive weights); returns the partition, its
/// quality at the requested resolution and its modularity at resolution 1.
fn leiden(n: usize, edges: &[(u32, u32, f64)], params: &ClusterParams) -> Result<(Partition, f64, f64)> {
    let fail = |e: leiden_rs::LeidenError| Error::invalid_data("data", "clustering (Leiden)", e.to_string());
    let mut builder = GraphDataBuilder::new(n);
    for &(i, j, w) in edges {
        builder.add_edge(i as usize, j as usize, w).map_err(fail)?;
    }
    let graph = builder.build().map_err(fail)?;
    let config = LeidenConfig::builder()
        .quality(QualityType::RBConfiguration)
        .resolution(params.resolution)
        .seed(params.seed)
        .build();
    let output = Leiden::new(config).run(&graph).map_err(fail)?;
    let modularity = leiden_rs::compute_modularity(&graph, &output.partition);
    Ok((output.partition, output.quality, modularity))
}

/// Renumbers community ids `0..` by decreasing community size, ties by first appearance; returns the labels
/// and the number of communities.
pub fn relabel_by_size(communities: &[usize]) -> (Vec<u32>, usize) {
    // (size, first cell) per original id
    let mut stats: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
    for (cell, &c) in communities.iter().enumerate() {
        stats.entry(c).or_insert((0, cell)).0 += 1;
    }
    let mut order: Vec<(usize, usize, usize)> = stats.iter().map(|(&c, &(size, first))| (size, first, c)).collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let new_id: std::collections::HashMap<usize, u32> =
        order.iter().enumerate().map(|(rank, &(_, _, c))| (c, rank as u32)).collect();
    (communities.iter().map(|c| new_id[c]).collect(), order.len())
}

#[cfg(test)]
mod tests;
