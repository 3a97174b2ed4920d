//! The run folder: everything a training run writes, and how it is read back.
//!
//! ```text
//! runs/pbmc/
//!   config.json              every setting: model, training, preprocessing, input file, scgan version
//!   data.json                gene names, class names and proportions, real library sizes per class
//!   model.safetensors        the generator's and critic's trainable parameters, nothing else: chosen by
//!                            the validation figure once there is one (`validation::keeps`), else the latest
//!   model_state.safetensors  batch-norm running statistics of those same weights (metadata `step` ties them)
//!   log.jsonl                one JSON object per logged step: losses, learning rate, validation figure
//!   state/checkpoint.safetensors
//!                            the latest complete state for `--resume`: parameters, batch-norm statistics,
//!                            AMSGrad moments, and in its metadata the step, sampler position and RNG position
//! ```
//! Every file is written to a temporary name, flushed and renamed, so a run killed at any moment leaves the
//! previous version of each file intact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::validation::ValidationScore;
use crate::error::{Error, Result};
use crate::io::tensors::{load_tensors, save_tensors};
use crate::io::write_atomically;
use crate::model::{GanBackend, ModelConfig, NamedTensor};

/// Paths inside a run folder.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder.
    pub path: PathBuf,
}

impl RunFolder {
    /// The run folder at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RunFolder { path: path.into() }
    }
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.path.join("config.json")
    }
    /// `data.json`.
    pub fn data(&self) -> PathBuf {
        self.path.join("data.json")
    }
    /// `model.safetensors`.
    pub fn model(&self) -> PathBuf {
        self.path.join("model.safetensors")
    }
    /// `model_state.safetensors`.
    pub fn model_state(&self) -> PathBuf {
        self.path.join("model_state.safetensors")
    }
    /// `log.jsonl`.
    pub fn log(&self) -> PathBuf {
        self.path.join("log.jsonl")
    }
    /// `state/checkpoint.safetensors`.
    pub fn checkpoint(&self) -> PathBuf {
        self.path.join("state").join("checkpoint.safetensors")
    }
}

/// What generation needs to know about the training data (`data.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDescription {
    /// Gene names, in the model's output order.
    pub genes: Vec<String>,
    /// The obs column the classes came from (None for unlabelled data).
    pub label_key: Option<String>,
    /// Class names; class `k` of the model is `classes[k]`.
    pub classes: Vec<String>,
    /// Fraction of training cells in each class.
    pub class_proportions: Vec<f64>,
    /// Total raw counts of every training cell, per class: the library sizes generated cells are drawn from.
    pub library_sizes: Vec<Vec<f64>>,
    /// Number of training and validation cells.
    pub n_train: usize,
    /// Number of validation cells.
    pub n_validation: usize,
}

impl DataDescription {
    /// Checks the description against the model of `model` (`path` is the data.json it was read from): one gene
    /// per generator output, no gene twice; one name, proportion and pool of library sizes per class (and for
    /// cscGAN as many classes as the model has); proportions that are fractions adding up to 1; pools that are not
    /// empty and hold positive library sizes. scgan writes data.json so; one edited by hand or by another program
    /// would otherwise make generation index past its lists, allocate as many cells as a stray proportion asks
    /// for, give a class whose pool is empty the model's library size instead of real ones, or write a file whose
    /// genes cannot be told apart.
    pub fn check(&self, path: &Path, model: &ModelConfig) -> Result<()> {
        let refuse = |field: &str, message: String| Err(Error::format(path, field, message));
        if self.genes.len() != model.n_genes {
            return refuse(
                "genes",
                format!("lists {} genes, but the model in config.json has {}", self.genes.len(), model.n_genes),
            );
        }
        let mut first_at = HashMap::with_capacity(self.genes.len());
        for (j, gene) in self.genes.iter().enumerate() {
            if let Some(first) = first_at.insert(gene.as_str(), j) {
                return refuse(
                    "genes",
                    format!("lists gene '{gene}' twice (entries {first} and {j}); expected every gene once"),
                );
            }
        }
        let n_classes = self.classes.len();
        if model.n_classes() > 0 && n_classes != model.n_classes() {
            return refuse(
                "classes",
                format!("lists {n_classes} classes, but the cscGAN in config.json has {}", model.n_classes()),
            );
        }
        for (field, length) in
            [("class_proportions", self.class_proportions.len()), ("library_sizes", self.library_sizes.len())]
        {
            if length != n_classes {
                let entries = if length == 1 { "entry" } else { "entries" };
                return refuse(
                    field,
                    format!("has {length} {entries} for {n_classes} classes; expected one per class"),
                );
            }
        }
        if let Some((k, p)) = self.class_proportions.iter().enumerate().find(|(_, p)| !(0.0..=1.0).contains(*p)) {
            return refuse(&format!("class_proportions[{k}]"), format!("{p} is not a fraction in [0, 1]"));
        }
        let sum: f64 = self.class_proportions.iter().sum();
        if n_classes > 0 && (sum - 1.0).abs() > 1e-6 {
            return refuse("class_proportions", format!("add up to {sum}; expected 1"));
        }
        // Generation draws each cell's library size from its class's pool (every pool together for scGAN).
        for (k, (pool, class)) in self.library_sizes.iter().zip(&self.classes).enumerate() {
            let field = format!("library_sizes[{k}]");
            if pool.is_empty() {
                return refuse(
                    &field,
                    format!(
                        "class '{class}' has no library sizes; expected the total counts of its training cells, \
                         which generated cells of the class draw theirs from"
                    ),
                );
            }
            if let Some(size) = pool.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
                return refuse(
                    &field,
                    format!("class '{class}' holds {size}; expected the total counts of its training cells (positive)"),
                );
            }
        }
        Ok(())
    }
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::invalid_data(path, "json", format!("cannot be encoded: {e}")))?;
    write_atomically(path, |file| std::io::Write::write_all(file, text.as_bytes()))
}

/// Reads JSON from `path`, naming the file in errors.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::format(path, format!("line {}", e.line()), format!("{e} (written by another scgan version?)"))
    })
}

/// The training loop's position, saved in the checkpoint's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LoopState {
    /// Generator steps done.
    pub step: u64,
    /// Epoch of the minibatch sampler.
    pub epoch: u64,
    /// Position within the epoch.
    pub position: usize,
    /// Word position of the training RNG.
    pub rng_word_pos: u128,
    /// Seconds of training so far, over all sessions.
    pub elapsed_seconds: f64,
    /// Best validation kNN AUROC so far and its step. (Checkpoints of scgan 0.x before it had a `best` MMD
    /// instead, which is ignored: a resumed old run chooses its best model anew.)
    pub best_knn_auroc: Option<(f64, u64)>,
    /// Validation kNN AUROC and step of the model in `model.safetensors` (checkpoints of scgan before Session 13
    /// kept the lowest figure's model and have none: it is that one).
    #[serde(default)]
    pub kept_knn_auroc: Option<(f64, u64)>,
    /// The count noise chosen with the kept model ([`super::validation::COUNT_NOISE_CHOICES`]; absent in older
    /// checkpoints, whose kept model has none).
    #[serde(default)]
    pub kept_count_noise: Option<f64>,
}

/// The `format` tag of checkpoints this version writes and reads.
const CHECKPOINT_FORMAT: &str = "scgan checkpoint 1";
/// The `format` tag of `model.safetensors` / `model_state.safetensors`.
const MODEL_FORMAT: &str = "scgan model 1";

/// Refuses a file written in another layout (another scgan version), naming the version that wrote it.
fn check_format(path: &Path, metadata: &HashMap<String, String>, expected: &str) -> Result<()> {
    match metadata.get("format") {
        Some(format) if format == expected => Ok(()),
        found => Err(Error::format(
            path,
            "__metadata__.format",
            format!(
                "is {}, written by scgan {}; this scgan ({}) reads '{expected}': use the scgan version that wrote \
                 the run, or train again",
                found.map(|f| format!("'{f}'")).unwrap_or_else(|| "missing".to_string()),
                metadata.get("scgan_version").map(String::as_str).unwrap_or("(unknown version)"),
                crate::VERSION
            ),
        )),
    }
}

fn loop_metadata(state: &LoopState) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("scgan_version".to_string(), crate::VERSION.to_string()),
        ("step".to_string(), state.step.to_string()),
        ("loop".to_string(), serde_json::to_string(state).unwrap_or_default()),
    ])
}

/// Saves the complete training state (parameters, batch-norm statistics, optimiser moments, loop position).
pub fn save_checkpoint(run: &RunFolder, model: &dyn GanBackend, state: &LoopState) -> Result<()> {
    let folder = run.checkpoint().parent().map(Path::to_path_buf).unwrap_or_else(|| run.path.clone());
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    let mut tensors = model.parameters();
    tensors.extend(model.state());
    save_tensors(&run.checkpoint(), &tensors, &loop_metadata(state))
}

/// Loads the checkpoint into `model` and returns the loop position.
pub fn load_checkpoint(run: &RunFolder, model: &mut dyn GanBackend) -> Result<LoopState> {
    let path = run.checkpoint();
    let (tensors, metadata) = load_tensors(&path)?;
    check_format(&path, &metadata, CHECKPOINT_FORMAT)?;
    let state: LoopState = metadata
        .get("loop")
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| Error::format(&path, "__metadata__.loop", "missing or unreadable: not an scgan checkpoint"))?;
    let parameter_names: Vec<String> = model.parameters().into_iter().map(|t| t.name).collect();
    let (parameters, rest): (Vec<NamedTensor>, Vec<NamedTensor>) =
        tensors.into_iter().partition(|t| parameter_names.contains(&t.name));
    model.load_parameters(&parameters).map_err(|e| with_path(e, &path))?;
    model.load_state(&rest).map_err(|e| with_path(e, &path))?;
    Ok(state)
}

/// Saves the weights generation uses: `model.safetensors` (trainable parameters only) and
/// `model_state.safetensors` (batch-norm running statistics), both tagged with `step` and, when the model was
/// validated, its validation figure and the count noise chosen with it.
pub fn save_model(
    run: &RunFolder,
    model: &dyn GanBackend,
    step: u64,
    validation: Option<ValidationScore>,
) -> Result<()> {
    let mut metadata = HashMap::from([
        ("format".to_string(), MODEL_FORMAT.to_string()),
        ("scgan_version".to_string(), crate::VERSION.to_string()),
        ("step".to_string(), step.to_string()),
    ]);
    if let Some(score) = validation {
        metadata.insert("validation_knn_auroc".to_string(), format!("{}", score.knn_auroc));
        metadata.insert(COUNT_NOISE_KEY.to_string(), format!("{}", score.count_noise));
    }
    let running: Vec<NamedTensor> = model.state().into_iter().filter(|t| t.name.contains("running_")).collect();
    // Statistics first: a kill between the two writes leaves a step mismatch that loading reports, never a
    // silently mismatched pair.
    save_tensors(&run.model_state(), &running, &metadata)?;
    save_tensors(&run.model(), &model.parameters(), &metadata)
}

/// The metadata key of the count noise chosen on validation cells ([`crate::generate::CountSampling::Rescale`]).
const COUNT_NOISE_KEY: &str = "count_noise";

/// What `model.safetensors` says of the weights it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavedModel {
    /// The training step they come from.
    pub step: u64,
    /// The count noise chosen for them on validation cells (0 when none was: runs without validation cells, and
    /// runs trained before the choice existed).
    pub count_noise: f64,
}

/// Loads `model.safetensors` and `model_state.safetensors` into `model`.
pub fn load_model(run: &RunFolder, model: &mut dyn GanBackend) -> Result<SavedModel> {
    let (parameters, metadata) = load_tensors(&run.model())?;
    check_format(&run.model(), &metadata, MODEL_FORMAT)?;
    let (running, state_metadata) = load_tensors(&run.model_state())?;
    check_format(&run.model_state(), &state_metadata, MODEL_FORMAT)?;
    let step = metadata.get("step").cloned().unwrap_or_default();
    if state_metadata.get("step") != Some(&step) {
        return Err(Error::format(
            run.model_state(),
            "__metadata__.step",
            format!(
                "is {:?} but model.safetensors is from step {step}; the run was interrupted while saving: \
                 resume it (scgan train --resume) to write both again",
                state_metadata.get("step")
            ),
        ));
    }
    model.load_parameters(&parameters).map_err(|e| with_path(e, &run.model()))?;
    let mut state = model.state();
    let by_name: BTreeMap<&str, &NamedTensor> = running.iter().map(|t| (t.name.as_str(), t)).collect();
    for tensor in state.iter_mut().filter(|t| t.name.contains("running_")) {
        match by_name.get(tensor.name.as_str()) {
            Some(saved) if saved.shape == tensor.shape => tensor.data.clone_from(&saved.data),
            _ => {
                return Err(Error::format(
                    run.model_state(),
                    &tensor.name,
                    "missing, or of another shape than the model's",
                ))
            }
        }
    }
    model.load_state(&state).map_err(|e| with_path(e, &run.model_state()))?;
    let step = step.parse().map_err(|_| Error::format(run.model(), "__metadata__.step", "not a step number"))?;
    let count_noise = match metadata.get(COUNT_NOISE_KEY) {
        None => 0.0,
        Some(text) => text.parse::<f64>().ok().filter(|noise| (0.0..=1.0).contains(noise)).ok_or_else(|| {
            Error::format(
                run.model(),
                format!("__metadata__.{COUNT_NOISE_KEY}"),
                format!("is '{text}', not a fraction in [0, 1]"),
            )
        })?,
    };
    Ok(SavedModel { step, count_noise })
}

fn with_path(error: Error, path: &Path) -> Error {
    match error {
        Error::InvalidData { field, message, .. } | Error::Format { field, message, .. } => {
            Error::format(path, field, message)
        }
        other => other,
    }
}
