//! Named tensors in safetensors files: model weights, training state and checkpoints.
//!
//! safetensors is a flat format (a JSON header of names, dtypes, shapes and offsets, then raw little-endian data)
//! that Python reads with `safetensors.numpy.load_file`, so weights are inspectable outside scgan. Every tensor
//! here is `f32`; the header's `__metadata__` map carries strings such as the training step, which lets a reader
//! check that two files belong together.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::write_atomically;
use crate::error::{Error, Result};
use crate::model::NamedTensor;

/// Writes `tensors` with `metadata` to `path` atomically (temporary file, fsync, rename).
pub fn save_tensors(path: &Path, tensors: &[NamedTensor], metadata: &HashMap<String, String>) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|view| (t.name.clone(), view))
                .map_err(|e| Error::invalid_data(path, &t.name, format!("shape {:?} does not fit its data: {e}", t.shape)))
        })
        .collect::<Result<Vec<_>>>()?;
    let encoded = safetensors::serialize(views, Some(metadata.clone()))
        .map_err(|e| Error::invalid_data(path, "tensors", format!("cannot be encoded: {e}")))?;
    write_atomically(path, |file| std::io::Write::write_all(file, &encoded))
}

/// Reads every tensor of a safetensors file (f32 only) and its metadata.
pub fn load_tensors(path: &Path) -> Result<(Vec<NamedTensor>, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, "header", format!("not a safetensors file, or damaged: {e}")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, "header", format!("not a safetensors file, or damaged: {e}")))?;
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::format(path, &name, format!("dtype {:?}, expected F32", view.dtype())));
        }
        let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        tensors.push(NamedTensor { name, shape: view.shape().to_vec(), data });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let tensors = vec![
            NamedTensor { name: "a.weight".into(), shape: vec![2, 3], data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0] },
            NamedTensor { name: "b.bias".into(), shape: vec![1], data: vec![-0.5] },
        ];
        let metadata = HashMap::from([("step".to_string(), "7".to_string())]);
        save_tensors(&path, &tensors, &metadata).unwrap();
        let (back, meta) = load_tensors(&path).unwrap();
        assert_eq!(back, tensors);
        assert_eq!(meta["step"], "7");
    }

    #[test]
    fn damaged_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
        let error = load_tensors(&path).unwrap_err().to_string();
        assert!(error.contains("bad.safetensors") && error.contains("not a safetensors file"), "{error}");
    }
}
