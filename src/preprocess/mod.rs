//! Preprocessing (stub, being written).
/// Parameters.
#[derive(Debug, Default)]
pub struct PreprocessParams { /// label key
 pub label_key: Option<String> }
/// Runs preprocessing.
pub fn preprocess(m: crate::CountMatrix, _p: &PreprocessParams) -> crate::Result<(crate::CountMatrix, String)> { Ok((m, String::new())) }
