//! 10x Genomics readers (stub, being written).
use std::path::Path;
use crate::{CountMatrix, Error, Result};
/// Reads a 10x HDF5 file.
pub fn read_10x_h5(path: &Path) -> Result<CountMatrix> { Err(Error::format(path, "", "not yet supported")) }
/// Reads a 10x Matrix Market folder.
pub fn read_10x_mtx(path: &Path) -> Result<CountMatrix> { Err(Error::format(path, "", "not yet supported")) }
