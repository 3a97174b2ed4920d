//! Reading and writing count matrices.
//!
//! One entry point, [`read`], detects the format from the path:
//!
//! | path | format | reader |
//! |---|---|---|
//! | `*.h5ad` | AnnData (X as CSR, CSC or dense; `--layer` for a layer) | [`h5ad::read_h5ad`] |
//! | `*.h5` | 10x Genomics HDF5 (`filtered_feature_bc_matrix.h5`) | [`tenx::read_10x_h5`] |
//! | a folder, or `matrix.mtx[.gz]` | 10x Matrix Market folder | [`tenx::read_10x_mtx`] |
//! | `*.csv`, `*.tsv`, `*.txt` (optionally `.gz`) | dense table, cells in rows (`--transpose` for genes in rows) | [`delimited::read_delimited`] |
//!
//! [`write_h5ad`] writes what Python's `anndata.read_h5ad` reads, through a temporary file renamed into place, so
//! that an interrupted write never leaves a partial file.

pub mod delimited;
pub mod h5ad;
mod h5ad_write;
pub mod memory;
pub mod tensors;
pub mod tenx;

pub use h5ad_write::write_h5ad;

use std::path::{Path, PathBuf};

use crate::data::CountMatrix;
use crate::error::{Error, Result};

/// Input formats scgan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// AnnData `.h5ad`.
    H5ad,
    /// 10x Genomics HDF5 (`.h5`).
    TenxH5,
    /// 10x Genomics Matrix Market folder (`matrix.mtx[.gz]`, `barcodes.tsv[.gz]`, `features.tsv[.gz]`).
    TenxMtx,
    /// A dense CSV or TSV table.
    Delimited,
}

/// Options of [`read`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Read this layer of an h5ad file (e.g. `counts`) instead of `X`.
    pub layer: Option<String>,
    /// For CSV/TSV tables: rows are genes and columns are cells.
    pub transpose: bool,
}

/// Detects the format of `path` from its name (and, for folders, their contents).
pub fn detect_format(path: &Path) -> Result<Format> {
    if path.is_dir() {
        return Ok(Format::TenxMtx);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".h5ad") {
        Ok(Format::H5ad)
    } else if name.ends_with(".h5") || name.ends_with(".hdf5") {
        Ok(Format::TenxH5)
    } else if name.ends_with(".mtx") {
        Ok(Format::TenxMtx)
    } else if name.ends_with(".csv") || name.ends_with(".tsv") || name.ends_with(".txt") {
        Ok(Format::Delimited)
    } else {
        Err(Error::format(
            path,
            "file name",
            "unknown format: expected .h5ad, a 10x .h5, a 10x Matrix Market folder (or its matrix.mtx[.gz]), \
             or a .csv/.tsv table",
        ))
    }
}

/// Reads a count matrix from any supported format (see the module docs).
///
/// The returned matrix has unique gene names (duplicates renamed as scanpy does, with a warning on stderr) and
/// `source` set to `path`.
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<CountMatrix> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder")));
    }
    let format = detect_format(path)?;
    if options.layer.is_some() && format != Format::H5ad {
        return Err(Error::parameter("--layer", "layers exist only in .h5ad files"));
    }
    if options.transpose && format != Format::Delimited {
        return Err(Error::parameter(
            "--transpose",
            format!(
                "applies to .csv/.tsv tables only; {} keeps cells and genes in a known orientation",
                path.display()
            ),
        ));
    }
    let mut matrix = match format {
        Format::H5ad => h5ad::read_h5ad(path, options.layer.as_deref())?,
        Format::TenxH5 => tenx::read_10x_h5(path)?,
        Format::TenxMtx => tenx::read_10x_mtx(path)?,
        Format::Delimited => delimited::read_delimited(path, options.transpose)?,
    };
    let renamed = matrix.var.make_index_unique();
    if renamed > 0 {
        eprintln!(
            "warning: {}: {renamed} duplicate gene names were made unique by appending -1, -2, ... \
             (as anndata's var_names_make_unique does)",
            path.display()
        );
    }
    matrix.source = Some(path.to_path_buf());
    Ok(matrix)
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder, flushed to disk, then renamed
/// over `path`. A crash or a full disk leaves either the old file or the new one, never a partial file.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("folder {} does not exist", folder.display())),
        ));
    }
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("output");
    let temporary = folder.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        write(&mut file)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)?;
        // The rename itself is durable only once the folder's entry is on disk.
        std::fs::File::open(&folder).and_then(|dir| dir.sync_all())
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io(path, source));
    }
    Ok(())
}

/// Removes the temporary files [`write_atomically`] leaves in `folder` when its process is killed mid-write
/// (`.NAME.PID.tmp`); returns how many were removed. Only names of that exact form are touched.
pub fn remove_stale_temporaries(folder: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(middle) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else { continue };
        let is_ours = middle.rsplit_once('.').is_some_and(|(file, pid)| !file.is_empty() && pid.parse::<u32>().is_ok());
        if is_ours && entry.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
