//! `scgan demo`: the whole story on the embedded PBMC data set, with no arguments and no network.
//!
//! The data set is compiled into the binary ([`PBMC_FACS_2K`]): 3,774 FACS-sorted peripheral blood cells of
//! 10 types x 2,000 highly variable genes (Zheng et al. 2017, Nature Communications 8, 14049; CC BY 4.0).
//! The demo preprocesses it as the paper does with a stratified train/validation/test split, trains cscGAN on
//! the training cells for a few minutes, generates as many cells as the test split holds, in its type
//! proportions, plus extra cells of the rarest type, as integer counts, and evaluates the generated cells against
//! the test split with the training split as the real-vs-real control, writing the HTML report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::evaluate::EvaluateParams;
use crate::pipeline::{evaluate_and_report, Assessment};
use crate::generate::{CellCounts, GenerateParams, Generator};
use crate::preprocess::{self, PreprocessParams, SplitParams, Summary};
use crate::train::{self, presets, setup, Progress, TrainOutcome};
use crate::{io, CountMatrix};

/// The embedded demo data set: `data/pbmc_facs_2k.h5ad` of the repository (raw counts, `obs['cell_type']`).
pub const PBMC_FACS_2K: &[u8] = include_bytes!("../data/pbmc_facs_2k.h5ad");

/// The obs column holding the demo data's cell types.
pub const LABEL_KEY: &str = "cell_type";

/// Extra cells generated of the rarest type (the augmentation use case).
pub const EXTRA_RARE_CELLS: usize = 500;

/// Writes the embedded data set into `folder` (created if needed) and returns its path.
pub fn write_demo_data(folder: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    let path = folder.join("pbmc_facs_2k.h5ad");
    io::write_atomically(&path, |file| std::io::Write::write_all(file, PBMC_FACS_2K))?;
    Ok(path)
}

/// Reads the embedded data set (through a copy in `folder`).
pub fn load_demo_data(folder: &Path) -> Result<CountMatrix> {
    let path = write_demo_data(folder)?;
    io::read(&path, &io::ReadOptions::default())
}

/// Settings of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoParams {
    /// Folder for everything the demo writes.
    pub folder: PathBuf,
    /// Training time in seconds.
    pub training_seconds: f64,
    /// Threads.
    pub threads: usize,
}

/// What [`run`] produced.
#[derive(Debug)]
pub struct DemoOutcome {
    /// Summary of the raw data.
    pub summary: Summary,
    /// What preprocessing did.
    pub report: preprocess::PreprocessReport,
    /// The prepared file.
    pub prepared: PathBuf,
    /// The run folder.
    pub run: PathBuf,
    /// How training went.
    pub training: TrainOutcome,
    /// The generated cells' file.
    pub generated: PathBuf,
    /// Generated cells per type.
    pub generated_per_type: Vec<(String, usize)>,
    /// The rarest type and the file of its extra generated cells.
    pub rare: (String, PathBuf),
    /// The evaluation against the test split, and its report.
    pub assessment: Assessment,
}

/// Runs the demo; `progress` sees every training step.
pub fn run(params: &DemoParams, progress: Progress<'_>) -> Result<DemoOutcome> {
    let folder = &params.folder;
    let counts = load_demo_data(folder)?;
    let summary = Summary::of(&counts);
    let preprocess_params = PreprocessParams {
        label_key: Some(LABEL_KEY.to_string()),
        split: Some(SplitParams { validation: 0.1, test: 0.2, seed: 0 }),
        ..Default::default()
    };
    let (mut prepared, report) = preprocess::preprocess(counts, &preprocess_params)?;
    let test_counts = type_counts(&prepared, "test")?;
    let normalized = preprocess::normalize_total(&prepared, preprocess_params.target_sum);
    prepared.layers.insert("normalized".to_string(), normalized);
    let prepared_path = folder.join("prepared.h5ad");
    io::write_h5ad(&prepared, &prepared_path)?;

    let run_folder = folder.join("run");
    if run_folder.exists() {
        std::fs::remove_dir_all(&run_folder).map_err(|e| Error::io(&run_folder, e))?;
    }
    let mut train_params = presets::default();
    train_params.time_limit_seconds = Some(params.training_seconds);
    train_params.threads = params.threads;
    let mut session = setup::start(
        &prepared_path,
        &io::ReadOptions::default(),
        &preprocess_params,
        0.1,
        train_params.clone(),
        presets::DEFAULT,
        &run_folder,
    )?;
    let training = train::train(session.model.as_mut(), &session.data, &train_params, &session.run, session.state, progress)?;

    // Cells in the test split's proportions (what is evaluated), and extra cells of the rarest type (what
    // augmentation would add).
    let requests: Vec<(String, usize)> = test_counts.into_iter().collect();
    let rarest = requests.iter().min_by_key(|(_, n)| *n).map(|(name, _)| name.clone()).unwrap_or_default();
    let mut generator = Generator::load(&run_folder, params.threads)?;
    let generate = |generator: &mut Generator, cells: Vec<(String, usize)>, seed: u64| {
        generator.generate(&GenerateParams {
            cells: CellCounts::PerType(cells),
            seed,
            counts: generator.trained_counts(),
            count_noise: None,
            threads: params.threads,
        })
    };
    let generated = generate(&mut generator, requests.clone(), 0)?;
    let generated_path = folder.join("generated.h5ad");
    io::write_h5ad(&generated, &generated_path)?;
    let rare = generate(&mut generator, vec![(rarest.clone(), EXTRA_RARE_CELLS)], 1)?;
    let rare_path = folder.join("generated_rare.h5ad");
    io::write_h5ad(&rare, &rare_path)?;

    let part = |name: &str| -> Result<CountMatrix> {
        let parts = prepared.labels("split")?;
        let rows: Vec<usize> = (0..prepared.n_cells()).filter(|&i| parts[i].as_deref() == Some(name)).collect();
        Ok(prepared.select_cells(&rows))
    };
    let (test, train_cells) = (part("test")?, part("train")?);
    let evaluate_params = EvaluateParams { label_key: Some(LABEL_KEY.to_string()), ..Default::default() };
    let assessment = evaluate_and_report(
        &test,
        &generated,
        Some(&train_cells),
        &evaluate_params,
        Some(&run_folder),
        &folder.join("report"),
        "scgan demo: cscGAN on PBMC (Zheng et al. 2017)",
    )?;
    Ok(DemoOutcome {
        summary,
        report,
        prepared: prepared_path,
        run: run_folder,
        training,
        generated: generated_path,
        generated_per_type: requests,
        rare: (rarest, rare_path),
        assessment,
    })
}

/// Cells per type in one part of `obs['split']`.
fn type_counts(matrix: &CountMatrix, part: &str) -> Result<BTreeMap<String, usize>> {
    let parts = matrix.labels("split")?;
    let labels = matrix.labels(LABEL_KEY)?;
    let mut counts = BTreeMap::new();
    for (p, label) in parts.iter().zip(labels) {
        if p.as_deref() == Some(part) {
            *counts.entry(label.unwrap_or_default()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}
