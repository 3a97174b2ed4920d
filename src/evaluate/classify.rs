//! Real-vs-generated classifiers and their cross-validated AUROC.
//!
//! The cells of both sides, as rows of principal-component scores, are labelled 0 (real) and 1 (generated)
//! and split into `k` stratified folds: every fold holds about `1/k` of each class. For every fold a classifier
//! is trained on the other `k - 1` folds and scores the held-out fold with its probability of "generated"; the
//! AUROC of those scores ([`super::stats::auroc`]) is 0.5 when the classifier cannot tell the sides apart and 1
//! when it always can. Two classifiers:
//!
//! - a random forest ([`super::forest`]), the figure of the published comparisons;
//! - `k` nearest neighbours (Euclidean): the probability is the fraction of generated cells among the `k`
//!   training cells closest to the cell (scikit-learn's `KNeighborsClassifier` with uniform weights). Ties in
//!   distance are broken by training row order. Brute force: `O(n_test n_train d)`, parallel over test rows.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::forest::{mix_seed, ForestParams, RandomForest};
use super::stats::auroc;

/// Stratified fold of every row: the rows of each class are shuffled (seeded) and dealt to folds
/// `0, 1, .., n_folds - 1, 0, ..`, continuing across classes so that folds differ in size by at most one.
pub fn stratified_folds(labels: &[bool], n_folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut folds = vec![0usize; labels.len()];
    let mut next = 0usize;
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        for i in rows {
            folds[i] = next % n_folds.max(1);
            next += 1;
        }
    }
    folds
}

/// The classifier whose AUROC is cross-validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Classifier {
    /// Random forest of `n_trees` trees; tree `t` of fold `f` is seeded by `(seed, f, t)`.
    Forest {
        /// Number of trees.
        n_trees: usize,
        /// Seed of the forests.
        seed: u64,
    },
    /// `k` nearest neighbours.
    Knn {
        /// Number of neighbours.
        k: usize,
    },
}

/// Probability of class 1 for every row of `test`, from its `k` nearest rows of `train` (Euclidean; ties by
/// row order). `k` is clipped to the number of training rows.
///
/// # Panics
/// If the slices are not whole rows of `dim` values or `train` is empty.
pub fn knn_probability(train: &[f64], train_labels: &[bool], test: &[f64], dim: usize, k: usize) -> Vec<f64> {
    assert!(dim > 0 && train.len().is_multiple_of(dim) && test.len().is_multiple_of(dim), "rows of dim values");
    let n_train = train.len() / dim;
    assert!(n_train > 0 && train_labels.len() == n_train, "one label per training row");
    let k = k.clamp(1, n_train);
    test.par_chunks(dim)
        .map_init(
            || Vec::with_capacity(n_train),
            |distances: &mut Vec<(f64, usize)>, row| {
                distances.clear();
                distances.extend(
                    train
                        .chunks(dim)
                        .enumerate()
                        .map(|(j, other)| (row.iter().zip(other).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(), j)),
                );
                let by_distance = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if k < n_train {
                    distances.select_nth_unstable_by(k - 1, by_distance);
                }
                distances[..k].iter().filter(|(_, j)| train_labels[*j]).count() as f64 / k as f64
            },
        )
        .collect()
}

/// AUROC of `classifier` on each of the `n_folds` folds (`folds[i]` the fold of row `i`), for rows `x`
/// (`dim` columns) of classes `labels` (true = generated, the positive class).
///
/// # Panics
/// If the shapes disagree or a fold lacks a class in its training or test part (stratified folds of at least
/// `n_folds` rows per class never do).
pub fn cross_validated_auroc(
    x: &[f64],
    dim: usize,
    labels: &[bool],
    folds: &[usize],
    n_folds: usize,
    classifier: Classifier,
) -> Vec<f64> {
    assert!(x.len() == labels.len() * dim && folds.len() == labels.len(), "one label and fold per row");
    (0..n_folds)
        .map(|fold| {
            let mut train = Vec::new();
            let mut test = Vec::new();
            let (mut train_labels, mut test_labels) = (Vec::new(), Vec::new());
            for (i, row) in x.chunks(dim).enumerate() {
                if folds[i] == fold {
                    test.extend_from_slice(row);
                    test_labels.push(labels[i]);
                } else {
                    train.extend_from_slice(row);
                    train_labels.push(labels[i]);
                }
            }
            let scores = match classifier {
                Classifier::Forest { n_trees, seed } => {
                    let classes: Vec<u32> = train_labels.iter().map(|&l| l as u32).collect();
                    let params = ForestParams { n_trees, seed: mix_seed(seed, fold as u64), ..Default::default() };
                    let forest = RandomForest::fit(&train, dim, &classes, 2, &params);
                    forest.predict_proba(&test).chunks(2).map(|p| p[1]).collect::<Vec<f64>>()
                }
                Classifier::Knn { k } => knn_probability(&train, &train_labels, &test, dim, k),
            };
            auroc(&scores, &test_labels)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_balanced() {
        let labels: Vec<bool> = (0..103).map(|i| i % 3 == 0).collect();
        let folds = stratified_folds(&labels, 5, 1);
        for fold in 0..5 {
            let members: Vec<usize> = (0..103).filter(|&i| folds[i] == fold).collect();
            let positives = members.iter().filter(|&&i| labels[i]).count();
            assert!((20..=21).contains(&members.len()), "{}", members.len());
            assert!((6..=7).contains(&positives), "{positives}");
        }
        assert_eq!(folds, stratified_folds(&labels, 5, 1));
    }

    #[test]
    fn knn_counts_neighbours() {
        // 1-D: training points 0..10, the last 5 positive.
        let train: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let labels: Vec<bool> = (0..10).map(|i| i >= 5).collect();
        let p = knn_probability(&train, &labels, &[0.2, 9.1, 4.6], 1, 4);
        // 0.2 -> {0,1,2,3}: 0; 9.1 -> {9,8,7,6}: 1; 4.6 -> {5,4,6,3}: 2/4.
        assert_eq!(p, vec![0.0, 1.0, 0.5]);
        assert_eq!(knn_probability(&train, &labels, &[0.0], 1, 50), vec![0.5]);
    }

    #[test]
    fn cross_validation_separates_shifted_points() {
        let x: Vec<f64> = (0..200).map(|i| if i < 100 { (i % 10) as f64 } else { 20.0 + (i % 10) as f64 }).collect();
        let labels: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let folds = stratified_folds(&labels, 5, 0);
        let knn = cross_validated_auroc(&x, 1, &labels, &folds, 5, Classifier::Knn { k: 5 });
        let rf = cross_validated_auroc(&x, 1, &labels, &folds, 5, Classifier::Forest { n_trees: 10, seed: 0 });
        assert!(knn.iter().chain(&rf).all(|&a| a == 1.0), "{knn:?} {rf:?}");
    }
}
