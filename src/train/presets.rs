//! Named starting points for training settings.
//!
//! `paper` is the published model and hyper-parameters (SPEC.md), exactly. Presets set only training settings;
//! the network's shape is the paper's in every preset.

use super::TrainParams;

/// The names of the presets, the default first.
pub const NAMES: [&str; 1] = ["paper"];

/// The preset called `name`.
pub fn named(name: &str) -> Option<TrainParams> {
    match name {
        "paper" => Some(TrainParams::paper()),
        _ => None,
    }
}
