//! h5ad reader (stub, being written).
use std::path::Path;
use crate::{CountMatrix, Error, Result};
/// Reads an h5ad file.
pub fn read_h5ad(path: &Path, _layer: Option<&str>) -> Result<CountMatrix> { Err(Error::format(path, "", "not yet supported")) }
