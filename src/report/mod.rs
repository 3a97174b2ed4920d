//! The HTML report of an evaluation: numbers, pictures and what they mean, in one file that works offline.
//!
//! [`write_report`] writes a folder:
//!
//! ```text
//! report/
//!   index.html     the report; every picture is embedded (base64 PNG), so this file alone is enough
//!   metrics.json   the evaluation's figures as given (pretty JSON), the numbers behind the tables
//!   figures/*.png  the same pictures as separate files, for slides and papers
//! ```
//!
//! ## What the page shows
//! Every figure for "real vs generated" is shown next to the same figure for "real vs reference", the
//! real-vs-real control (EVALUATION.md): the reference is a second set of real cells (the training cells),
//! the floor no generator can beat. Real cells are blue, generated orange, reference green throughout.
//!
//! 1. **Headline table**: each metric of the evaluation for generated and for the control, what it measures,
//!    its ideal value and the ratio or difference to the control; a per-type table; a glossary of the keys
//!    of `metrics.json`.
//! 2. **t-SNE** (`tsne_origin.png`, `tsne_control.png`, `tsne_types.png`): a map in which nearby cells have
//!    similar expression. Up to 1,000 cells of each data set are log-normalised, projected on 50 principal
//!    components fitted on the real cells, and embedded together by Barnes-Hut t-SNE (perplexity 30). Good
//!    generated cells mix with the real ones everywhere; islands of one colour are cells of one side with
//!    no counterpart on the other. The per-type picture shows whether generated cells of a type land where
//!    the real cells of that type are.
//! 3. **Marker genes** (`violins.png`): for each of the largest cell types, the gene most specific to it in
//!    the real cells (highest mean log-expression in the type minus the mean elsewhere), and the distribution
//!    of that gene within the type on every side, as violins (mirrored Gaussian kernel densities). A good
//!    generator reproduces both the level and the share of cells with zero counts.
//! 4. **Cell statistics** (`library_size.png`, `genes_detected.png`): histograms of the total counts and of
//!    the number of genes detected per cell, overlaid: meaningful for generators that output counts.
//! 5. **Training** (`training.png`, when a run folder is given): the losses, the validation figures and
//!    the learning rate of the run's `log.jsonl` over the steps.
//!
//! ## Example
//! ```no_run
//! use std::path::Path;
//! use scgan::{io, report};
//!
//! let real = io::read("test.h5ad", &io::ReadOptions::default())?;
//! let generated = io::read("generated.h5ad", &io::ReadOptions::default())?;
//! let metrics = serde_json::json!({ "generated": { "mmd": 0.01 }, "control": { "mmd": 0.002 } });
//! let input = report::ReportInput {
//!     real: &real,
//!     generated: &generated,
//!     reference: None,
//!     label_key: Some("cell_type"),
//!     metrics: &metrics,
//!     run_folder: Some(Path::new("runs/pbmc")),
//!     title: "PBMC, cscGAN",
//!     seed: 0,
//! };
//! let page = report::write_report(Path::new("report"), &input)?;
//! println!("open {}", page.display());
//! # Ok::<(), scgan::Error>(())
//! ```

pub(crate) mod canvas;
mod embed;
mod font;
pub(crate) mod html;
mod plots;
mod prepare;
mod tables;
mod violin;

use std::path::{Path, PathBuf};

use crate::data::CountMatrix;
use crate::error::{Error, Result};
use crate::io::write_atomically;

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The real cells generated cells are compared with (the test cells), counts.
    pub real: &'a CountMatrix,
    /// The generated cells.
    pub generated: &'a CountMatrix,
    /// Other real cells (the training cells) for the real-vs-real control figures, when available.
    pub reference: Option<&'a CountMatrix>,
    /// The `obs` column of cell types: colours the t-SNE and chooses the marker genes. Required in the real
    /// data; a generated or reference set without it is drawn unlabelled.
    pub label_key: Option<&'a str>,
    /// The evaluation's figures (the JSON of `scgan::evaluate`'s result): written to `metrics.json` and shown
    /// in the tables. Keys the report does not know are shown as they are.
    pub metrics: &'a serde_json::Value,
    /// A training run folder: its `log.jsonl` gives the loss curves.
    pub run_folder: Option<&'a Path>,
    /// The page's title.
    pub title: &'a str,
    /// Seed of the cell sampling and of the t-SNE initialisation; equal seeds give equal pictures.
    pub seed: u64,
}

/// Every picture file the report may write under `figures/`.
const FIGURE_FILES: &[&str] = &[
    "tsne_origin.png",
    "tsne_control.png",
    "tsne_types.png",
    "violins.png",
    "library_size.png",
    "genes_detected.png",
    "training.png",
];

/// One picture of the report.
pub(crate) struct Figure {
    /// File name under `figures/`.
    pub file_name: String,
    /// Short title shown above the picture.
    pub title: String,
    /// How to read it (plain text).
    pub caption: String,
    /// The PNG file.
    pub png: Vec<u8>,
    /// Whether the picture should take the page's full width.
    pub wide: bool,
}

/// A section of the page: heading, explanation, pictures side by side, and notes.
pub(crate) struct Section {
    /// HTML id (anchor).
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// What the section's pictures show and how to read them (plain text).
    pub intro: String,
    /// The pictures, in reading order; a picture and its control come one after the other.
    pub figures: Vec<Figure>,
    /// Why something is missing, or what to keep in mind (plain text).
    pub notes: Vec<String>,
}

/// Writes the report into `folder` (created if needed): `index.html`, `metrics.json` and `figures/*.png`.
/// Returns the path of `index.html`.
///
/// Every file is written atomically (temporary name, then rename). The t-SNE is the slow part (a few seconds
/// for 2,000-3,000 cells); the other figures are drawn meanwhile on another thread.
///
/// # Errors
/// [`Error::Io`] when a file cannot be written; [`Error::InvalidData`] when a data set has no cells, shares
/// no gene with the real data, holds negative values, or the real data lack `obs[label_key]`.
pub fn write_report(folder: &Path, input: &ReportInput) -> Result<PathBuf> {
    let figures_folder = folder.join("figures");
    std::fs::create_dir_all(&figures_folder).map_err(|e| Error::io(&figures_folder, e))?;
    canvas::register_fonts()?;
    let data = prepare::Prepared::new(input)?;

    let (tsne, others) = rayon::join(
        || embed::section(&data, input.seed).map_err(|e| e.in_file(&input.real.display_path())),
        || -> Result<Vec<Section>> {
            let mut sections = vec![violin::section(&data)?, plots::cell_statistics_section(&data, input.metrics)?];
            if let Some(run) = input.run_folder {
                sections.push(plots::training_section(run)?);
            }
            Ok(sections)
        },
    );
    let mut sections = vec![tsne?];
    sections.extend(others?);

    for figure in sections.iter().flat_map(|s| &s.figures) {
        let path = figures_folder.join(&figure.file_name);
        write_atomically(&path, |file| std::io::Write::write_all(file, &figure.png))?;
    }
    // A report written again into the same folder must not keep pictures of the previous one.
    for name in FIGURE_FILES {
        if !sections.iter().flat_map(|s| &s.figures).any(|f| f.file_name == *name) {
            let stale = figures_folder.join(name);
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&stale, e)),
                _ => {}
            }
        }
    }
    let metrics_path = folder.join("metrics.json");
    let metrics_text = serde_json::to_string_pretty(input.metrics)
        .map_err(|e| Error::invalid_data(&metrics_path, "json", format!("cannot be encoded: {e}")))?;
    write_atomically(&metrics_path, |file| std::io::Write::write_all(file, metrics_text.as_bytes()))?;

    let page = html::page(input, &data, &sections);
    let index = folder.join("index.html");
    write_atomically(&index, |file| std::io::Write::write_all(file, page.as_bytes()))?;
    Ok(index)
}
