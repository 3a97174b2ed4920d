//! Starting and resuming runs: from an input file to the cells, labels and model the loop trains.
//!
//! `scgan train` accepts raw counts in any format [`crate::io::read`] reads and preprocesses them with the same
//! flags as `scgan preprocess`; a file written by `scgan preprocess` is recognised (`uns['scgan']['preprocess']`)
//! and used as it is. Cells in `obs['split'] == "validation"` are the validation cells; without a split column a
//! stratified validation split is made here. A resumed run reads its input again with the settings recorded in
//! `config.json`, which rebuilds exactly the same training set.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::data::CellSet;
use super::run::{load_checkpoint, read_json, write_json, DataDescription, LoopState, RunFolder};
use super::{truncate_log, ModelChoice, TrainParams, TrainingSet};
use crate::data::Column;
use crate::engine::CpuGan;
use crate::error::{Error, Result};
use crate::io::{self, ReadOptions};
use crate::model::{ConditionalCritic, CriticInput, GanBackend, ModelConfig, ModelKind};
use crate::preprocess::{self, split, PreprocessParams, SplitParams};

/// Everything `config.json` records: enough to rebuild the run from its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// scgan version that started the run.
    pub scgan_version: String,
    /// The named preset the settings started from (`paper`).
    pub preset: String,
    /// The input file.
    pub input: PathBuf,
    /// h5ad layer read instead of X.
    pub layer: Option<String>,
    /// CSV/TSV tables with genes in rows.
    pub transpose: bool,
    /// Preprocessing applied to raw input (not used when the input was already preprocessed).
    pub preprocess: PreprocessParams,
    /// Whether the input had been written by `scgan preprocess`.
    pub input_was_preprocessed: bool,
    /// Fraction of cells held out for validation when the input has no `obs['split']`.
    pub validation_fraction: f64,
    /// Training settings.
    pub train: TrainParams,
    /// The network.
    pub model: ModelConfig,
}

impl RunConfig {
    /// Reads a run's `config.json`, carrying settings that older scgan versions spelt differently over to today's
    /// names, so that their runs still resume and generate as they were trained: `train.count_rounding` and
    /// `train.count_sampling` (two flags, at most one set) became `train.critic_counts`.
    pub fn read(path: &Path) -> Result<RunConfig> {
        let mut value: serde_json::Value = read_json(path)?;
        if let Some(train) = value.get_mut("train").and_then(serde_json::Value::as_object_mut) {
            let rounding = train.remove("count_rounding").and_then(|v| v.as_bool()).unwrap_or(false);
            let sampling = train.remove("count_sampling").and_then(|v| v.as_bool()).unwrap_or(false);
            if !train.contains_key("critic_counts") {
                let kind = if sampling {
                    "sampled"
                } else if rounding {
                    "rounded"
                } else {
                    "profiles"
                };
                train.insert("critic_counts".to_string(), kind.into());
            }
        }
        serde_json::from_value(value)
            .map_err(|e| Error::format(path, "json", format!("{e} (written by another scgan version?)")))
    }
}

/// A run ready to train: the model, its data and where it stands.
pub struct Session {
    /// The network.
    pub model: Box<dyn GanBackend>,
    /// Training and validation cells.
    pub data: TrainingSet,
    /// The run folder.
    pub run: RunFolder,
    /// Where the loop starts.
    pub state: LoopState,
    /// The run's configuration.
    pub config: RunConfig,
    /// What generation needs to know about the data.
    pub description: DataDescription,
}

/// Reads and prepares the training data: preprocessing when needed, labels, validation split. The cells are
/// normalised to `library_size` when given (a resumed run's model), else to the preprocessing's target.
pub fn prepare_data(
    input: &Path,
    read: &ReadOptions,
    preprocess_params: &PreprocessParams,
    validation_fraction: f64,
    choice: ModelChoice,
    seed: u64,
    library_size: Option<f32>,
) -> Result<(TrainingSet, DataDescription, bool)> {
    let matrix = io::read(input, read)?;
    let was_preprocessed = preprocess::is_preprocessed(&matrix);
    let mut matrix = if was_preprocessed {
        matrix
    } else {
        let mut params = preprocess_params.clone();
        params.split = None;
        if choice == ModelChoice::Scgan && params.label_key.is_none() {
            params.cluster = None;
        }
        preprocess::preprocess(matrix, &params)?.0
    };
    if matrix.n_genes() < 2 || matrix.n_cells() < 2 {
        return Err(Error::invalid_data(
            input,
            "X",
            format!(
                "{} cells x {} genes{}; training needs at least 2 cells and 2 genes",
                matrix.n_cells(),
                matrix.n_genes(),
                if was_preprocessed { "" } else { " after preprocessing" }
            ),
        ));
    }
    let label_key = preprocess_params.label_key.clone().or_else(|| {
        let recorded = matrix.uns.get("scgan")?.get("preprocess")?.get("label_key")?.as_str()?.to_string();
        Some(recorded)
    });
    if choice == ModelChoice::Cscgan && label_key.is_none() {
        return Err(Error::parameter(
            "--label-key",
            "cscGAN needs cell types: give --label-key, let preprocessing cluster the cells (drop --no-cluster), \
             or train --model scgan",
        ));
    }
    let labels: Vec<String> = match &label_key {
        Some(key) => matrix.labels(key)?.into_iter().map(Option::unwrap_or_default).collect(),
        None => vec!["all cells".to_string(); matrix.n_cells()],
    };
    if matrix.obs.get("split").is_none() {
        let params = SplitParams { validation: validation_fraction, test: 0.0, seed };
        split::split(&mut matrix, &labels, label_key.as_deref().unwrap_or("(all cells)"), &params)?;
    }
    let parts = matrix.labels("split")?;
    let rows_of = |part: &str| -> Vec<usize> {
        (0..matrix.n_cells()).filter(|&i| parts[i].as_deref() == Some(part) && !labels[i].is_empty()).collect()
    };
    let (train_rows, validation_rows) = (rows_of("train"), rows_of("validation"));
    // One cell is no distribution to learn, and the validation figure's projection (fitted on the training cells)
    // needs two: refused here, where the message can say which column to fix.
    if train_rows.len() < 2 {
        let marked = if train_rows.is_empty() { "no cells are" } else { "only one cell is" };
        return Err(Error::invalid_data(
            input,
            "obs['split']",
            format!("{marked} marked \"train\" (with a cell type); training needs at least 2"),
        ));
    }
    // A cell without counts cannot be normalised, and its library size of 0 would be drawn for generated cells,
    // whose counts are then normalised by a total of 0: the losses turn NaN at the first step, which reads as
    // divergence. Such cells get in with --min-genes 0, or when the genes kept (--hvg) are none of a cell's.
    let totals = matrix.x.row_sums();
    if let Some(&empty) = train_rows.iter().chain(&validation_rows).find(|&&i| totals[i] <= 0.0) {
        let n_empty = train_rows.iter().chain(&validation_rows).filter(|&&i| totals[i] <= 0.0).count();
        return Err(Error::invalid_data(
            input,
            read.layer.as_deref().map_or("X".to_string(), |layer| format!("layers['{layer}']")),
            format!(
                "cell '{}' ({n_empty} cell{} in all) has no counts in the {} genes{}; training needs counts in \
                 every cell (remove such cells, e.g. preprocess with --min-genes 1 or more)",
                matrix.obs_names()[empty],
                if n_empty == 1 { "" } else { "s" },
                matrix.n_genes(),
                if was_preprocessed { "" } else { " kept by preprocessing" },
            ),
        ));
    }
    // Classes in the order of the label column's categories (or sorted), restricted to those trained on.
    let ordered: Vec<String> = match label_key.as_deref().and_then(|k| matrix.obs.get(k)) {
        Some(Column::Categorical { categories, .. }) => categories.clone(),
        _ => {
            let mut distinct: Vec<String> = labels.clone();
            distinct.sort();
            distinct.dedup();
            distinct
        }
    };
    let classes: Vec<String> = ordered.into_iter().filter(|c| train_rows.iter().any(|&i| &labels[i] == c)).collect();
    let code = |i: usize| classes.iter().position(|c| c == &labels[i]);
    let validation_rows: Vec<usize> = validation_rows.into_iter().filter(|&i| code(i).is_some()).collect();
    let codes = |rows: &[usize]| rows.iter().map(|&i| code(i).unwrap_or(0) as u32).collect::<Vec<u32>>();

    // The model's library size is the preprocessing's normalisation target, as in the paper (20,000 for both); a
    // file written by `scgan preprocess` keeps the target it was normalised with.
    let recorded_target = || matrix.uns.get("scgan")?.get("preprocess")?.get("target_sum")?.as_f64();
    let target_sum = if was_preprocessed { recorded_target() } else { None };
    if let Some(target) = target_sum.filter(|t| !(*t > 0.0 && *t <= f32::MAX as f64)) {
        return Err(Error::invalid_data(
            input,
            "uns['scgan']['preprocess']['target_sum']",
            format!(
                "{} is not a positive library size: preprocess the raw counts again",
                preprocess::short_number(target)
            ),
        ));
    }
    let library_size = library_size.unwrap_or(target_sum.unwrap_or(preprocess_params.target_sum) as f32);
    let train = CellSet::new(matrix.x.select_rows(&train_rows), codes(&train_rows), library_size);
    let validation = CellSet::new(matrix.x.select_rows(&validation_rows), codes(&validation_rows), library_size);
    let totals = train.counts.row_sums();
    let mut library_sizes = vec![Vec::new(); classes.len()];
    for (k, &label) in train.labels.iter().enumerate() {
        library_sizes[label as usize].push(totals[k]);
    }
    let class_proportions = library_sizes.iter().map(|s| s.len() as f64 / train.len() as f64).collect();
    let description = DataDescription {
        genes: matrix.var_names().to_vec(),
        label_key,
        classes,
        class_proportions: Vec::clone(&class_proportions),
        library_sizes,
        n_train: train.len(),
        n_validation: validation.len(),
    };
    Ok((TrainingSet { train, validation, class_proportions, library_size }, description, was_preprocessed))
}

/// Builds the network and checks that its batches fit in memory (its weights are checked first, by
/// [`crate::model::validate`], so that too wide layers are blamed on the widths, not on the batch size).
fn build_model(config: &ModelConfig, params: &TrainParams) -> Result<Box<dyn GanBackend>> {
    let model = CpuGan::new(config.clone(), params.optimizer, params.seed, params.threads)?;
    ensure_batch_fits(config, params.batch_size)?;
    Ok(Box::new(model))
}

/// Refuses a `--batch-size` whose activations cannot be held in memory, before anything is allocated or written
/// (an allocation that fails aborts the process, leaving a half-made run folder behind).
fn ensure_batch_fits(config: &ModelConfig, batch_size: usize) -> Result<()> {
    let width = |widths: &[usize]| widths.iter().map(|&w| w as f64).sum::<f64>();
    // Per cell, 4 bytes a value: the critic's activations for real, generated and interpolated cells with their
    // gradients, and the generator's with theirs. An estimate on the low side: it is to catch absurd sizes.
    let critic = config.n_genes as f64 + width(&config.critic_layers);
    let generator = (config.latent_dim + config.n_genes) as f64 + width(&config.generator_layers);
    let bytes = batch_size as f64 * (6.0 * critic + 3.0 * generator) * 4.0;
    crate::io::memory::ensure_setting_fits(
        "--batch-size",
        &format!("a batch of {batch_size} cells x {} genes", config.n_genes),
        bytes.min(u64::MAX as f64) as u64,
        "use a smaller --batch-size",
    )
}

/// Starts a new run in `out` (which must not hold one already).
#[allow(clippy::too_many_arguments)]
pub fn start(
    input: &Path,
    read: &ReadOptions,
    preprocess_params: &PreprocessParams,
    validation_fraction: f64,
    params: TrainParams,
    preset: &str,
    out: &Path,
) -> Result<Session> {
    params.check()?;
    let run = RunFolder::new(out);
    if run.config().exists() {
        return Err(Error::invalid_data(
            out,
            "config.json",
            "this folder already holds a run: continue it with --resume, or choose another --out",
        ));
    }
    let (data, description, was_preprocessed) =
        prepare_data(input, read, preprocess_params, validation_fraction, params.model, params.seed, None)?;
    if params.critic_input == CriticInput::Log1pCounts {
        let counts = &data.train.counts;
        if let Some(k) = counts.data().iter().position(|v| v.fract() != 0.0) {
            let gene = &description.genes[counts.indices()[k] as usize];
            return Err(Error::invalid_data(
                input,
                read.layer.as_deref().map_or("X".to_string(), |layer| format!("layers['{layer}']")),
                format!(
                    "holds {} (gene {gene}), not a whole count: --critic-input log1p-counts shows the critic raw \
                     counts, which generated cells always are (give the raw counts, or another --critic-input)",
                    counts.data()[k]
                ),
            ));
        }
    }
    // config.json records the target the cells were normalised to: a preprocessed file's own, whatever the flag said
    let mut preprocess_params = preprocess_params.clone();
    if was_preprocessed {
        preprocess_params.target_sum = data.library_size as f64;
    }
    let kind = match params.model {
        ModelChoice::Scgan => ModelKind::Scgan,
        ModelChoice::Cscgan => {
            ModelKind::Cscgan { n_classes: description.classes.len(), critic: params.conditional_critic }
        }
    };
    let mut model_config = ModelConfig::paper(description.genes.len(), kind);
    model_config.library_size = data.library_size;
    model_config.critic_input = params.critic_input;
    model_config.generator_average = params.generator_average;
    model_config.output_noise = params.output_noise;
    model_config.precision = params.precision;
    model_config.critic_depth = params.critic_depth;
    model_config.generator_layers = params.generator_layers.clone();
    model_config.critic_layers = params.critic_layers.clone();
    let model = build_model(&model_config, &params)?;
    let config = RunConfig {
        scgan_version: crate::VERSION.to_string(),
        preset: preset.to_string(),
        input: std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf()),
        layer: read.layer.clone(),
        transpose: read.transpose,
        preprocess: preprocess_params,
        input_was_preprocessed: was_preprocessed,
        validation_fraction,
        train: params,
        model: model_config,
    };
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_json(&run.data(), &description)?;
    write_json(&run.config(), &config)?;
    let _ = std::fs::remove_file(run.log());
    Ok(Session { model, data, run, state: LoopState::default(), config, description })
}

/// The settings that shape the network, as the command line spells them. The critic's output layer exists only
/// in cscGAN, so on an scGAN run `--critic` shapes nothing and is not listed.
fn network_flags(params: &TrainParams) -> Vec<(&'static str, String)> {
    let widths = |widths: &[usize]| widths.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let model = match params.model {
        ModelChoice::Scgan => "scgan",
        ModelChoice::Cscgan => "cscgan",
    };
    let critic_input = match params.critic_input {
        CriticInput::Normalized => "normalized",
        CriticInput::Log1p => "log1p",
        CriticInput::Log1pCounts => "log1p-counts",
    };
    let mut flags = vec![
        ("--model", model.to_string()),
        ("--critic-input", critic_input.to_string()),
        ("--generator-average", params.generator_average.unwrap_or(0.0).to_string()),
        ("--output-noise", params.output_noise.to_string()),
        ("--library-input", params.library_input.to_string()),
        ("--critic-depth", params.critic_depth.to_string()),
        ("--generator-layers", widths(&params.generator_layers)),
        ("--critic-layers", widths(&params.critic_layers)),
    ];
    if params.model == ModelChoice::Cscgan {
        let critic = match params.conditional_critic {
            ConditionalCritic::PerClassOutput => "per-class",
            ConditionalCritic::Projection => "projection",
        };
        flags.push(("--critic", critic.to_string()));
    }
    flags
}

/// Refuses settings given on resume that would shape another network than the one the run's checkpoint holds
/// (the network is rebuilt from config.json's `model`, so such a flag would otherwise be ignored in silence).
fn refuse_network_changes(recorded: &TrainParams, asked: &TrainParams, out: &Path) -> Result<()> {
    // `--model` comes first, so runs whose lists differ in length are refused on it.
    let mut settings =
        network_flags(recorded).into_iter().zip(network_flags(asked)).map(|((flag, was), (_, now))| (flag, (was, now)));
    match settings.find(|(_, (was, now))| was != now) {
        Some((flag, (was, now))) => Err(Error::parameter(
            flag,
            format!(
                "asks for {now}, but the run in {} was started with {was}: a resumed run keeps its network (its \
                 checkpoint holds that network's weights); start a new run with --out to train another one",
                out.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Resumes the run in `out` from its checkpoint; `update` applies the flags given on top of the run's own
/// settings (the stopping rule, threads, learning rate or any other training flag).
pub fn resume(out: &Path, update: impl FnOnce(&mut TrainParams)) -> Result<Session> {
    let run = RunFolder::new(out);
    if !run.config().exists() {
        return Err(Error::io(
            run.config(),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a run folder (no config.json); start one with `scgan train INPUT --out FOLDER`",
            ),
        ));
    }
    let mut config = RunConfig::read(&run.config())?;
    let description: DataDescription = read_json(&run.data())?;
    description.check(&run.data(), &config.model)?;
    let recorded = config.train.clone();
    update(&mut config.train);
    refuse_network_changes(&recorded, &config.train, out)?;
    config.train.check()?;
    // The arithmetic may change on resume (a run started with bf16 products continues on a CPU without AMX).
    config.model.precision = config.train.precision;
    let read = ReadOptions { layer: config.layer.clone(), transpose: config.transpose };
    let (data, rebuilt, _) = prepare_data(
        &config.input,
        &read,
        &config.preprocess,
        config.validation_fraction,
        config.train.model,
        config.train.seed,
        Some(config.model.library_size),
    )?;
    if rebuilt.genes != description.genes || rebuilt.classes != description.classes {
        return Err(Error::invalid_data(
            &config.input,
            "genes / classes",
            format!("differ from those the run in {} was trained on: the input file changed", out.display()),
        ));
    }
    let mut model = build_model(&config.model, &config.train)?;
    // A run killed while writing leaves temporary files next to the complete ones; they are never read.
    crate::io::remove_stale_temporaries(&run.path);
    if let Some(state_folder) = run.checkpoint().parent() {
        crate::io::remove_stale_temporaries(state_folder);
    }
    let state = if run.checkpoint().exists() {
        load_checkpoint(&run, model.as_mut())?
    } else {
        // Stopped before its first checkpoint: nothing was kept but the settings, so the run starts again
        // from step 0 with the same seed (the same run it would have been).
        eprintln!(
            "note: {} does not exist yet (the run stopped before its first checkpoint): starting from step 0",
            run.checkpoint().display()
        );
        LoopState::default()
    };
    if state.position > data.train.len() {
        return Err(Error::format(
            run.checkpoint(),
            "__metadata__.loop.position",
            format!(
                "is {} but the run has {} training cells: the checkpoint is damaged or from another run",
                state.position,
                data.train.len()
            ),
        ));
    }
    truncate_log(&run, state.step)?;
    write_json(&run.config(), &config)?;
    Ok(Session { model, data, run, state, config, description })
}

/// Removes what [`start`] and a failed first session wrote in `run` (the folder too when `existed` is false and
/// nothing else is in it). Used when a new run fails before its first checkpoint, so that no half run folder is
/// left behind; files scgan did not write are never touched.
pub fn discard(run: &RunFolder, existed: bool) {
    for file in [run.config(), run.data(), run.log(), run.model(), run.model_state(), run.checkpoint()] {
        let _ = std::fs::remove_file(file);
    }
    if let Some(state) = run.checkpoint().parent() {
        crate::io::remove_stale_temporaries(state);
        let _ = std::fs::remove_dir(state);
    }
    crate::io::remove_stale_temporaries(&run.path);
    if !existed {
        let _ = std::fs::remove_dir(&run.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_refuses_only_what_shapes_the_network() {
        let out = Path::new("runs/x");
        let cscgan = TrainParams::paper();
        let mut asked = cscgan.clone();
        asked.learning_rate *= 2.0;
        asked.steps += 10;
        assert!(refuse_network_changes(&cscgan, &asked, out).is_ok(), "training flags may change");
        asked.conditional_critic = ConditionalCritic::Projection;
        let message = refuse_network_changes(&cscgan, &asked, out).unwrap_err().to_string();
        assert!(message.contains("--critic") && message.contains("projection") && message.contains("per-class"));
        // On an scGAN run the critic's output layer is not part of the network.
        let scgan = TrainParams { model: ModelChoice::Scgan, ..TrainParams::paper() };
        let asked = TrainParams { conditional_critic: ConditionalCritic::Projection, ..scgan.clone() };
        assert!(refuse_network_changes(&scgan, &asked, out).is_ok());
        let asked = TrainParams { generator_average: Some(0.999), ..scgan.clone() };
        let message = refuse_network_changes(&scgan, &asked, out).unwrap_err().to_string();
        assert!(message.contains("asks for 0.999") && message.contains("started with 0"), "{message}");
    }
}
