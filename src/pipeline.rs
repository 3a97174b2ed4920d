//! Whole steps that combine modules: evaluate generated cells and write the report about them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::data::CountMatrix;
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, EvaluateParams, Evaluation};
use crate::report::{write_report, ReportInput};

/// An evaluation and where its report is.
#[derive(Debug)]
pub struct Assessment {
    /// The figures.
    pub evaluation: Evaluation,
    /// `index.html` of the report.
    pub index: PathBuf,
    /// A few lines with the headline figures, generated next to control.
    pub summary: String,
}

/// Evaluates `generated` against `real` (with `reference` as the real-vs-real control) and writes the HTML
/// report, `metrics.json` and the figures into `out`.
pub fn evaluate_and_report(
    real: &CountMatrix,
    generated: &CountMatrix,
    reference: Option<&CountMatrix>,
    params: &EvaluateParams,
    run_folder: Option<&Path>,
    out: &Path,
    title: &str,
) -> Result<Assessment> {
    // Checked first: a mistyped run folder would otherwise cost the whole evaluation and leave only a note in the
    // report.
    if let Some(run) = run_folder.filter(|run| !run.is_dir()) {
        return Err(Error::io(
            run,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such run folder (--run names the training run whose curves the report shows)",
            ),
        ));
    }
    // The report is a folder: an existing file there would be found only after the whole evaluation.
    if out.exists() && !out.is_dir() {
        return Err(Error::io(
            out,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "is a file; the report is written into a folder (give a new path or a folder)",
            ),
        ));
    }
    let evaluation = evaluate(real, generated, reference, params)?;
    let metrics = serde_json::to_value(&evaluation)
        .map_err(|e| Error::invalid_data(out, "metrics.json", format!("cannot be encoded: {e}")))?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let input = ReportInput {
        real,
        generated,
        reference,
        label_key: params.label_key.as_deref(),
        metrics: &metrics,
        run_folder,
        title,
        seed: params.seed,
    };
    let index = write_report(out, &input)?;
    let summary = summarize(&evaluation);
    Ok(Assessment { evaluation, index, summary })
}

/// The headline figures as text: generated next to control.
pub fn summarize(evaluation: &Evaluation) -> String {
    let generated = &evaluation.generated;
    let control = evaluation.control.as_ref();
    let mut text = String::new();
    let _ = writeln!(text, "{:<28} {:>18} {:>18}", "figure (ideal)", "real vs generated", "real vs real");
    let row = |text: &mut String, name: &str, value: f64, control: Option<f64>| {
        let control = control.map(|c| format!("{c:.3}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(text, "{name:<28} {value:>18.3} {control:>18}");
    };
    row(&mut text, "RF AUROC (0.5)", generated.rf_auroc.mean, control.map(|c| c.rf_auroc.mean));
    row(&mut text, "kNN AUROC (0.5)", generated.knn_auroc.mean, control.map(|c| c.knn_auroc.mean));
    row(&mut text, "MMD biased (control)", generated.mmd_biased, control.map(|c| c.mmd_biased));
    row(&mut text, "SCC gene means (1)", generated.scc_gene_mean, control.map(|c| c.scc_gene_mean));
    row(&mut text, "KS library size (0)", generated.ks_library_size, control.map(|c| c.ks_library_size));
    row(&mut text, "KS genes per cell (0)", generated.ks_genes_per_cell, control.map(|c| c.ks_genes_per_cell));
    if let Some(ratio) = evaluation.mmd_biased_ratio {
        let _ = writeln!(text, "MMD ratio generated / control (1 is ideal): {ratio:.2}");
    }
    let worst = evaluation
        .per_type
        .iter()
        .filter_map(|(name, t)| t.rf_auroc.map(|a| (name, a.mean)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((name, auroc)) = worst {
        let _ = writeln!(text, "worst cell type by RF AUROC: {name} ({auroc:.3})");
    }
    text
}
