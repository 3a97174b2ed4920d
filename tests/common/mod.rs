//! Helpers shared by the integration tests: running the binary, making input files, calling Python.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod tiny;
pub mod training;

use scgan::{Column, CountMatrix, CsrMatrix, Frame};

/// The embedded demo data set, as shipped in the repository.
pub fn demo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pbmc_facs_2k.h5ad")
}

/// Runs `scgan` with `args`, returning its output.
pub fn scgan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scgan")).args(args).output().expect("the scgan binary runs")
}

/// Asserts that a run failed cleanly: non-zero exit, one `error:` message containing every `needles` entry,
/// no panic.
pub fn assert_clean_failure(output: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "expected failure, got success; stderr: {stderr}");
    assert_eq!(output.status.code(), Some(1), "exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(stderr.starts_with("error: ") || stderr.contains("\nerror: "), "no error line: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    stderr
}

/// A small count matrix: `n_cells` cells of two types, `n_genes` genes, every cell expressing many genes.
pub fn small_counts(n_cells: usize, n_genes: usize) -> CountMatrix {
    let mut rows = Vec::new();
    let mut cols = Vec::new();
    let mut values = Vec::new();
    for i in 0..n_cells {
        for j in 0..n_genes {
            let v = ((i * 7 + j * 13) % 11) as f32;
            if v > 3.0 {
                rows.push(i as u32);
                cols.push(j as u32);
                values.push(v - 3.0);
            }
        }
    }
    let x = CsrMatrix::from_triplets(n_cells, n_genes, &rows, &cols, &values);
    let mut obs = Frame::new((0..n_cells).map(|i| format!("cell{i}")).collect());
    let types: Vec<String> = (0..n_cells).map(|i| if i % 3 == 0 { "B".into() } else { "T".into() }).collect();
    obs.insert("cell_type", Column::categorical_from(&types));
    let var = Frame::new((0..n_genes).map(|j| format!("gene{j}")).collect());
    CountMatrix::new(x, obs, var).expect("consistent shapes")
}

/// Whether `python3` can import all of `modules`. When it cannot and `SCGAN_REQUIRE_PYTHON=1` (set by CI),
/// the test fails instead of being skipped.
pub fn python_has(modules: &[&str]) -> bool {
    let import = format!("import {}", modules.join(", "));
    let ok = Command::new("python3").args(["-c", &import]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var("SCGAN_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!("SCGAN_REQUIRE_PYTHON=1 but python3 cannot `{import}`");
        }
        eprintln!("skipped: python3 cannot `{import}` (pip install anndata scanpy scikit-misc)");
    }
    ok
}

/// Runs a Python script with arguments; panics with its output when it fails.
pub fn python(script: &str, args: &[&str]) -> String {
    let output = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "python failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Files in `folder` (to check that a failed command left nothing behind).
pub fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}
