//! Named starting points for training settings.
//!
//! `paper` is the published model and hyper-parameters (SPEC.md), exactly. `default` is the paper's network and
//! WGAN-GP training with the changes that BENCHMARKS.md ("Realism per minute") measured to give more realistic
//! cells in the same CPU time: the critic sees `ln(1 + x)` of the normalised cells instead of values up to
//! 20,000, the learning rate starts 3x higher and falls linearly to zero over the last 40% of the budget
//! (`--cooldown 0.4`), the critic sees the generated cells rounded to counts at real library sizes
//! (`--critic-counts rounded`), as `scgan generate` delivers them, each generated cell's library size is drawn
//! first and given to the generator (`--library-input true`), the critic reads each cell's depth beside its values
//! (`--critic-depth true`), and on CPUs with AMX-BF16 the matrix products are
//! bf16 with f32 sums (`--precision bf16`: 1.5-2x the steps per minute). Every setting is recorded in the run's
//! `config.json`, and each one is a flag of `scgan train`.

use super::{CriticCounts, TrainParams};
use crate::model::{CriticInput, Precision};

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

/// The default settings: the paper's, with the critic on the log scale, a higher learning rate with a cooldown at
/// the end of the budget, count rounding at library sizes the generator is given, a critic that reads each cell's
/// depth, and bf16 products where the CPU has AMX-BF16 (f32 elsewhere).
pub fn default() -> TrainParams {
    TrainParams {
        critic_input: CriticInput::Log1p,
        learning_rate: 3e-4,
        learning_rate_final: 3e-5,
        cooldown: 0.4,
        critic_counts: CriticCounts::Rounded,
        library_input: true,
        critic_depth: true,
        precision: if crate::engine::bf16_available() { Precision::Bf16 } else { Precision::F32 },
        ..TrainParams::paper()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_preset_is_the_paper_and_every_name_resolves() {
        assert_eq!(named("paper"), Some(TrainParams::paper()));
        assert_eq!(TrainParams::paper().critic_input, CriticInput::Normalized);
        assert_eq!(TrainParams::paper().generator_average, None);
        assert_eq!(TrainParams::paper().critic_counts, CriticCounts::Profiles);
        assert!(!TrainParams::paper().library_input && default().library_input);
        assert!(!TrainParams::paper().critic_depth && default().critic_depth);
        default().check().unwrap();
        for name in NAMES {
            assert!(named(name).is_some(), "{name}");
        }
        assert!(named("fast").is_none());
        assert_eq!(TrainParams::paper().precision, Precision::F32);
        let bf16 = if crate::engine::bf16_available() { Precision::Bf16 } else { Precision::F32 };
        assert_eq!(default().precision, bf16);
        assert_eq!(TrainParams::paper().cooldown, 0.0);
    }
}
