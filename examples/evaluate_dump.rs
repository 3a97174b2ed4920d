//! Runs `evaluate()` and writes what it computed on, for `bench/check_evaluator.py` to recompute with
//! scikit-learn and numpy.
//!
//! ```text
//! cargo run --release --example evaluate_dump -- REAL GEN [--reference REF] [--label-key KEY] [--trees N] --out DIR
//! ```
//!
//! Writes to DIR: `evaluation.json` (the metrics), `meta.json` (`dim`, cell counts, the rows compared), `real_pcs.f64`,
//! `generated_pcs.f64` and `reference_pcs.f64` (row-major little-endian f64 scores, `dim` columns),
//! `folds.txt` and `control_folds.txt` (one fold number per row of `[real; generated]` / `[real head; reference]`).

use std::io::Write;
use std::path::{Path, PathBuf};

use scgan::evaluate::{evaluate_detailed, EvaluateParams};
use scgan::io;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn write_f64(path: &Path, values: &[f64]) -> Result<(), Error> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes)?;
    Ok(())
}

fn write_folds(path: &Path, folds: &[usize]) -> Result<(), Error> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for fold in folds {
        writeln!(file, "{fold}")?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (mut paths, mut reference, mut label_key, mut trees, mut out) = (Vec::new(), None, None, 1000usize, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reference" => reference = args.next(),
            "--label-key" => label_key = args.next(),
            "--trees" => trees = args.next().ok_or("--trees N")?.parse()?,
            "--out" => out = args.next().map(PathBuf::from),
            _ => paths.push(arg),
        }
    }
    let (Some(out), [real, generated]) = (out, paths.as_slice()) else {
        return Err("usage: evaluate_dump REAL GEN [--reference REF] [--label-key KEY] [--trees N] --out DIR".into());
    };
    let options = io::ReadOptions::default();
    let (real, generated) = (io::read(real, &options)?, io::read(generated, &options)?);
    let reference = reference.map(|p| io::read(p, &options)).transpose()?;
    let params = EvaluateParams { n_trees: trees, label_key, ..Default::default() };
    let (evaluation, details) = evaluate_detailed(&real, &generated, reference.as_ref(), &params)?;
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("evaluation.json"), serde_json::to_string_pretty(&evaluation)?)?;
    let meta = serde_json::json!({
        "dim": details.dim,
        "n_real": details.real_pcs.len() / details.dim,
        "n_generated": details.generated_pcs.len() / details.dim,
        "n_reference": details.reference_pcs.as_ref().map(|p| p.len() / details.dim),
        "real_cells": details.real_cells,
        "generated_cells": details.generated_cells,
        "reference_cells": details.reference_cells,
    });
    std::fs::write(out.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    write_f64(&out.join("real_pcs.f64"), &details.real_pcs)?;
    write_f64(&out.join("generated_pcs.f64"), &details.generated_pcs)?;
    write_folds(&out.join("folds.txt"), &details.folds)?;
    if let (Some(pcs), Some(folds)) = (&details.reference_pcs, &details.control_folds) {
        write_f64(&out.join("reference_pcs.f64"), pcs)?;
        write_folds(&out.join("control_folds.txt"), folds)?;
    }
    println!(
        "RF AUROC {:.4}, kNN {:.4}, MMD {:.6} ({:.1} s); written to {}",
        evaluation.generated.rf_auroc.mean,
        evaluation.generated.knn_auroc.mean,
        evaluation.generated.mmd,
        evaluation.seconds,
        out.display()
    );
    Ok(())
}
