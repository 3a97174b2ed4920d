//! A random forest classifier with class probabilities, as scikit-learn's `RandomForestClassifier` defaults.
//!
//! ## The model (Breiman 2001)
//! Each of `n_trees` trees is grown on a bootstrap sample of the `n` training rows (`n` draws with
//! replacement; a row drawn `w` times has weight `w`). At every node, `max_features` features (default
//! `floor(sqrt(d))`, 7 of 50 principal components) are drawn without replacement, and the split
//! `x_f <= t` that most decreases the weighted Gini impurity is taken among them:
//!
//! ```text
//! gini(node) = 1 - sum_k p_k^2,       p_k = (weight of class k) / (weight of the node)
//! decrease   = W gini(node) - W_L gini(left) - W_R gini(right)
//! ```
//!
//! Maximising the decrease is maximising the proxy `sum_k c_Lk^2 / W_L + sum_k c_Rk^2 / W_R` (`c` the class
//! weights, `W` their sums), which a scan over the sorted values updates in O(1) per row. Trees are grown to
//! purity: a node becomes a leaf only when it holds one class, fewer than `2 * min_samples_leaf` distinct rows,
//! or no feature varies within it (sklearn: `max_depth=None`, `min_samples_split=2`, `min_samples_leaf=1`).
//! As in sklearn, features found constant in a node are skipped without counting towards `max_features`.
//!
//! ## Probabilities
//! A leaf stores its weighted class fractions; the forest's probability of class `k` for a row is the mean
//! over trees of the fraction in the leaf the row falls into (sklearn's `predict_proba`, not a vote count).
//!
//! ## Exact splits without per-node sorting of floats
//! Every feature is replaced once, per forest, by the dense rank of its value among the training rows
//! (`u32`, ties sharing a rank). A split on ranks is a split on values, so nothing is approximated (unlike
//! histogram binning): thresholds are placed, as in sklearn, halfway between the two adjacent distinct values
//! of the node. At a node, a candidate feature's rows are sorted as packed `u64` keys `rank << 32 | row`,
//! which is several times faster than sorting `(f64, row)` pairs and keeps the sorted order of the best
//! feature, which *is* the partition of the node's rows into the two children. The expected cost per tree is
//! `O(max_features n log^2 n)`; 1,600 rows x 50 features take a few milliseconds.
//!
//! ## Determinism
//! Tree `t` draws its bootstrap and features from its own ChaCha8 generator seeded by `(seed, t)`, so a forest
//! is the same for a given seed whatever the number of threads; trees are built in parallel with rayon.
//! The streams differ from sklearn's, so the two agree in distribution, not tree by tree.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Settings of [`RandomForest::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Features tried per split; `None` for `floor(sqrt(n_features))` (at least 1).
    pub max_features: Option<usize>,
    /// Minimum number of distinct training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Grow every tree on a bootstrap sample (otherwise on all rows, each of weight 1).
    pub bootstrap: bool,
    /// Seed of the trees' generators.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { n_trees: 1000, max_features: None, min_samples_leaf: 1, bootstrap: true, seed: 0 }
    }
}

/// Mixes two numbers into a seed (SplitMix64 finaliser of their combination): independent streams for
/// `(seed, fold)`, `(seed, tree)` and the like.
pub fn mix_seed(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const LEAF: u32 = u32::MAX;

/// One node: an internal node tests `x[feature] <= threshold`; a leaf has `feature == LEAF` and `left` is the
/// offset of its class fractions in the tree's `leaf_values`.
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    left: u32,
    right: u32,
    threshold: f64,
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
    leaf_values: Vec<f64>,
}

impl Tree {
    /// Offset in `leaf_values` of the class fractions of the leaf that `row` falls into.
    fn leaf(&self, row: &[f64]) -> usize {
        let mut id = 0usize;
        loop {
            let node = &self.nodes[id];
            if node.feature == LEAF {
                return node.left as usize;
            }
            id = if row[node.feature as usize] <= node.threshold { node.left } else { node.right } as usize;
        }
    }
}

/// Training rows as ranks: `rank[f * n + i]` is the dense rank of row `i` in feature `f`, and `values[f]` the
/// sorted distinct values of feature `f` (so `values[f][rank]` is the value back).
struct Ranked {
    n: usize,
    rank: Vec<u32>,
    values: Vec<Vec<f64>>,
}

impl Ranked {
    fn new(x: &[f64], n_features: usize) -> Ranked {
        let n = x.len() / n_features;
        let columns: Vec<(Vec<u32>, Vec<f64>)> = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| x[a * n_features + f].total_cmp(&x[b * n_features + f]));
                let mut rank = vec![0u32; n];
                let mut values: Vec<f64> = Vec::new();
                for &i in &order {
                    let v = x[i * n_features + f];
                    if values.last() != Some(&v) {
                        values.push(v);
                    }
                    rank[i] = (values.len() - 1) as u32;
                }
                (rank, values)
            })
            .collect();
        let mut rank = Vec::with_capacity(n * n_features);
        let mut values = Vec::with_capacity(n_features);
        for (r, v) in columns {
            rank.extend(r);
            values.push(v);
        }
        Ranked { n, rank, values }
    }
}

/// Fitted forest.
#[derive(Debug, Clone)]
pub struct RandomForest {
    trees: Vec<Tree>,
    n_features: usize,
    n_classes: usize,
}

/// What a tree is grown from.
struct Problem<'a> {
    data: &'a Ranked,
    labels: &'a [u32],
    n_classes: usize,
    max_features: usize,
    min_samples_leaf: usize,
    bootstrap: bool,
}

/// The best split found so far at a node.
struct Split {
    proxy: f64,
    feature: usize,
    /// Number of the node's distinct rows going left.
    n_left: usize,
    threshold: f64,
}

fn grow_tree(problem: &Problem, rng: &mut ChaCha8Rng) -> Tree {
    let (n, n_features, k) = (problem.data.n, problem.data.values.len(), problem.n_classes);
    let mut weight = vec![0u32; n];
    if problem.bootstrap {
        for _ in 0..n {
            weight[rng.random_range(0..n)] += 1;
        }
    } else {
        weight.fill(1);
    }
    let mut samples: Vec<u32> = (0..n as u32).filter(|&i| weight[i as usize] > 0).collect();
    let mut features: Vec<usize> = (0..n_features).collect();
    let (mut keys, mut best_keys) =
        (Vec::<u64>::with_capacity(samples.len()), Vec::<u64>::with_capacity(samples.len()));
    let (mut left, mut right, mut totals) = (vec![0.0f64; k], vec![0.0f64; k], vec![0.0f64; k]);
    let mut nodes = vec![Node { feature: LEAF, left: 0, right: 0, threshold: 0.0 }];
    let mut leaf_values = Vec::new();
    let mut stack = vec![(0usize, samples.len(), 0usize)];
    while let Some((start, end, id)) = stack.pop() {
        totals.fill(0.0);
        for &s in &samples[start..end] {
            totals[problem.labels[s as usize] as usize] += weight[s as usize] as f64;
        }
        let total: f64 = totals.iter().sum();
        let pure = totals.iter().filter(|&&c| c > 0.0).count() <= 1;
        let mut best: Option<Split> = None;
        if !pure && end - start >= 2 * problem.min_samples_leaf.max(1) {
            let parent_sq: f64 = totals.iter().map(|c| c * c).sum();
            let (mut drawn, mut visited) = (0usize, 0usize);
            while drawn < n_features && visited < problem.max_features {
                let j = rng.random_range(drawn..n_features);
                features.swap(drawn, j);
                let f = features[drawn];
                drawn += 1;
                let ranks = &problem.data.rank[f * n..(f + 1) * n];
                keys.clear();
                keys.extend(samples[start..end].iter().map(|&s| (ranks[s as usize] as u64) << 32 | s as u64));
                keys.sort_unstable();
                let rank_of = |key: u64| (key >> 32) as usize;
                if rank_of(keys[0]) == rank_of(keys[keys.len() - 1]) {
                    continue; // constant in this node: does not count towards max_features
                }
                visited += 1;
                left.fill(0.0);
                right.copy_from_slice(&totals);
                let (mut sq_left, mut sq_right, mut w_left) = (0.0, parent_sq, 0.0);
                let mut improved = false;
                let m = keys.len();
                for p in 0..m - 1 {
                    let s = keys[p] as u32 as usize;
                    let (w, c) = (weight[s] as f64, problem.labels[s] as usize);
                    sq_left += w * (2.0 * left[c] + w);
                    left[c] += w;
                    sq_right -= w * (2.0 * right[c] - w);
                    right[c] -= w;
                    w_left += w;
                    let (r, r_next) = (rank_of(keys[p]), rank_of(keys[p + 1]));
                    if r == r_next || p + 1 < problem.min_samples_leaf || m - p - 1 < problem.min_samples_leaf {
                        continue;
                    }
                    let proxy = sq_left / w_left + sq_right / (total - w_left);
                    if best.as_ref().is_none_or(|b| proxy > b.proxy) {
                        let values = &problem.data.values[f];
                        let (lo, hi) = (values[r], values[r_next]);
                        let mut threshold = lo / 2.0 + hi / 2.0;
                        if threshold >= hi || !threshold.is_finite() {
                            threshold = lo;
                        }
                        best = Some(Split { proxy, feature: f, n_left: p + 1, threshold });
                        improved = true;
                    }
                }
                if improved {
                    std::mem::swap(&mut keys, &mut best_keys);
                }
            }
        }
        match best {
            None => {
                nodes[id] = Node { feature: LEAF, left: leaf_values.len() as u32, right: 0, threshold: 0.0 };
                leaf_values.extend(totals.iter().map(|c| c / total));
            }
            Some(split) => {
                for (slot, key) in samples[start..end].iter_mut().zip(&best_keys) {
                    *slot = *key as u32;
                }
                let (left_id, right_id) = (nodes.len(), nodes.len() + 1);
                nodes.push(Node { feature: LEAF, left: 0, right: 0, threshold: 0.0 });
                nodes.push(Node { feature: LEAF, left: 0, right: 0, threshold: 0.0 });
                nodes[id] = Node {
                    feature: split.feature as u32,
                    left: left_id as u32,
                    right: right_id as u32,
                    threshold: split.threshold,
                };
                stack.push((start + split.n_left, end, right_id));
                stack.push((start, start + split.n_left, left_id));
            }
        }
    }
    Tree { nodes, leaf_values }
}

impl RandomForest {
    /// Grows a forest on `x` (row-major, `n_features` columns) with class `labels[i]` in `0..n_classes`.
    ///
    /// # Panics
    /// If `x` is not a whole number of rows, `labels` does not have one entry per row, a label is out of
    /// range, there are no rows, or `n_features` is 0 (caller bugs: the evaluator builds these itself).
    pub fn fit(x: &[f64], n_features: usize, labels: &[u32], n_classes: usize, params: &ForestParams) -> RandomForest {
        assert!(n_features > 0 && x.len().is_multiple_of(n_features), "x must be rows of n_features values");
        let n = x.len() / n_features;
        assert!(n > 0 && labels.len() == n, "one label per row, at least one row");
        assert!(labels.iter().all(|&l| (l as usize) < n_classes), "labels must be below n_classes");
        assert!(n < u32::MAX as usize, "at most 2^32 - 1 rows");
        let data = Ranked::new(x, n_features);
        let max_features =
            params.max_features.unwrap_or_else(|| (n_features as f64).sqrt().floor() as usize).clamp(1, n_features);
        let problem = Problem {
            data: &data,
            labels,
            n_classes,
            max_features,
            min_samples_leaf: params.min_samples_leaf.max(1),
            bootstrap: params.bootstrap,
        };
        let trees = (0..params.n_trees)
            .into_par_iter()
            .map(|t| grow_tree(&problem, &mut ChaCha8Rng::seed_from_u64(mix_seed(params.seed, t as u64))))
            .collect();
        RandomForest { trees, n_features, n_classes }
    }

    /// Class probabilities of every row of `x` (row-major, as in `fit`): `(n_rows, n_classes)` row-major, the
    /// mean over trees of the class fractions in the leaf each row reaches.
    ///
    /// # Panics
    /// If `x` is not a whole number of rows of the training width.
    pub fn predict_proba(&self, x: &[f64]) -> Vec<f64> {
        let (d, k) = (self.n_features, self.n_classes);
        assert!(x.len().is_multiple_of(d), "x must be rows of n_features values");
        let n_trees = self.trees.len().max(1) as f64;
        let mut out = vec![0.0; x.len() / d * k];
        out.par_chunks_mut(k).zip(x.par_chunks(d)).for_each(|(probabilities, row)| {
            for tree in &self.trees {
                let leaf = tree.leaf(row);
                probabilities.iter_mut().zip(&tree.leaf_values[leaf..leaf + k]).for_each(|(p, v)| *p += v);
            }
            probabilities.iter_mut().for_each(|p| *p /= n_trees);
        });
        out
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Mean number of nodes per tree (a measure of how hard the classes were to separate).
    pub fn mean_nodes(&self) -> f64 {
        self.trees.iter().map(|t| t.nodes.len()).sum::<usize>() as f64 / self.trees.len().max(1) as f64
    }

    /// Class fractions of the leaf of one tree (for tests).
    #[cfg(test)]
    fn tree_leaf(&self, tree: usize, row: &[f64]) -> Vec<f64> {
        let leaf = self.trees[tree].leaf(row);
        self.trees[tree].leaf_values[leaf..leaf + self.n_classes].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::stats::auroc;
    use rand_distr::{Distribution, StandardNormal};

    fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * d)
            .map(|i| {
                let z: f64 = StandardNormal.sample(&mut rng);
                z + if i % d == 0 { shift } else { 0.0 }
            })
            .collect()
    }

    fn two_classes(shift: f64, n: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut x = gaussian(n, 10, 0.0, seed);
        x.extend(gaussian(n, 10, shift, seed + 1));
        let labels = (0..2 * n).map(|i| (i >= n) as u32).collect();
        (x, labels)
    }

    fn test_auroc(forest: &RandomForest, shift: f64) -> f64 {
        let (x, labels) = two_classes(shift, 300, 99);
        let p = forest.predict_proba(&x);
        let scores: Vec<f64> = p.chunks(2).map(|c| c[1]).collect();
        auroc(&scores, &labels.iter().map(|&l| l == 1).collect::<Vec<_>>())
    }

    #[test]
    fn separable_classes_are_separated() {
        let (x, labels) = two_classes(8.0, 200, 1);
        let params = ForestParams { n_trees: 50, seed: 3, ..Default::default() };
        let forest = RandomForest::fit(&x, 10, &labels, 2, &params);
        assert_eq!(test_auroc(&forest, 8.0), 1.0);
        // Every training row is in-bag for about 63% of the trees, where it falls into a pure leaf of its class.
        let p = forest.predict_proba(&x);
        let worst = p.chunks(2).zip(&labels).map(|(c, &l)| c[l as usize]).fold(1.0, f64::min);
        assert!(worst > 0.63, "{worst}");
        let sums: Vec<f64> = p.chunks(2).map(|c| c[0] + c[1]).collect();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-12));
    }

    #[test]
    fn pure_noise_gives_about_one_half() {
        let (x, labels) = two_classes(0.0, 300, 5);
        let params = ForestParams { n_trees: 100, seed: 3, ..Default::default() };
        let forest = RandomForest::fit(&x, 10, &labels, 2, &params);
        let a = test_auroc(&forest, 0.0);
        assert!((a - 0.5).abs() < 0.07, "{a}");
        // And a moderate shift is detected.
        let (x, labels) = two_classes(1.0, 300, 7);
        let forest = RandomForest::fit(&x, 10, &labels, 2, &params);
        let a = test_auroc(&forest, 1.0);
        assert!(a > 0.65 && a < 0.9, "{a}");
    }

    #[test]
    fn deterministic_per_seed_and_independent_of_threads() {
        let (x, labels) = two_classes(1.0, 100, 2);
        let params = ForestParams { n_trees: 20, seed: 11, ..Default::default() };
        let a = RandomForest::fit(&x, 10, &labels, 2, &params).predict_proba(&x);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let b = pool.install(|| RandomForest::fit(&x, 10, &labels, 2, &params).predict_proba(&x));
        assert_eq!(a, b);
        let c = RandomForest::fit(&x, 10, &labels, 2, &ForestParams { seed: 12, ..params }).predict_proba(&x);
        assert_ne!(a, c);
    }

    #[test]
    fn single_tree_without_bootstrap_is_exact_cart() {
        // One feature, no bootstrap, all features tried: the tree separates 1,2 | 3,4 at 2.5 and is pure.
        let x = [1.0, 2.0, 3.0, 4.0, 3.0];
        let labels = [0, 0, 1, 1, 1];
        let params = ForestParams { n_trees: 1, bootstrap: false, seed: 0, ..Default::default() };
        let forest = RandomForest::fit(&x, 1, &labels, 2, &params);
        assert_eq!(forest.trees[0].nodes[0].threshold, 2.5);
        assert_eq!(forest.tree_leaf(0, &[2.4]), vec![1.0, 0.0]);
        assert_eq!(forest.tree_leaf(0, &[2.6]), vec![0.0, 1.0]);
        // Identical rows of different classes cannot be split: the leaf keeps the fractions.
        let forest = RandomForest::fit(&[1.0, 1.0, 1.0, 2.0], 1, &[0, 1, 1, 0], 2, &params);
        assert_eq!(forest.tree_leaf(0, &[1.0]), vec![1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(forest.tree_leaf(0, &[2.0]), vec![1.0, 0.0]);
    }

    #[test]
    fn three_classes() {
        let mut x = gaussian(100, 4, 0.0, 1);
        x.extend(gaussian(100, 4, 6.0, 2));
        x.extend(gaussian(100, 4, -6.0, 3));
        let labels: Vec<u32> = (0..300).map(|i| (i / 100) as u32).collect();
        let forest = RandomForest::fit(&x, 4, &labels, 3, &ForestParams { n_trees: 30, ..Default::default() });
        let p = forest.predict_proba(&[0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0, -6.0, 0.0, 0.0, 0.0]);
        assert!(p[0] > 0.8 && p[4] > 0.8 && p[8] > 0.8, "{p:?}");
    }
}
