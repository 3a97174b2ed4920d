//! Counts in training: how the generator's training passes turn a value of `lambda` expected counts into a count
//! ([`CountDraw`]), and the slope the backward pass uses through that count.
//!
//! Every draw is a pure function of `(seed, index)` (a hash, not a stateful generator), so that training does not
//! depend on the thread count.

use crate::model::CountDraw;

/// A random 64-bit word from `(seed, index)` (SplitMix64's finaliser): the same for any thread count and cheap
/// enough for one draw per generated value.
pub(super) fn hash(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from `(seed, index)`: the rounding's randomness.
pub(super) fn uniform(seed: u64, index: u64) -> f64 {
    (hash(seed, index) >> 11) as f64 / (1u64 << 53) as f64
}

/// Mixed into the seed for the second uniform number of a normal approximation.
const NORMAL_SEED: u64 = 0x005e_ed0f_9a55;

/// A draw of `Poisson(mean)` from the uniform numbers of `(seed, index)`: by inversion of the distribution
/// function below a mean of 30 (one uniform, about `mean` steps), and from the normal approximation with a
/// continuity correction above it (skewness `1/sqrt(mean)` <= 0.18 there). Hand-written because the draw must be
/// a pure function of `(seed, index)` for results that do not depend on the thread count, which rand_distr's
/// `Poisson` (a stateful generator per draw) would make costly.
fn poisson(mean: f64, seed: u64, index: u64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    let u = uniform(seed, index);
    if mean < 30.0 {
        let (mut k, mut p) = (0.0, (-mean).exp());
        let mut cdf = p;
        while u > cdf && k < 1000.0 {
            k += 1.0;
            p *= mean / k;
            cdf += p;
        }
        k
    } else {
        let normal = box_muller(u, uniform(seed ^ NORMAL_SEED, index));
        (mean + mean.sqrt() * normal + 0.5).floor().max(0.0)
    }
}

/// A draw of `Binomial(n, p)` from the uniform numbers of `(seed, index)`: by inversion while the expected number
/// of the rarer outcome, `n min(p, 1 - p)`, is below 30 (about that many steps), from the normal approximation with
/// a continuity correction above it (skewness below 0.18, as for [`poisson`]; clamped to `[0, n]`). Hand-written
/// for the reason [`poisson`] is. Used to thin counts: each of `n` counts kept with probability `p`.
pub(crate) fn binomial(n: f64, p: f64, seed: u64, index: u64) -> f64 {
    if n <= 0.0 || p >= 1.0 {
        return n.max(0.0);
    }
    if p > 0.5 {
        // count the counts dropped, the rarer outcome
        return n - binomial(n, 1.0 - p, seed, index);
    }
    let q = 1.0 - p;
    let u = uniform(seed, index);
    if n * p < 30.0 {
        let (mut k, mut pk) = (0.0, q.powf(n));
        let mut cdf = pk;
        while u > cdf && k < n {
            pk *= (n - k) / (k + 1.0) * p / q;
            k += 1.0;
            cdf += pk;
        }
        k
    } else {
        let normal = box_muller(u, uniform(seed ^ NORMAL_SEED, index));
        (n * p + (n * p * q).sqrt() * normal + 0.5).floor().clamp(0.0, n)
    }
}

/// A standard normal number from two uniform numbers in [0, 1) (the cosine half of Box-Muller).
fn box_muller(u: f64, v: f64) -> f64 {
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Whether `draw` rounds `lambda` (random rounding, or the first count of a rounded-Poisson draw) rather than
/// drawing it: the one rule [`draw_count`], [`start_count`] and their thinned forms share.
fn rounds(draw: CountDraw, lambda: f64) -> bool {
    draw == CountDraw::Round || (draw == CountDraw::RoundedPoisson && lambda < 1.0)
}

/// The count a value of `lambda` expected counts becomes under `draw`, from the uniform numbers of `(seed, index)`.
pub(super) fn draw_count(draw: CountDraw, lambda: f64, seed: u64, index: u64) -> f64 {
    if rounds(draw, lambda) {
        (lambda + uniform(seed, index)).floor()
    } else if draw == CountDraw::RoundedPoisson {
        1.0 + poisson(lambda - 1.0, seed, index)
    } else {
        poisson(lambda, seed, index)
    }
}

/// The count the backward pass's step over one count starts from ([`count_step_slope`]'s `base`, in counts): the
/// rounding's floor where `draw` rounded `lambda`, the drawn count (`drawn()`, only read then) where it was drawn.
pub(super) fn start_count(draw: CountDraw, lambda: f64, drawn: impl FnOnce() -> f64) -> f64 {
    if rounds(draw, lambda) {
        lambda.floor()
    } else {
        drawn()
    }
}

/// Mixed into the seed for the thinning's draws, so that they are independent of the draw they thin.
const THINNING_SEED: u64 = 0x7417_7e11_0000_0000;
/// Mixed into the seed for whether a rounded-up count is kept.
const KEPT_EXTRA_SEED: u64 = 0x7417_7e11_e874_0000;

/// The count `draw` makes of `lambda`, thinned: each count kept with probability `keep` (binomial thinning). A
/// rounded value `floor(lambda) + [rounded up]` is thinned as its whole counts and its extra count apart (the same
/// distribution, `Binomial(count, keep)`), so that the backward pass can redraw the thinned whole counts
/// ([`start_thinned_count`]).
pub(super) fn draw_thinned_count(draw: CountDraw, lambda: f64, keep: f64, seed: u64, index: u64) -> f64 {
    if rounds(draw, lambda) {
        let whole = lambda.floor();
        let rounded_up = (lambda + uniform(seed, index)).floor() > whole;
        let extra_kept = rounded_up && uniform(seed ^ KEPT_EXTRA_SEED, index) < keep;
        binomial(whole, keep, seed ^ THINNING_SEED, index) + if extra_kept { 1.0 } else { 0.0 }
    } else {
        binomial(draw_count(draw, lambda, seed, index), keep, seed ^ THINNING_SEED, index)
    }
}

/// [`start_count`] for thinned counts: the thinned whole counts where `draw` rounded (one more expected count
/// before thinning is one more count with probability `keep` after it, on top of those; the same draws as
/// [`draw_thinned_count`]), the thinned count drawn (`drawn()`) where it was drawn (one more expected count of a
/// Poisson draw is, after thinning, one more with probability `keep` on top of the thinned draw).
pub(super) fn start_thinned_count(
    draw: CountDraw,
    lambda: f64,
    keep: f64,
    seed: u64,
    index: u64,
    drawn: impl FnOnce() -> f64,
) -> f64 {
    if rounds(draw, lambda) {
        binomial(lambda.floor(), keep, seed ^ THINNING_SEED, index)
    } else {
        drawn()
    }
}

/// The gradient of a count-valued output `y = ln(1 + k u)` (`u`: one count in normalised units) with respect to
/// the normalised value `x` it was made from, whose expected count is `lambda = x s`: the forward difference over
/// one count, `s (ln(1 + (k + 1) u) - ln(1 + k u)) = s ln(1 + u / (1 + base))` with `base = k u`.
///
/// It is exact in expectation for a critic linear in `y`: random rounding gives
/// `E y = (1 - f) h(m) + f h(m + 1)` (`m = floor(lambda)`, `f` its fraction, `h(k) = ln(1 + k u)`), whose slope in
/// `lambda` is `h(m + 1) - h(m)`; a Poisson draw has `d/dlambda E h(k) = E[h(k + 1) - h(k)]`. The straight-through
/// slope `s u / (1 + base)` (`d y / d x` at the drawn value, with `s u ~= 1`) is 11x steeper at zero counts (a
/// count of 44 normalised units: `44` against `ln 45 = 3.8`), so genes drawn or rounded to zero pulled on the
/// generator ten times too hard.
pub(super) fn count_step_slope(base: f64, unit: f64, s: f64) -> f64 {
    s * (unit / (1.0 + base)).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Poisson draws have the mean and variance of the distribution, below and above the switch to the
    /// normal approximation.
    #[test]
    fn poisson_draws_have_their_mean_and_variance() {
        for mean in [0.05, 0.7, 4.0, 29.0, 31.0, 400.0] {
            let draws: Vec<f64> = (0..40_000).map(|i| poisson(mean, 77, i)).collect();
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            let v = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
            assert!(draws.iter().all(|d| *d >= 0.0 && d.fract() == 0.0));
            let se = (mean / draws.len() as f64).sqrt();
            assert!((m - mean).abs() < 5.0 * se, "mean {m} for Poisson({mean})");
            assert!((v / mean - 1.0).abs() < 0.06, "variance {v} for Poisson({mean})");
        }
    }

    /// Thinning keeps each count with probability `p`: the draws have the binomial mean and variance, never exceed
    /// the counts thinned, and `p = 1` keeps every count.
    #[test]
    fn binomial_draws_have_their_mean_and_variance() {
        for (n, p) in [(1.0, 0.5), (3.0, 0.7), (20.0, 0.5), (39.0, 0.9), (60.0, 0.05), (60.0, 0.95), (900.0, 0.7)] {
            let draws: Vec<f64> = (0..40_000).map(|i| binomial(n, p, 11, i)).collect();
            assert!(draws.iter().all(|&k| (0.0..=n).contains(&k) && k.fract() == 0.0));
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            let v = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
            let variance = n * p * (1.0 - p);
            assert!((m - n * p).abs() < 5.0 * (variance / draws.len() as f64).sqrt(), "mean {m} for B({n}, {p})");
            assert!((v / variance - 1.0).abs() < 0.06, "variance {v} for B({n}, {p})");
        }
        assert_eq!(binomial(17.0, 1.0, 1, 2), 17.0);
        assert_eq!(binomial(0.0, 0.5, 1, 2), 0.0);
    }

    /// Through thinned counts the backward pass's step, averaged over the draws, is the derivative of the expected
    /// output `ln(1 + k' u)` (`k'` the thinned count, `u` one count at the thinned depth): checked by central
    /// differences of the exact expectation under random rounding (a mixture of two binomials) and under a Poisson
    /// draw (thinned, a Poisson draw of `keep lambda`).
    #[test]
    fn thinned_count_steps_average_to_the_derivative_of_the_expectation() {
        let pmf = |n: f64, p: f64| {
            let mut terms = vec![(1.0 - p).powf(n)];
            for k in 0..n as usize {
                let last = terms[k];
                terms.push(last * (n - k as f64) / (k as f64 + 1.0) * p / (1.0 - p));
            }
            terms
        };
        for (lambda, keep, unit) in [(0.4, 0.5, 3.0), (2.6, 0.5, 0.5), (7.3, 0.75, 0.2), (12.2, 0.3, 1.0)] {
            let h = |k: f64| (k * unit).ln_1p();
            let expect_binomial = |n: f64| pmf(n, keep).iter().enumerate().map(|(k, p)| p * h(k as f64)).sum::<f64>();
            let rounded = |l: f64| {
                let (m, f) = (l.floor(), l.fract());
                (1.0 - f) * expect_binomial(m) + f * expect_binomial(m + 1.0)
            };
            let sampled = |l: f64| {
                let mean = keep * l;
                let mut p = (-mean).exp();
                (0..400).fold(0.0, |e, k| {
                    let term = p * h(k as f64);
                    p *= mean / (k + 1) as f64;
                    e + term
                })
            };
            let dl = 1e-6;
            for (draw, expectation) in
                [(CountDraw::Round, &rounded as &dyn Fn(f64) -> f64), (CountDraw::Poisson, &sampled)]
            {
                let exact = (expectation(lambda + dl) - expectation(lambda - dl)) / (2.0 * dl);
                let n = 200_000;
                let mean_step = (0..n as u64)
                    .map(|i| {
                        let kept = draw_thinned_count(draw, lambda, keep, 13, i);
                        let start = start_thinned_count(draw, lambda, keep, 13, i, || kept);
                        // the backward pass redraws the forward pass's thinned whole counts, not new ones
                        assert!(kept == start || (draw == CountDraw::Round && kept == start + 1.0), "{kept} {start}");
                        // per unit of lambda: count_step_slope's `s` is keep (lambda counts -> keep lambda kept)
                        count_step_slope(start * unit, unit, keep)
                    })
                    .sum::<f64>()
                    / n as f64;
                assert!((mean_step / exact - 1.0).abs() < 0.01, "{draw:?} {lambda} {keep}: {mean_step} vs {exact}");
            }
        }
    }

    /// A rounded first count and Poisson draws beyond it: below one count a value becomes 0 or 1 with mean `lambda`;
    /// above it the count is at least 1, with mean `lambda` and variance `lambda - 1`; the backward pass starts
    /// from 0 below one count and from the drawn count above.
    #[test]
    fn rounded_poisson_draws_round_the_first_count_and_draw_the_rest() {
        for lambda in [0.3, 0.95, 1.0, 3.0, 30.0] {
            let draws: Vec<f64> = (0..40_000).map(|i| draw_count(CountDraw::RoundedPoisson, lambda, 5, i)).collect();
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            let v = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
            assert!((m - lambda).abs() < 0.02 * lambda.max(1.0), "mean {m} for {lambda}");
            if lambda < 1.0 {
                assert!(draws.iter().all(|&k| k == 0.0 || k == 1.0), "{lambda} is rounded");
                assert!((v - lambda * (1.0 - lambda)).abs() < 0.01, "variance {v} for {lambda}");
                assert_eq!(start_count(CountDraw::RoundedPoisson, lambda, || 1.0), 0.0);
            } else {
                assert!(draws.iter().all(|&k| k >= 1.0 && k.fract() == 0.0), "the first count is certain");
                assert!((v - (lambda - 1.0)).abs() < 0.06 * lambda, "variance {v} for {lambda}");
                assert_eq!(start_count(CountDraw::RoundedPoisson, lambda, || 4.0), 4.0);
            }
        }
        assert_eq!(start_count(CountDraw::Round, 2.7, || 3.0), 2.0);
        assert_eq!(start_count(CountDraw::Poisson, 0.4, || 1.0), 1.0);
    }

    /// The slope the backward pass uses through counts is the derivative of the expected output `ln(1 + k u)`:
    /// checked by central differences of the exact expectation under random rounding, a Poisson draw and a rounded
    /// first count with Poisson draws beyond it.
    #[test]
    fn count_step_slope_is_the_derivative_of_the_expected_output() {
        let h = |k: f64, unit: f64| (k * unit).ln_1p();
        for (s, x) in [(0.022, 3.0), (0.022, 60.0), (0.022, 130.0), (0.5, 7.3), (2.0, 0.1)] {
            let unit = 1.0 / s;
            let rounded = |x: f64| {
                let (m, f) = ((x * s).floor(), (x * s).fract());
                (1.0 - f) * h(m, unit) + f * h(m + 1.0, unit)
            };
            let sampled = |x: f64| {
                let lambda = x * s;
                let mut p = (-lambda).exp();
                (0..400).fold(0.0, |e, k| {
                    let term = p * h(k as f64, unit);
                    p *= lambda / (k + 1) as f64;
                    e + term
                })
            };
            let dx = 1e-5 * x;
            let fd = |f: &dyn Fn(f64) -> f64| (f(x + dx) - f(x - dx)) / (2.0 * dx);
            let m = (x * s).floor();
            let slope = count_step_slope(m * unit, unit, s);
            assert!((fd(&rounded) - slope).abs() < 1e-6 * slope, "rounding at x {x}, s {s}");
            let (mut p, lambda) = ((-x * s).exp(), x * s);
            let expected = (0..400).fold(0.0, |e, k| {
                let term = p * count_step_slope(k as f64 * unit, unit, s);
                p *= lambda / (k + 1) as f64;
                e + term
            });
            assert!((fd(&sampled) - expected).abs() < 1e-6 * expected, "Poisson at x {x}, s {s}");
            // a rounded first count and Poisson draws beyond it: k = 1 + Poisson(lambda - 1) above one count
            if lambda > 1.0 {
                let shifted = |x: f64| {
                    let rest = x * s - 1.0;
                    let mut p = (-rest).exp();
                    (0..400).fold(0.0, |e, k| {
                        let term = p * h(k as f64 + 1.0, unit);
                        p *= rest / (k + 1) as f64;
                        e + term
                    })
                };
                let mut p = (1.0 - lambda).exp();
                let expected = (0..400).fold(0.0, |e, k| {
                    let term = p * count_step_slope((k + 1) as f64 * unit, unit, s);
                    p *= (lambda - 1.0) / (k + 1) as f64;
                    e + term
                });
                assert!((fd(&shifted) - expected).abs() < 1e-6 * expected, "rounded Poisson at x {x}, s {s}");
            }
        }
    }
}
