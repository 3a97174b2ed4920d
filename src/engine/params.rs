//! Flat parameter storage with names, initialisation, and named export / checked import.
//!
//! A network's trainable tensors live back to back in one `Vec` (values) with a matching `Vec` of gradients, so
//! the optimizer is one pass over three flat arrays and a finite-difference test can perturb any element by index.
//! Each tensor is a [`ParamEntry`]: a dotted name readable from Python (`critic.dense1.weight`), a row-major shape
//! and its range in the flat arrays.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::Scalar;
use crate::model::NamedTensor;
use crate::{Error, Result};

/// One named tensor inside a [`ParamSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamEntry {
    /// Dotted name, e.g. `generator.bn1.gamma`.
    pub name: String,
    /// Row-major shape, e.g. `[n_genes, 1024]` for `critic.dense1.weight` (stored `in x out`).
    pub shape: Vec<usize>,
    /// First element in the flat arrays.
    pub offset: usize,
    /// Number of elements (the product of `shape`).
    pub len: usize,
}

impl ParamEntry {
    /// The entry's range in the flat arrays.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// How a tensor is initialised (the reference's TensorFlow initialisers).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// All zeros (biases, batch-norm beta).
    Zeros,
    /// All ones (batch-norm gamma).
    Ones,
    /// Every value the same constant.
    Constant(f64),
    /// Glorot / Xavier uniform: U(-l, l) with `l = sqrt(6 / (fan_in + fan_out))`.
    Glorot { fan_in: usize, fan_out: usize },
    /// TensorFlow's `variance_scaling_initializer(2.0, 'FAN_AVG')`: a normal with standard deviation
    /// `sqrt(1.3 * 2 / ((fan_in + fan_out) / 2))` truncated at two standard deviations (values beyond are redrawn).
    VarianceScaling { fan_in: usize, fan_out: usize },
}

/// Where the values of each live [`ParamSet`] are, with a stamp of their last write: copies derived from weights
/// (the bf16 panels of the AMX GEMMs) are valid while the stamp of the memory they were made from is unchanged.
static WRITES: Mutex<Vec<WriteStamp>> = Mutex::new(Vec::new());
/// Source of the stamps: never reused, so memory that changes owner never shows an old stamp.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

// Stamps are read only by amx.rs, which exists only on x86-64 Linux.
#[cfg_attr(not(all(target_arch = "x86_64", target_os = "linux")), allow(dead_code))]
struct WriteStamp {
    start: usize,
    end: usize,
    stamp: u64,
}

fn address_range<T>(values: &[T]) -> (usize, usize) {
    let start = values.as_ptr() as usize;
    (start, start + std::mem::size_of_val(values))
}

/// Records that `values` are (about to be) written: a new stamp for their memory.
fn stamp_write<T>(values: &[T]) {
    let (start, end) = address_range(values);
    let stamp = NEXT_STAMP.fetch_add(1, Ordering::Relaxed);
    let mut writes = forget_writes(values);
    if start < end {
        writes.push(WriteStamp { start, end, stamp });
    }
}

/// Forgets the stamps of `values`' memory (freed, or about to get a new one); returns the locked registry.
fn forget_writes<T>(values: &[T]) -> std::sync::MutexGuard<'static, Vec<WriteStamp>> {
    let (start, end) = address_range(values);
    let mut writes = WRITES.lock().unwrap_or_else(|e| e.into_inner());
    writes.retain(|w| w.end <= start || w.start >= end);
    writes
}

/// The stamp of the last write to the parameter values holding `bytes` bytes from `address`, or `None` when they
/// are not (wholly) the values of a live [`ParamSet`].
#[cfg_attr(not(all(target_arch = "x86_64", target_os = "linux")), allow(dead_code))]
pub(crate) fn write_stamp(address: usize, bytes: usize) -> Option<u64> {
    let writes = WRITES.lock().unwrap_or_else(|e| e.into_inner());
    writes.iter().find(|w| w.start <= address && address + bytes <= w.end).map(|w| w.stamp)
}

/// A network's trainable parameters and their gradients, in flat storage.
///
/// Every way to write the values goes through `stamp_write`, so that copies made from them know they are stale.
#[derive(Debug)]
pub struct ParamSet<T> {
    entries: Vec<ParamEntry>,
    values: Vec<T>,
    grads: Vec<T>,
}

impl<T: Clone> Clone for ParamSet<T> {
    fn clone(&self) -> Self {
        let copy = ParamSet { entries: self.entries.clone(), values: self.values.clone(), grads: self.grads.clone() };
        stamp_write(&copy.values);
        copy
    }
}

impl<T> Drop for ParamSet<T> {
    fn drop(&mut self) {
        drop(forget_writes(&self.values));
    }
}

impl<T: Scalar> ParamSet<T> {
    pub(crate) fn new() -> Self {
        ParamSet { entries: Vec::new(), values: Vec::new(), grads: Vec::new() }
    }

    /// Appends a tensor initialised from `rng`; returns its range.
    pub(crate) fn push(&mut self, name: String, shape: Vec<usize>, init: Init, rng: &mut ChaCha8Rng) -> Range<usize> {
        // Growing may move the values: their old memory is no longer a parameter set's.
        drop(forget_writes(&self.values));
        let len: usize = shape.iter().product();
        let offset = self.values.len();
        match init {
            Init::Zeros => self.values.resize(offset + len, T::ZERO),
            Init::Ones => self.values.resize(offset + len, T::ONE),
            Init::Constant(value) => self.values.resize(offset + len, T::from_f64(value)),
            Init::Glorot { fan_in, fan_out } => {
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
                self.values.extend((0..len).map(|_| T::from_f64(limit * (2.0 * rng.random::<f64>() - 1.0))));
            }
            Init::VarianceScaling { fan_in, fan_out } => {
                let std = (1.3 * 2.0 / ((fan_in + fan_out) as f64 / 2.0)).sqrt();
                self.values.extend((0..len).map(|_| loop {
                    let x: f64 = StandardNormal.sample(rng);
                    if x.abs() <= 2.0 {
                        break T::from_f64(std * x);
                    }
                }));
            }
        }
        self.grads.resize(offset + len, T::ZERO);
        self.entries.push(ParamEntry { name, shape, offset, len });
        stamp_write(&self.values);
        offset..offset + len
    }

    /// The tensors, in order.
    pub fn entries(&self) -> &[ParamEntry] {
        &self.entries
    }

    /// All values, flat.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// All values, flat and mutable (finite-difference tests perturb them in place).
    pub fn values_mut(&mut self) -> &mut [T] {
        stamp_write(&self.values);
        &mut self.values
    }

    /// The gradient of the last loss computed, flat, aligned with [`ParamSet::values`].
    pub fn grads(&self) -> &[T] {
        &self.grads
    }

    /// Values and gradients, borrowed together and both mutable (an optimizer update).
    pub(crate) fn split(&mut self) -> (&mut [T], &mut [T]) {
        stamp_write(&self.values);
        (&mut self.values, &mut self.grads)
    }

    /// Values to read and gradients to write (a backward pass).
    pub(crate) fn values_and_grads_mut(&mut self) -> (&[T], &mut [T]) {
        (&self.values, &mut self.grads)
    }

    /// Total number of elements.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the set holds no element.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values of the tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&[T]> {
        self.entries.iter().find(|e| e.name == name).map(|e| &self.values[e.range()])
    }

    /// Exports `data` (values, or an optimizer moment aligned with them) as named f32 tensors, `prefix` + name.
    pub(crate) fn export(&self, prefix: &str, data: &[T]) -> Vec<NamedTensor> {
        self.entries
            .iter()
            .map(|e| NamedTensor {
                name: format!("{prefix}{}", e.name),
                shape: e.shape.clone(),
                data: data[e.range()].iter().map(|x| x.to_f32()).collect(),
            })
            .collect()
    }
}

/// Matches `tensors` against the `expected` (name, shape) list: every expected name must appear once with its
/// shape, and no other name may appear. Returns the tensors by name. Errors name the offending tensor.
pub(crate) fn match_tensors<'a>(
    tensors: &'a [NamedTensor],
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, &'a NamedTensor>> {
    let mut by_name: HashMap<String, &NamedTensor> = HashMap::with_capacity(tensors.len());
    for t in tensors {
        if by_name.insert(t.name.clone(), t).is_some() {
            return Err(Error::parameter(&t.name, "the tensor appears twice"));
        }
    }
    for (name, shape) in expected {
        let t = by_name.get(name).ok_or_else(|| Error::parameter(name, "the tensor is missing"))?;
        if &t.shape != shape {
            return Err(Error::parameter(name, format!("shape {:?}, expected {:?}", t.shape, shape)));
        }
        let n: usize = shape.iter().product();
        if t.data.len() != n {
            return Err(Error::parameter(
                name,
                format!("{} values for shape {:?} ({n} expected)", t.data.len(), shape),
            ));
        }
        if let Some(i) = t.data.iter().position(|x| !x.is_finite()) {
            return Err(Error::parameter(name, format!("value {} at index {i} is not finite", t.data[i])));
        }
    }
    if by_name.len() != expected.len() {
        let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        let mut unknown: Vec<&str> = by_name.keys().map(|s| s.as_str()).filter(|n| !known.contains(n)).collect();
        unknown.sort_unstable();
        if let Some(first) = unknown.first() {
            return Err(Error::parameter(*first, "unknown tensor for this model"));
        }
    }
    Ok(by_name)
}

/// Copies f32 data into a `T` slice of the same length.
pub(crate) fn copy_in<T: Scalar>(dst: &mut [T], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = T::from_f32(*s);
    }
}

/// The (name, shape) list of a parameter set's tensors with `prefix` before each name.
pub(crate) fn expected_names<T: Scalar>(set: &ParamSet<T>, prefix: &str) -> Vec<(String, Vec<usize>)> {
    set.entries().iter().map(|e| (format!("{prefix}{}", e.name), e.shape.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn initialisers_respect_their_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut set = ParamSet::<f64>::new();
        let g = set.push("g".into(), vec![100, 50], Init::Glorot { fan_in: 100, fan_out: 50 }, &mut rng);
        let v = set.push("v".into(), vec![100, 50], Init::VarianceScaling { fan_in: 100, fan_out: 50 }, &mut rng);
        let o = set.push("o".into(), vec![3], Init::Ones, &mut rng);
        let limit = (6.0_f64 / 150.0).sqrt();
        assert!(set.values()[g].iter().all(|x| x.abs() <= limit));
        let std = (2.6_f64 / 75.0).sqrt();
        let vs = &set.values()[v];
        assert!(vs.iter().all(|x| x.abs() <= 2.0 * std));
        let sd = (vs.iter().map(|x| x * x).sum::<f64>() / vs.len() as f64).sqrt();
        // a normal truncated at 2 sd has sd 0.88 of the untruncated one
        assert!((sd / std - 0.88).abs() < 0.05, "{sd} vs {std}");
        assert_eq!(&set.values()[o], &[1.0, 1.0, 1.0]);
        assert_eq!(set.len(), 10_003);
    }

    #[test]
    fn matching_names_and_shapes() {
        let t = |n: &str, s: Vec<usize>| NamedTensor { name: n.into(), data: vec![0.0; s.iter().product()], shape: s };
        let expected = vec![("a".to_string(), vec![2, 3]), ("b".to_string(), vec![4])];
        assert!(match_tensors(&[t("a", vec![2, 3]), t("b", vec![4])], &expected).is_ok());
        let err = match_tensors(&[t("a", vec![3, 2]), t("b", vec![4])], &expected).unwrap_err().to_string();
        assert!(err.contains('a') && err.contains("[3, 2]"), "{err}");
        let err = match_tensors(&[t("a", vec![2, 3])], &expected).unwrap_err().to_string();
        assert!(err.contains("b") && err.contains("missing"), "{err}");
        let err =
            match_tensors(&[t("a", vec![2, 3]), t("b", vec![4]), t("c", vec![1])], &expected).unwrap_err().to_string();
        assert!(err.contains("c") && err.contains("unknown"), "{err}");
    }
}
