//! # scgan
//!
//! Realistic synthetic single-cell RNA-seq data with generative adversarial networks: scGAN and its conditional
//! form cscGAN (Marouf et al., Nature Communications 11, 166, 2020), on an ordinary CPU.
//!
//! ## Brief overview
//! One data object, [`CountMatrix`] (cells x genes counts in CSR form, with `obs` and `var` annotations, like
//! AnnData), flows through modules named after the pipeline:
//!
//! - [`io`]: read h5ad, 10x HDF5, 10x Matrix Market and CSV/TSV; write h5ad that Python's anndata reads.
//! - [`preprocess`]: the paper's preprocessing: filter cells and genes, library-size normalisation to 20,000,
//!   optional highly-variable genes (Seurat v3), stratified splits; and the summary `scgan info` prints.
//! - [`cluster`]: labels for data that has none, as the paper's pipeline makes them (log-normalise, dispersed
//!   genes, 50 principal components, kNN graph, Leiden).
//! - [`pca`]: randomized principal components of sparse data, without densifying it.
//!
//! ## Example
//! ```no_run
//! use scgan::{io, preprocess};
//!
//! let counts = io::read("data/pbmc_facs_2k.h5ad", &io::ReadOptions::default())?;
//! let params = preprocess::PreprocessParams { label_key: Some("cell_type".into()), ..Default::default() };
//! let (prepared, report) = preprocess::preprocess(counts, &params)?;
//! println!("{report}");
//! io::write_h5ad(&prepared, "prepared.h5ad")?;
//! # Ok::<(), scgan::Error>(())
//! ```
#![deny(missing_docs)]

pub mod augment;
pub mod cluster;
pub mod data;
pub mod demo;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod generate;
pub mod io;
pub mod model;
pub mod pca;
pub mod pipeline;
pub mod preprocess;
pub mod report;
pub mod train;

pub use data::{Column, CountMatrix, CsrMatrix, Frame};
pub use error::{Error, Result};

/// The version of scgan, written into every file it makes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
