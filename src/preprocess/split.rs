//! Stratified train / validation / test splits.
//!
//! Every label's cells are shuffled with a seeded generator and cut into parts of `round(fraction * n)` cells
//! (at least one per requested part), so every part has every cell type in the data's proportions. The split is
//! recorded in `obs['split']` (`train`, `validation`, `test`), so one file carries all parts.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Column, CountMatrix};
use crate::error::{Error, Result};

/// Fractions of cells held out, per label.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitParams {
    /// Fraction for validation (used during training to choose the model kept).
    pub validation: f64,
    /// Fraction for a test set that training never sees.
    pub test: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

/// The names of the parts, as written in `obs['split']`.
pub const PARTS: [&str; 3] = ["train", "validation", "test"];

/// Assigns every cell a part, stratified by `labels`; writes `obs['split']` and returns the cell counts per part.
pub fn split(matrix: &mut CountMatrix, labels: &[String], label_key: &str, params: &SplitParams) -> Result<[usize; 3]> {
    for (name, value) in [("validation", params.validation), ("test", params.test)] {
        if !(0.0..1.0).contains(&value) {
            return Err(Error::parameter("--split", format!("the {name} fraction {value} must be in [0, 1)")));
        }
    }
    if params.validation + params.test >= 1.0 {
        return Err(Error::parameter("--split", "validation and test fractions must leave cells for training"));
    }
    let mut by_label: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, label) in labels.iter().enumerate() {
        by_label.entry(label).or_default().push(i);
    }
    let needed = 1 + (params.validation > 0.0) as usize + (params.test > 0.0) as usize;
    let mut codes = vec![0i32; labels.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut totals = [0usize; 3];
    for (label, mut cells) in by_label {
        let n = cells.len();
        if n < needed {
            return Err(Error::invalid_data(
                matrix.display_path(),
                format!("obs['{label_key}']"),
                format!(
                    "label '{label}' has {n} cell{}; a split into {needed} parts needs at least {needed} cells of every \
                     label (drop the label, merge it, or split with fewer parts)",
                    if n == 1 { "" } else { "s" }
                ),
            ));
        }
        cells.shuffle(&mut rng);
        let part_size = |fraction: f64| if fraction > 0.0 { ((fraction * n as f64).round() as usize).max(1) } else { 0 };
        let mut n_validation = part_size(params.validation);
        let mut n_test = part_size(params.test);
        // Small labels: give training at least one cell, taking it from the larger held-out part.
        while n_validation + n_test >= n {
            if n_test >= n_validation && n_test > 1 || n_validation <= 1 {
                n_test -= 1;
            } else {
                n_validation -= 1;
            }
        }
        for (k, &cell) in cells.iter().enumerate() {
            let part = if k < n_validation { 1 } else if k < n_validation + n_test { 2 } else { 0 };
            codes[cell] = part;
            totals[part as usize] += 1;
        }
    }
    matrix.obs.insert(
        "split",
        Column::Categorical { codes, categories: PARTS.iter().map(|s| s.to_string()).collect(), ordered: false },
    );
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{CsrMatrix, Frame};

    fn matrix(n: usize) -> CountMatrix {
        let obs = Frame::new((0..n).map(|i| format!("c{i}")).collect());
        let var = Frame::new(vec!["g".into()]);
        CountMatrix::new(CsrMatrix::zeros(n, 1), obs, var).unwrap()
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let labels: Vec<String> = (0..100).map(|i| if i < 80 { "a".into() } else { "b".into() }).collect();
        let params = SplitParams { validation: 0.1, test: 0.2, seed: 3 };
        let mut first = matrix(100);
        assert_eq!(split(&mut first, &labels, "t", &params).unwrap(), [70, 10, 20]);
        let mut second = matrix(100);
        split(&mut second, &labels, "t", &params).unwrap();
        assert_eq!(first.obs.get("split"), second.obs.get("split"));
        let Some(Column::Categorical { codes, .. }) = first.obs.get("split") else { panic!() };
        let b_in_test = (80..100).filter(|&i| codes[i] == 2).count();
        assert_eq!(b_in_test, 4);
    }

    #[test]
    fn a_label_too_small_for_the_split_is_an_error_naming_it() {
        let labels: Vec<String> = vec!["a".into(), "a".into(), "a".into(), "rare".into()];
        let params = SplitParams { validation: 0.2, test: 0.0, seed: 0 };
        let error = split(&mut matrix(4), &labels, "cell_type", &params).unwrap_err().to_string();
        assert!(error.contains("'rare' has 1 cell") && error.contains("obs['cell_type']"), "{error}");
    }
}
