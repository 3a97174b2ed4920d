//! `scgan demo`: the whole story on the embedded PBMC data set, with no arguments and no network.
//!
//! The data set is compiled into the binary ([`PBMC_FACS_2K`]): 3,774 FACS-sorted peripheral blood cells of
//! 10 types x 2,000 highly variable genes (Zheng et al. 2017, Nature Communications 8, 14049; CC BY 4.0).
//! The demo writes it out, summarises it, preprocesses it as the paper does with a stratified
//! train/validation/test split, and writes the prepared h5ad, printing where everything is.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::preprocess::{self, PreprocessParams, SplitParams, Summary};
use crate::{io, CountMatrix};

/// The embedded demo data set: `data/pbmc_facs_2k.h5ad` of the repository (raw counts, `obs['cell_type']`).
pub const PBMC_FACS_2K: &[u8] = include_bytes!("../data/pbmc_facs_2k.h5ad");

/// The obs column holding the demo data's cell types.
pub const LABEL_KEY: &str = "cell_type";

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

/// What [`run`] produced.
#[derive(Debug)]
pub struct DemoOutcome {
    /// Summary of the raw data.
    pub summary: Summary,
    /// What preprocessing did.
    pub report: preprocess::PreprocessReport,
    /// The prepared file.
    pub prepared: PathBuf,
}

/// Runs the demo in `folder` (`scgan-demo` by default on the command line).
pub fn run(folder: &Path) -> Result<DemoOutcome> {
    let counts = load_demo_data(folder)?;
    let summary = Summary::of(&counts);
    let params = PreprocessParams {
        label_key: Some(LABEL_KEY.to_string()),
        split: Some(SplitParams { validation: 0.1, test: 0.2, seed: 0 }),
        ..Default::default()
    };
    let (mut prepared, report) = preprocess::preprocess(counts, &params)?;
    let normalized = preprocess::normalize_total(&prepared, params.target_sum);
    prepared.layers.insert("normalized".to_string(), normalized);
    let out = folder.join("prepared.h5ad");
    io::write_h5ad(&prepared, &out)?;
    Ok(DemoOutcome { summary, report, prepared: out })
}
