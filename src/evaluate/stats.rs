//! Rank statistics and distribution distances: AUROC, Spearman and Pearson correlation, the two-sample
//! Kolmogorov-Smirnov statistic, total variation distance, mean and standard deviation.
//!
//! ## Mid-ranks
//! Sorting `n` values and numbering them `1..=n` leaves tied values with different ranks. Mid-ranks give every
//! member of a group of ties the average of the positions the group occupies: the values `[3, 1, 3, 2]` get
//! ranks `[3.5, 1, 3.5, 2]`. Both the AUROC and the Spearman correlation use them, so ties are neither rewarded
//! nor punished.
//!
//! ## AUROC (Mann-Whitney)
//! The area under the ROC curve is the probability that a random positive scores higher than a random
//! negative, ties counting one half. With `R+` the sum of the mid-ranks of the `n+` positives among all
//! `n+ + n-` scores,
//!
//! ```text
//! AUROC = (R+ - n+ (n+ + 1) / 2) / (n+ n-)
//! ```
//!
//! which is exactly `P(s+ > s-) + P(s+ = s-) / 2` (scikit-learn's `roc_auc_score` gives the same number).
//!
//! ## Spearman and Pearson
//! Pearson: `r = sum (x - mx)(y - my) / sqrt(sum (x - mx)^2 sum (y - my)^2)`. Spearman is Pearson of the
//! mid-ranks (as `scipy.stats.spearmanr`). A constant vector has no defined correlation: both return `NaN`.
//!
//! ## Kolmogorov-Smirnov
//! `D = sup_t |F1(t) - F2(t)|` over the empirical distribution functions. The supremum is reached just after
//! one of the observed values, so both sorted samples are walked together and `D` is evaluated after all
//! copies of each distinct value (on both sides) have been passed, which handles ties as
//! `scipy.stats.ks_2samp` does.

/// Mid-ranks (1-based) of `values`; ties share the mean of the positions they occupy. `NaN`s sort last.
pub fn mid_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start+1 ..= end (1-based): their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = rank);
        start = end;
    }
    ranks
}

/// Area under the ROC curve of `scores` for the classes `positive` (true = positive), by the Mann-Whitney
/// formula with mid-ranks. `NaN` when one class is absent.
///
/// # Panics
/// If the slices differ in length.
pub fn auroc(scores: &[f64], positive: &[bool]) -> f64 {
    assert_eq!(scores.len(), positive.len(), "one class per score");
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let ranks = mid_ranks(scores);
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, &p)| p).map(|(r, _)| r).sum();
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Pearson correlation of `x` and `y`; `NaN` when either is constant or they have fewer than 2 entries.
///
/// # Panics
/// If the slices differ in length.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "paired values");
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman rank correlation: Pearson of the mid-ranks.
///
/// # Panics
/// If the slices differ in length.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&mid_ranks(x), &mid_ranks(y))
}

/// Two-sample Kolmogorov-Smirnov statistic `sup |F1 - F2|`, in `[0, 1]`; `NaN` if a sample is empty.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() || j < b.len() {
        // The next distinct value on either side; pass every copy of it on both sides.
        let t = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= t {
            i += 1;
        }
        while j < b.len() && b[j] <= t {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Total variation distance `1/2 sum_k |p_k - q_k|` between two distributions given as counts per category
/// (categories missing on one side count 0 there). 0 for identical proportions, 1 for disjoint support.
pub fn total_variation<'a>(
    p: &std::collections::BTreeMap<&'a str, usize>,
    q: &std::collections::BTreeMap<&'a str, usize>,
) -> f64 {
    let (np, nq) = (p.values().sum::<usize>() as f64, q.values().sum::<usize>() as f64);
    if np == 0.0 || nq == 0.0 {
        return f64::NAN;
    }
    let keys: std::collections::BTreeSet<&&str> = p.keys().chain(q.keys()).collect();
    keys.iter()
        .map(|k| {
            let a = p.get(**k).copied().unwrap_or(0) as f64 / np;
            let b = q.get(**k).copied().unwrap_or(0) as f64 / nq;
            (a - b).abs()
        })
        .sum::<f64>()
        / 2.0
}

/// Mean and sample standard deviation (`n - 1` denominator; 0 for a single value) of `values`.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_ranks_average_ties() {
        assert_eq!(mid_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(mid_ranks(&[5.0, 5.0, 5.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn auroc_counts_ties_as_half() {
        // Pairs (pos, neg): (0.8 vs 0.2) win, (0.8 vs 0.5) win, (0.5 vs 0.2) win, (0.5 vs 0.5) tie -> 3.5 / 4.
        let scores = [0.8, 0.5, 0.5, 0.2];
        let positive = [true, true, false, false];
        assert!((auroc(&scores, &positive) - 0.875).abs() < 1e-12);
        // All scores equal: 0.5 exactly; perfect separation: 1; reversed: 0.
        assert_eq!(auroc(&[0.3; 6], &[true, false, true, false, true, false]), 0.5);
        assert_eq!(auroc(&[0.9, 0.8, 0.1, 0.0], &positive), 1.0);
        assert_eq!(auroc(&[0.0, 0.1, 0.8, 0.9], &positive), 0.0);
        assert!(auroc(&[0.1, 0.2], &[true, true]).is_nan());
        // sklearn: roc_auc_score([1,0,1,0,1,0,0], [.5,.5,.7,.1,.2,.7,.2]) = 0.625
        let y = [true, false, true, false, true, false, false];
        let s = [0.5, 0.5, 0.7, 0.1, 0.2, 0.7, 0.2];
        assert!((auroc(&s, &y) - 0.625).abs() < 1e-12, "{}", auroc(&s, &y));
    }

    #[test]
    fn spearman_with_ties_matches_scipy() {
        // scipy.stats.spearmanr([1, 2, 2, 3, 4], [1, 3, 2, 2, 5]).statistic = 0.7631578947368421
        let r = spearman(&[1.0, 2.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 2.0, 5.0]);
        assert!((r - 0.763_157_894_736_842_1).abs() < 1e-12, "{r}");
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 400.0]) - 1.0).abs() < 1e-12);
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.997_948_715_788_673_2).abs() < 1e-12);
    }

    #[test]
    fn ks_on_known_samples() {
        // scipy.stats.ks_2samp([1, 2, 3, 4], [3, 4, 5, 6, 7, 8]).statistic = 0.6666666666666666
        let d = ks_statistic(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert!((d - 2.0 / 3.0).abs() < 1e-12, "{d}");
        // Ties across samples: ks_2samp([0, 0, 1, 1], [0, 1, 1, 1]).statistic = 0.25
        assert!((ks_statistic(&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 1.0, 1.0]) - 0.25).abs() < 1e-12);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[2.0, 1.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
    }

    #[test]
    fn total_variation_and_mean_sd() {
        let p: std::collections::BTreeMap<&str, usize> = [("a", 5), ("b", 5)].into_iter().collect();
        let q: std::collections::BTreeMap<&str, usize> = [("a", 2), ("c", 2)].into_iter().collect();
        assert!((total_variation(&p, &q) - 0.5).abs() < 1e-12);
        assert_eq!(total_variation(&p, &p), 0.0);
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.290_994_448_735_805_6).abs() < 1e-12);
    }
}
