//! Mean matching: a term of the generator's loss that pulls each class's mean generated cell towards the mean
//! real cell of that class, as the critic sees cells ([`crate::model::MeanMatching`]).
//!
//! The batch mean of a class's generated cells is noisy, and the square of a noisy mean, `|m - t|^2`, also
//! rewards less varied cells (its expectation adds `Var(m)`): the term would push towards mode collapse. So each
//! class's cells of the batch are split into two halves, alternating in batch order, and the term is the product
//! `(m_A - t) . (m_B - t)`, whose expectation is `|E m - t|^2` for independent cells (about that in training,
//! where batch norm couples a batch's cells): it pulls the mean without squeezing the spread. Classes with fewer
//! than two cells in the batch add nothing.

use super::Scalar;

/// Targets and weight of the term, in the engine's float type.
#[derive(Debug, Clone, Default)]
pub(crate) struct MeanMatching<T> {
    /// Weight `w` (0: off).
    pub weight: f64,
    /// The real class means, `classes x n_genes`.
    pub targets: Vec<T>,
}

impl<T: Scalar> MeanMatching<T> {
    /// Whether the term is on.
    pub fn is_on(&self) -> bool {
        self.weight > 0.0 && !self.targets.is_empty()
    }

    /// Adds the gradient of `(w / 2) sum_c (n_c / B) (m_A - t_c) . (m_B - t_c)` with respect to the generated
    /// cells `fakes: (B, G)` (as the critic sees them) to `gx`, and returns the term's value. `labels` has one
    /// class per cell (empty: one class).
    pub fn add_gradient(&self, fakes: &[T], labels: &[u32], b: usize, g: usize, gx: &mut [T]) -> f64 {
        let classes = self.targets.len() / g;
        let mut halves: Vec<[Vec<usize>; 2]> = vec![Default::default(); classes];
        for i in 0..b {
            let class = labels.get(i).map_or(0, |&y| y as usize).min(classes - 1);
            let [a, other] = &mut halves[class];
            if a.len() == other.len() {
                a.push(i)
            } else {
                other.push(i)
            }
        }
        let mean = |rows: &[usize]| -> Vec<f64> {
            let mut m = vec![0.0; g];
            for &i in rows {
                m.iter_mut().zip(&fakes[i * g..(i + 1) * g]).for_each(|(s, x)| *s += x.to_f64());
            }
            m.iter_mut().for_each(|s| *s /= rows.len() as f64);
            m
        };
        let mut value = 0.0;
        for (class, [a, other]) in halves.iter().enumerate() {
            if other.is_empty() {
                continue;
            }
            let target = &self.targets[class * g..(class + 1) * g];
            let off = |m: Vec<f64>| -> Vec<f64> { m.iter().zip(target).map(|(m, t)| m - t.to_f64()).collect() };
            let (off_a, off_b) = (off(mean(a)), off(mean(other)));
            let coef = 0.5 * self.weight * (a.len() + other.len()) as f64 / b as f64;
            value += coef * off_a.iter().zip(&off_b).map(|(x, y)| x * y).sum::<f64>();
            // each half's cells move the product through their own mean, with the other half's offset
            for (rows, offset) in [(a, &off_b), (other, &off_a)] {
                let scale = coef / rows.len() as f64;
                for &i in rows {
                    for (d, o) in gx[i * g..(i + 1) * g].iter_mut().zip(offset) {
                        *d += T::from_f64(scale * o);
                    }
                }
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient is the term's derivative (central differences; the term is a polynomial in the cells), and
    /// the term vanishes when both halves sit on the target.
    #[test]
    fn gradient_matches_central_differences() {
        let (b, g) = (7, 3);
        let matching = MeanMatching { weight: 1.7, targets: vec![0.5, 1.0, -0.2, 2.0, 0.0, 0.3] };
        let labels = [0, 1, 0, 0, 1, 1, 0];
        let fakes: Vec<f64> = (0..b * g).map(|i| ((i * 37 % 11) as f64) / 5.0).collect();
        let mut gx = vec![0.0; b * g];
        matching.add_gradient(&fakes, &labels, b, g, &mut gx);
        let value = |x: &[f64]| matching.add_gradient(x, &labels, b, g, &mut vec![0.0; b * g]);
        for k in 0..b * g {
            let (mut up, mut down) = (fakes.clone(), fakes.clone());
            up[k] += 1e-5;
            down[k] -= 1e-5;
            let fd = (value(&up) - value(&down)) / 2e-5;
            assert!((fd - gx[k]).abs() < 1e-8, "cell {} gene {}: {fd} against {}", k / g, k % g, gx[k]);
        }
        let class_target = |c: u32| matching.targets[c as usize * g..(c as usize + 1) * g].to_vec();
        let on_target: Vec<f64> = labels.iter().flat_map(|&c| class_target(c)).collect();
        assert_eq!(value(&on_target), 0.0);
    }
}
