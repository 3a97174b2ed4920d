//! Annotation tables: one row per cell (`obs`) or per gene (`var`), as in AnnData.
//!
//! A [`Frame`] is an index of unique names plus named [`Column`]s of equal length. Columns keep the kinds that
//! h5ad stores (categorical, string, float, integer, boolean) so that a file read and written again keeps its
//! annotations as they were.

use std::collections::{HashMap, HashSet};

/// One annotation column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// A pandas categorical: `codes[i]` indexes `categories`, -1 is missing.
    Categorical {
        /// Code of every row; -1 for a missing value.
        codes: Vec<i32>,
        /// The distinct values, in the order the codes refer to.
        categories: Vec<String>,
        /// Whether the categories have an order.
        ordered: bool,
    },
    /// Free text.
    Str(Vec<String>),
    /// Floating-point numbers (NaN is missing).
    Float(Vec<f64>),
    /// Integers.
    Int(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Categorical { codes, .. } => codes.len(),
            Column::Str(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A categorical column from text values, with the categories sorted as pandas sorts them.
    pub fn categorical_from<S: AsRef<str>>(values: &[S]) -> Column {
        let mut categories: Vec<String> = values
            .iter()
            .map(|v| v.as_ref().to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        categories.sort();
        let position: HashMap<&str, i32> =
            categories.iter().enumerate().map(|(k, c)| (c.as_str(), k as i32)).collect();
        let codes = values.iter().map(|v| position[v.as_ref()]).collect();
        Column::Categorical { codes, categories, ordered: false }
    }

    /// The value of every row as text (missing values as `None`), whatever the column's kind. Used to treat
    /// any column as labels.
    pub fn to_labels(&self) -> Vec<Option<String>> {
        match self {
            Column::Categorical { codes, categories, .. } => codes
                .iter()
                .map(|&c| if c < 0 { None } else { categories.get(c as usize).cloned() })
                .collect(),
            Column::Str(v) => v.iter().map(|s| Some(s.clone())).collect(),
            Column::Float(v) => v.iter().map(|x| if x.is_nan() { None } else { Some(format!("{x}")) }).collect(),
            Column::Int(v) => v.iter().map(|x| Some(x.to_string())).collect(),
            Column::Bool(v) => v.iter().map(|x| Some(x.to_string())).collect(),
        }
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Column {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i].clone()).collect()
        }
        match self {
            Column::Categorical { codes, categories, ordered } => {
                Column::Categorical { codes: pick(codes, rows), categories: categories.clone(), ordered: *ordered }
            }
            Column::Str(v) => Column::Str(pick(v, rows)),
            Column::Float(v) => Column::Float(pick(v, rows)),
            Column::Int(v) => Column::Int(pick(v, rows)),
            Column::Bool(v) => Column::Bool(pick(v, rows)),
        }
    }

    /// A short name of the column's kind, for messages and `scgan info`.
    pub fn kind(&self) -> &'static str {
        match self {
            Column::Categorical { .. } => "categorical",
            Column::Str(_) => "string",
            Column::Float(_) => "float",
            Column::Int(_) => "integer",
            Column::Bool(_) => "boolean",
        }
    }
}

/// A table with a name per row (`index`) and named columns of the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    index: Vec<String>,
    columns: Vec<(String, Column)>,
}

impl Frame {
    /// A table with the given row names and no columns.
    pub fn new(index: Vec<String>) -> Self {
        Frame { index, columns: Vec::new() }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Row names.
    pub fn index(&self) -> &[String] {
        &self.index
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[(String, Column)] {
        &self.columns
    }

    /// Column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// The column called `name`.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// Adds a column, replacing one of the same name in place.
    ///
    /// # Panics
    /// If the column's length differs from the table's.
    pub fn insert(&mut self, name: &str, column: Column) {
        assert_eq!(column.len(), self.len(), "column {name} must have one value per row");
        match self.columns.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = column,
            None => self.columns.push((name.to_string(), column)),
        }
    }

    /// Removes the column called `name`, if there is one.
    pub fn remove(&mut self, name: &str) -> Option<Column> {
        let position = self.columns.iter().position(|(n, _)| n == name)?;
        Some(self.columns.remove(position).1)
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Frame {
        Frame {
            index: rows.iter().map(|&i| self.index[i].clone()).collect(),
            columns: self.columns.iter().map(|(n, c)| (n.clone(), c.select(rows))).collect(),
        }
    }

    /// Makes the index unique the way anndata's `var_names_make_unique` does: the second `A` becomes `A-1`,
    /// the third `A-2`, skipping names already taken. Returns how many names were changed.
    pub fn make_index_unique(&mut self) -> usize {
        let mut seen: HashSet<String> = HashSet::with_capacity(self.index.len());
        let mut duplicated: HashSet<String> = HashSet::new();
        for name in &self.index {
            if !seen.insert(name.clone()) {
                duplicated.insert(name.clone());
            }
        }
        if duplicated.is_empty() {
            return 0;
        }
        let mut taken: HashSet<String> = self.index.iter().cloned().collect();
        let mut next_suffix: HashMap<String, usize> = HashMap::new();
        let mut first_seen: HashSet<String> = HashSet::new();
        let mut changed = 0;
        for name in self.index.iter_mut() {
            if !duplicated.contains(name.as_str()) || first_seen.insert(name.clone()) {
                continue;
            }
            let suffix = next_suffix.entry(name.clone()).or_insert(1);
            let mut candidate = format!("{name}-{suffix}");
            while taken.contains(&candidate) {
                *suffix += 1;
                candidate = format!("{name}-{suffix}");
            }
            *suffix += 1;
            taken.insert(candidate.clone());
            *name = candidate;
            changed += 1;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_unique_matches_anndata() {
        let mut frame = Frame::new(["A", "B", "A", "A-1", "A"].iter().map(|s| s.to_string()).collect());
        assert_eq!(frame.make_index_unique(), 2);
        assert_eq!(frame.index(), &["A", "B", "A-2", "A-1", "A-3"]);
    }

    #[test]
    fn categorical_from_sorts_categories() {
        let column = Column::categorical_from(&["b", "a", "b"]);
        assert_eq!(
            column,
            Column::Categorical { codes: vec![1, 0, 1], categories: vec!["a".into(), "b".into()], ordered: false }
        );
        assert_eq!(column.to_labels()[2].as_deref(), Some("b"));
    }

    #[test]
    fn select_and_insert() {
        let mut frame = Frame::new(vec!["c1".into(), "c2".into()]);
        frame.insert("n", Column::Int(vec![1, 2]));
        frame.insert("n", Column::Int(vec![3, 4]));
        assert_eq!(frame.columns().len(), 1);
        let picked = frame.select(&[1, 1]);
        assert_eq!(picked.get("n"), Some(&Column::Int(vec![4, 4])));
        assert_eq!(picked.index(), &["c2", "c2"]);
    }
}
