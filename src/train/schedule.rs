//! The learning-rate schedule: the paper's exponential decay, and an optional linear cooldown at the end of the
//! budget.

use super::TrainParams;

impl TrainParams {
    /// The learning rate at `step`, `session_seconds` into this session: the exponential decay, times the
    /// cooldown's factor.
    pub fn learning_rate_at(&self, step: u64, session_seconds: f64) -> f32 {
        let ratio = (self.learning_rate_final / self.learning_rate) as f64;
        let decayed = self.learning_rate as f64 * ratio.powf(step as f64 / self.decay_steps as f64);
        (decayed * self.cooldown_factor(step, session_seconds)) as f32
    }

    /// 1 until the last `cooldown` of the budget, then falling linearly to 0 at its end.
    fn cooldown_factor(&self, step: u64, session_seconds: f64) -> f64 {
        if self.cooldown <= 0.0 {
            return 1.0;
        }
        let by_steps = step as f64 / self.steps as f64;
        let by_time = self.time_limit_seconds.map_or(0.0, |limit| session_seconds / limit);
        let left = 1.0 - by_steps.max(by_time).min(1.0);
        (left / self.cooldown as f64).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::presets;

    #[test]
    fn the_paper_decays_exponentially_and_a_cooldown_falls_to_zero_at_the_end_of_the_budget() {
        let paper = TrainParams::paper();
        assert_eq!(paper.learning_rate_at(0, 0.0), 1e-4);
        assert!((paper.learning_rate_at(500_000, 0.0) - 1e-4 / 10f32.sqrt()).abs() < 1e-9);
        assert!((paper.learning_rate_at(1_000_000, 0.0) - 1e-5).abs() < 1e-10);

        let steps = TrainParams { steps: 1000, cooldown: 0.25, ..presets::default() };
        let plain = presets::default();
        for step in [0, 400, 750] {
            assert_eq!(steps.learning_rate_at(step, 0.0), plain.learning_rate_at(step, 0.0), "step {step}");
        }
        let ratio = |step| steps.learning_rate_at(step, 0.0) / plain.learning_rate_at(step, 0.0);
        assert!((ratio(875) - 0.5).abs() < 1e-6, "{}", ratio(875));
        assert!((ratio(950) - 0.2).abs() < 1e-6, "{}", ratio(950));
        assert_eq!(steps.learning_rate_at(1000, 0.0), 0.0);

        // a time budget: whichever of steps and time runs out first sets the pace
        let timed = TrainParams { time_limit_seconds: Some(100.0), cooldown: 0.5, ..presets::default() };
        let plain_rate = plain.learning_rate_at(10, 0.0);
        assert_eq!(timed.learning_rate_at(10, 40.0), plain_rate);
        assert!((timed.learning_rate_at(10, 75.0) / plain_rate - 0.5).abs() < 1e-6);
        assert_eq!(timed.learning_rate_at(10, 120.0), 0.0);
    }
}
