//! AMSGrad, as the reference's TensorFlow `AMSGrad.py` computes it (Adam's bias correction folded into the rate).
//!
//! For step `t` (1-based, counted per optimizer) and every element with gradient `g`:
//! ```text
//! lr_t  = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//! m     = beta1 m + (1 - beta1) g
//! v     = beta2 v + (1 - beta2) g^2
//! vhat  = max(vhat, v)
//! theta = theta - lr_t m / (sqrt(vhat) + eps)
//! ```
//! All moments start at zero. The update is one fused pass over five flat arrays, split in chunks over the
//! threads (memory bound: about 36 bytes per parameter and step in f32).

use faer::Par;
use rayon::prelude::*;

use super::Scalar;
use crate::model::OptimizerConfig;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// The state of one AMSGrad optimizer over a flat parameter array.
#[derive(Debug, Clone)]
pub(crate) struct AmsGrad<T> {
    /// First moment.
    pub m: Vec<T>,
    /// Second moment.
    pub v: Vec<T>,
    /// Running maximum of the second moment.
    pub vhat: Vec<T>,
    /// Number of updates applied so far.
    pub step: u64,
}

impl<T: Scalar> AmsGrad<T> {
    /// Zero moments for `len` parameters.
    pub fn new(len: usize) -> Self {
        AmsGrad { m: vec![T::ZERO; len], v: vec![T::ZERO; len], vhat: vec![T::ZERO; len], step: 0 }
    }

    /// Applies one update with learning rate `lr` to `values` given `grads`.
    ///
    /// # Panics
    /// If `values` or `grads` is not as long as the moments.
    pub fn update(&mut self, values: &mut [T], grads: &[T], lr: f32, cfg: &OptimizerConfig, par: Par) {
        assert!(values.len() == self.m.len() && grads.len() == self.m.len(), "AMSGrad: length mismatch");
        self.step += 1;
        let t = self.step as f64;
        let (b1, b2) = (cfg.beta1 as f64, cfg.beta2 as f64);
        let lr_t = lr as f64 * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
        let k = Kernel {
            b1: T::from_f64(b1),
            c1: T::from_f64(1.0 - b1),
            b2: T::from_f64(b2),
            c2: T::from_f64(1.0 - b2),
            lr_t: T::from_f64(lr_t),
            eps: T::from_f64(cfg.epsilon as f64),
        };
        let (m, v, vhat) = (&mut self.m[..], &mut self.v[..], &mut self.vhat[..]);
        let run = |x: &mut [T], g: &[T], m: &mut [T], v: &mut [T], vh: &mut [T]| {
            super::with_simd(
                #[inline(always)]
                || k.run(x, g, m, v, vh),
            )
        };
        match par {
            Par::Seq => run(values, grads, m, v, vhat),
            _ => values
                .par_chunks_mut(CHUNK)
                .zip(grads.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .zip(vhat.par_chunks_mut(CHUNK))
                .for_each(|((((x, g), m), v), vh)| run(x, g, m, v, vh)),
        }
    }
}

#[derive(Clone, Copy)]
struct Kernel<T> {
    b1: T,
    c1: T,
    b2: T,
    c2: T,
    lr_t: T,
    eps: T,
}

impl<T: Scalar> Kernel<T> {
    #[inline(always)]
    fn run(&self, x: &mut [T], g: &[T], m: &mut [T], v: &mut [T], vhat: &mut [T]) {
        let n = x.len();
        let (g, m, v, vhat) = (&g[..n], &mut m[..n], &mut v[..n], &mut vhat[..n]);
        for i in 0..n {
            let gi = g[i];
            let mi = self.b1 * m[i] + self.c1 * gi;
            let vi = self.b2 * v[i] + self.c2 * gi * gi;
            let vh = if vi > vhat[i] { vi } else { vhat[i] };
            m[i] = mi;
            v[i] = vi;
            vhat[i] = vh;
            x[i] -= self.lr_t * mi / (vh.sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps worked by hand: beta1 0.5, beta2 0.9, eps 1e-8, lr 0.1, theta 1, gradients 2 then 1.
    /// Step 1: m = 1, v = 0.4, vhat = 0.4, lr_1 = 0.1 sqrt(0.1) / 0.5, theta = 1 - lr_1 / (sqrt(0.4) + eps) = 0.9.
    /// Step 2: m = 1, v = 0.46, vhat = 0.46, lr_2 = 0.1 sqrt(0.19) / 0.75,
    /// theta = 0.9 - lr_2 / (sqrt(0.46) + eps) = 0.9 - 0.0856913.. = 0.8143087...
    /// A second element with gradients 1 then 0 shows vhat keeping the maximum:
    /// step 1: m = 0.5, v = 0.1, theta = -lr_1 0.5 / sqrt(0.1) = -0.1;
    /// step 2: m = 0.25, v = 0.09, vhat = 0.1, theta = -0.1 - lr_2 0.25 / sqrt(0.1) = -0.145947...
    #[test]
    fn two_steps_by_hand() {
        let cfg = OptimizerConfig::default();
        let mut opt = AmsGrad::<f64>::new(2);
        let mut x = vec![1.0, 0.0];
        opt.update(&mut x, &[2.0, 1.0], 0.1, &cfg, Par::Seq);
        // the formulas with the configuration's own (f32) constants agree to rounding ...
        let (b1, b2, eps) = (cfg.beta1 as f64, cfg.beta2 as f64, cfg.epsilon as f64);
        let lr1 = 0.1_f32 as f64 * (1.0 - b2).sqrt() / (1.0 - b1);
        let v1 = (1.0 - b2) * 4.0;
        assert!((x[0] - (1.0 - lr1 / (v1.sqrt() + eps))).abs() < 1e-12);
        // ... and with the hand-rounded numbers to f32 precision
        assert!((x[0] - 0.9).abs() < 1e-6, "{}", x[0]);
        assert!((x[1] + 0.1).abs() < 1e-6, "{}", x[1]);
        opt.update(&mut x, &[1.0, 0.0], 0.1, &cfg, Par::Seq);
        let lr2 = 0.1_f32 as f64 * (1.0 - b2 * b2).sqrt() / (1.0 - b1 * b1);
        let v2 = b2 * v1 + (1.0 - b2);
        let x0 = (1.0 - lr1 / (v1.sqrt() + eps)) - lr2 * 1.0 / (v2.sqrt() + eps);
        assert!((x[0] - x0).abs() < 1e-12, "{} vs {x0}", x[0]);
        assert!((x[0] - 0.814_308_72).abs() < 1e-6, "{}", x[0]);
        assert!((x[1] + 0.145_947).abs() < 1e-6, "{}", x[1]);
        assert!((opt.vhat[0] - 0.46).abs() < 1e-6 && (opt.vhat[1] - 0.1).abs() < 1e-6);
        assert!(opt.vhat[1] > opt.v[1], "vhat keeps the maximum");
        assert_eq!(opt.step, 2);
    }

    #[test]
    fn parallel_equals_sequential() {
        let cfg = OptimizerConfig::default();
        let n = 3 * CHUNK + 17;
        let g: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let mut a = AmsGrad::<f32>::new(n);
        let mut b = AmsGrad::<f32>::new(n);
        let mut xa = vec![0.5_f32; n];
        let mut xb = xa.clone();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for _ in 0..3 {
            a.update(&mut xa, &g, 1e-3, &cfg, Par::Seq);
            pool.install(|| b.update(&mut xb, &g, 1e-3, &cfg, Par::rayon(2)));
        }
        assert_eq!(xa, xb);
    }
}
