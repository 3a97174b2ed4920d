//! What training writes as it goes (`log.jsonl`, one [`LogEntry`] per step) and reports when it stops
//! ([`TrainOutcome`]).

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::run::RunFolder;
use crate::error::{Error, Result};

/// One line of `log.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Generator steps done.
    pub step: u64,
    /// Seconds of training so far.
    pub seconds: f64,
    /// Critic loss of the step's last critic update (with `--penalty-every`, the Wasserstein term plus lambda times
    /// the latest penalty: the loss of an average update, without the jumps of the updates that weigh it K times).
    pub critic_loss: f32,
    /// Wasserstein estimate, mean D(real) - mean D(fake).
    pub wasserstein: f32,
    /// Gradient penalty (without lambda) of the step's last critic update that computed it (with
    /// `--penalty-every`, not every update does; none yet in this session: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_penalty: Option<f32>,
    /// Generator loss (with `mean_matching`, its term included).
    pub generator_loss: f32,
    /// The critic's learning rate at this step (the generator's is `--generator-learning-rate-ratio` times it).
    pub learning_rate: f32,
    /// Validation kNN AUROC (generated vs held-out cells; the saved model is chosen by it), on the steps it was
    /// computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_knn_auroc: Option<f64>,
    /// Validation MMD² on principal components, on the steps it was computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_mmd: Option<f64>,
    /// The count noise the two validation figures are at: the one of
    /// [`super::validation::COUNT_NOISE_CHOICES`] that [`super::validation::choose_count_noise`] chose (none unless
    /// the cells without noise are clearly more spread out than the validation cells; then the noise that closes
    /// about half of the excess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_count_noise: Option<f64>,
    /// The validation kNN AUROC at every count noise compared (those of
    /// [`super::validation::COUNT_NOISE_CHOICES`], lowest first; only with rescaled counts), which the choice above
    /// was made from: kept so that other rules for the choice can be tried on finished runs, at every check and
    /// not only on the saved model (BENCHMARKS.md, Session 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_knn_auroc_by_noise: Option<Vec<f64>>,
    /// The validation MMD² at every count noise compared, as `validation_knn_auroc_by_noise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_mmd_by_noise: Option<Vec<f64>>,
    /// The generated cells' spread over the validation cells' at every count noise compared
    /// ([`super::validation::ValidationScore::spread_ratio`]), which the choice is made by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_spread_by_noise: Option<Vec<f64>>,
}

/// What [`super::train`] reports when it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// Steps done in total.
    pub steps: u64,
    /// Steps done in this session.
    pub session_steps: u64,
    /// Seconds of this session.
    pub session_seconds: f64,
    /// The lowest validation kNN AUROC and its step.
    pub best: Option<(f64, u64)>,
    /// The validation kNN AUROC and step of the model kept in `model.safetensors` ([`super::validation::keeps`]).
    pub kept: Option<(f64, u64)>,
    /// The count noise chosen with the kept model, if it was validated at one.
    pub kept_count_noise: Option<f64>,
}

impl TrainOutcome {
    /// Which model `model.safetensors` holds, for the user: its step and validation figure, the lowest figure
    /// when another step had it, and the count noise chosen with it when there is one.
    pub fn kept_summary(&self) -> String {
        let model = match (self.kept, self.best) {
            (Some((kept, step)), Some((_, best_step))) if step == best_step => {
                format!("model kept: step {step}, validation kNN AUROC {kept:.4} (the lowest)")
            }
            (Some((kept, step)), Some((best, best_step))) => format!(
                "model kept: step {step}, validation kNN AUROC {kept:.4} (lowest {best:.4} at step {best_step}, \
                 within its standard error)"
            ),
            _ => "model kept: the latest (no validation figure)".to_string(),
        };
        match self.kept_count_noise {
            Some(noise) if noise > 0.0 => format!(
                "{model}; counts with {:.0}% of each expected count drawn as Poisson (chosen on validation cells)",
                noise * 100.0
            ),
            _ => model,
        }
    }
}

pub(super) fn write_log(log: &mut std::fs::File, run: &RunFolder, entry: &LogEntry) -> Result<()> {
    let line = serde_json::to_string(entry).unwrap_or_default();
    writeln!(log, "{line}").map_err(|e| Error::io(run.log(), e))
}

/// Drops log lines after `step` (a resumed run redoes those steps).
pub fn truncate_log(run: &RunFolder, step: u64) -> Result<()> {
    let path = run.log();
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let kept: String = text
        .lines()
        .filter(|line| serde_json::from_str::<LogEntry>(line).is_ok_and(|e| e.step <= step))
        .map(|line| format!("{line}\n"))
        .collect();
    crate::io::write_atomically(&path, |file| file.write_all(kept.as_bytes()))
}
