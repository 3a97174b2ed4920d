//! Putting the data sets side by side before anything is drawn.
//!
//! Every figure compares the same genes on every side, processed identically (EVALUATION.md, "Data"):
//!
//! - genes are matched by name: the genes of the real data, in their order, that the generated data (and the
//!   reference, when given) also have; every matrix is re-indexed to that list, so library sizes and genes
//!   detected count the shared genes only;
//! - values are log-normalised, every cell scaled to 20,000 counts and then `ln(1 + x)`
//!   ([`crate::pca::log_normalize`]), for the t-SNE and the violins; the histograms use the raw values;
//! - labels are read from `obs[label_key]` on every side that has that column.

use std::collections::HashMap;

use plotters::style::RGBColor;

use super::canvas;
use super::ReportInput;
use crate::data::{CountMatrix, CsrMatrix};
use crate::error::{Error, Result};
use crate::pca::log_normalize;

/// Target library size of the log-normalisation, as in the evaluation.
pub(crate) const TARGET_SUM: f64 = 20_000.0;

/// Which data set a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The real cells generated cells are compared with (the test cells).
    Real,
    /// The generated cells.
    Generated,
    /// Other real cells (the training cells): the real-vs-real control.
    Reference,
}

impl Role {
    /// The name used in legends and tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Real => "real",
            Role::Generated => "generated",
            Role::Reference => "reference",
        }
    }

    /// The colour of this side in every figure.
    pub(crate) fn colour(self) -> RGBColor {
        match self {
            Role::Real => canvas::REAL,
            Role::Generated => canvas::GENERATED,
            Role::Reference => canvas::REFERENCE,
        }
    }
}

/// One data set, re-indexed to the shared genes.
pub(crate) struct Side {
    /// Which data set this is.
    pub role: Role,
    /// The values as given, `(n_cells, n_shared_genes)`.
    pub counts: CsrMatrix,
    /// Log-normalised values, same shape.
    pub lognorm: CsrMatrix,
    /// The label of every cell, when this side has the label column.
    pub labels: Option<Vec<Option<String>>>,
    /// File name and shape as given, for the footer.
    pub description: String,
}

impl Side {
    /// Number of cells.
    pub(crate) fn n_cells(&self) -> usize {
        self.counts.n_rows()
    }
}

/// The data sets of a report, aligned.
pub(crate) struct Prepared {
    /// The shared genes, in the real data's order.
    pub genes: Vec<String>,
    /// Real, generated, then the reference when given.
    pub sides: Vec<Side>,
    /// The label column, when the report has one.
    pub label_key: Option<String>,
    /// Things the reader should know (missing labels, dropped genes).
    pub notes: Vec<String>,
}

impl Prepared {
    /// Matches genes, log-normalises and reads labels.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when a data set has no cells, shares no gene with the real data, holds negative or
    /// non-finite values, or (for the real data) lacks the label column.
    pub(crate) fn new(input: &ReportInput) -> Result<Self> {
        let mut matrices = vec![(Role::Real, input.real), (Role::Generated, input.generated)];
        if let Some(reference) = input.reference {
            matrices.push((Role::Reference, reference));
        }
        for (role, m) in &matrices {
            if m.n_cells() == 0 {
                return Err(Error::invalid_data(
                    m.display_path(),
                    "X",
                    format!("the {} data have no cells", role.name()),
                ));
            }
            if let Some(pos) = m.x.data().iter().position(|v| !v.is_finite() || *v < 0.0) {
                return Err(Error::invalid_data(
                    m.display_path(),
                    "X",
                    format!("stored value {pos} is {}; the report expects non-negative counts", m.x.data()[pos]),
                ));
            }
        }
        let genes = shared_genes(&matrices);
        if genes.is_empty() {
            return Err(Error::invalid_data(
                input.generated.display_path(),
                "var_names",
                "no gene name in common with the real data (or the reference); genes are matched by name",
            ));
        }
        let mut notes = Vec::new();
        for (role, m) in &matrices {
            if genes.len() < m.n_genes() {
                notes.push(format!(
                    "{} of the {} genes of the {} data are not shared by every data set and are left out.",
                    m.n_genes() - genes.len(),
                    m.n_genes(),
                    role.name()
                ));
            }
        }
        let position: HashMap<&str, u32> = genes.iter().enumerate().map(|(j, g)| (g.as_str(), j as u32)).collect();
        let mut sides = Vec::with_capacity(matrices.len());
        for (role, m) in matrices {
            let counts = align(m, &position, genes.len());
            let lognorm = log_normalize(&counts, TARGET_SUM);
            let labels = match input.label_key {
                Some(key) if role == Role::Real => Some(m.labels(key)?),
                Some(key) => match m.labels(key) {
                    Ok(labels) => Some(labels),
                    Err(_) => {
                        notes.push(format!(
                            "The {} data have no obs['{key}'] column: per-type figures show them unlabelled.",
                            role.name()
                        ));
                        None
                    }
                },
                None => None,
            };
            let file = m.source.as_ref().and_then(|p| p.file_name()).map_or_else(
                || format!("{} data (in memory)", role.name()),
                |name| name.to_string_lossy().into_owned(),
            );
            let description = format!("{file}: {} cells x {} genes", m.n_cells(), m.n_genes());
            sides.push(Side { role, counts, lognorm, labels, description });
        }
        Ok(Prepared { genes, sides, label_key: input.label_key.map(str::to_string), notes })
    }

    /// The real cells.
    pub(crate) fn real(&self) -> &Side {
        &self.sides[0]
    }

    /// The side of `role`, if the report has it.
    pub(crate) fn side(&self, role: Role) -> Option<&Side> {
        self.sides.iter().find(|s| s.role == role)
    }

    /// The cell types of the real cells with their numbers of cells, largest first (ties by name). Empty
    /// without labels.
    pub(crate) fn types_by_size(&self) -> Vec<(String, usize)> {
        let Some(labels) = &self.real().labels else {
            return Vec::new();
        };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for label in labels.iter().flatten() {
            *counts.entry(label.as_str()).or_default() += 1;
        }
        let mut types: Vec<(String, usize)> = counts.into_iter().map(|(t, n)| (t.to_string(), n)).collect();
        types.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        types
    }
}

/// The real data's genes (first occurrence of each name) that every other data set also has.
fn shared_genes(matrices: &[(Role, &CountMatrix)]) -> Vec<String> {
    let others: Vec<std::collections::HashSet<&str>> =
        matrices[1..].iter().map(|(_, m)| m.var_names().iter().map(String::as_str).collect()).collect();
    let mut seen = std::collections::HashSet::new();
    matrices[0]
        .1
        .var_names()
        .iter()
        .filter(|g| others.iter().all(|set| set.contains(g.as_str())) && seen.insert(g.as_str()))
        .cloned()
        .collect()
}

/// `m.x` with its columns re-indexed to the gene list of `position` (genes it lacks stay zero, genes not in
/// the list are dropped).
fn align(m: &CountMatrix, position: &HashMap<&str, u32>, n_genes: usize) -> CsrMatrix {
    let map: Vec<Option<u32>> = m.var_names().iter().map(|g| position.get(g.as_str()).copied()).collect();
    let identity = map.len() == n_genes && map.iter().enumerate().all(|(j, p)| *p == Some(j as u32));
    if identity {
        return m.x.clone();
    }
    let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..m.n_cells() {
        let (indices, data) = m.x.row(i);
        for (&j, &v) in indices.iter().zip(data) {
            if let Some(target) = map[j as usize] {
                rows.push(i as u32);
                cols.push(target);
                values.push(v);
            }
        }
    }
    CsrMatrix::from_triplets(m.n_cells(), n_genes, &rows, &cols, &values)
}
