//! Named starting points for training settings.
//!
//! `paper` is the published model and hyper-parameters (SPEC.md), exactly. `default` is the paper's network and
//! WGAN-GP training with the changes that BENCHMARKS.md ("Realism per minute") measured to give more realistic
//! cells in the same CPU time: the critic sees `ln(1 + x)` of the normalised cells instead of values up to
//! 20,000, the learning rate starts 3x higher, and the critic sees the generated cells rounded to counts at real
//! library sizes (`--critic-counts rounded`), as `scgan generate` delivers them. Every setting is recorded in the
//! run's `config.json`, and each one is a flag of `scgan train`. `--precision bf16` (1.5-2x the steps per minute on
//! CPUs with AMX-BF16) is not part of it: more realistic in 20 minutes on pbmc, less on mouse_bladder.

use super::{CriticCounts, TrainParams};
use crate::model::CriticInput;

/// The preset used when none is named.
pub const DEFAULT: &str = "default";

/// The names of the presets, the default first.
pub const NAMES: [&str; 2] = [DEFAULT, "paper"];

/// The preset called `name`.
pub fn named(name: &str) -> Option<TrainParams> {
    match name {
        DEFAULT => Some(default()),
        "paper" => Some(TrainParams::paper()),
        _ => None,
    }
}

/// The default settings: the paper's, with the critic on the log scale, a higher learning rate and count
/// rounding.
pub fn default() -> TrainParams {
    TrainParams {
        critic_input: CriticInput::Log1p,
        learning_rate: 3e-4,
        learning_rate_final: 3e-5,
        critic_counts: CriticCounts::Rounded,
        ..TrainParams::paper()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Precision;

    #[test]
    fn the_paper_preset_is_the_paper_and_every_name_resolves() {
        assert_eq!(named("paper"), Some(TrainParams::paper()));
        assert_eq!(TrainParams::paper().critic_input, CriticInput::Normalized);
        assert_eq!(TrainParams::paper().generator_average, None);
        assert_eq!(TrainParams::paper().critic_counts, CriticCounts::Profiles);
        for name in NAMES {
            assert!(named(name).is_some(), "{name}");
        }
        assert!(named("fast").is_none());
        assert_eq!(TrainParams::paper().precision, Precision::F32);
        assert_eq!(default().precision, Precision::F32);
    }
}
