//! Finite-difference checks of the engine's gradients, in f64 on tiny networks (tests/common/tiny.rs): the critic's
//! (every layer-1 path, with and without the penalty), the generator's, and those of the options that change the
//! losses (mean matching, output noise, log1p inputs, count rounding, a critic that reads depth). The engine's
//! other contracts are in tests/engine.rs.
//!
//! Every check differentiates the loss numerically in each parameter (see [`check`]) and compares with the
//! analytic gradient; the worst relative error over all parameters is printed (`--nocapture`) and asserted.

mod common;

use common::tiny::{inputs, kinds, network, network_from, tiny, Inputs, B, G};
use scgan::engine::{CriticTerms, Network};
use scgan::model::{parameter_count, CountDraw, CountRounding, CriticInput, MeanMatching, ModelConfig, ModelKind};

/// Relative tolerance of the gradient checks.
const TOL: f64 = 1e-5;

/// Worst relative error of `analytic` against finite differences of `loss` over all parameters; `value(i)` reads
/// parameter `i`, `set(i, v)` writes it.
///
/// The difference is the fourth-order central stencil
/// `fd = (8 (L(x+h) - L(x-h)) - (L(x+2h) - L(x-2h))) / (12 h)` with `h = 1e-5 max(1, |x|)`: its truncation error
/// (`h^4 L^(5) / 30`) is far below its rounding noise, about `noise = 10 eps max(|L|, 1) / h`. The relative error
/// is `|a - fd| / max(|a|, |fd|, noise / TOL)`: entries too small for a relative check at `TOL` are held to
/// `|a - fd| < noise` instead, so `worst < TOL` asserts both.
fn check(
    what: &str,
    analytic: &[f64],
    mut value: impl FnMut(usize) -> f64,
    mut set: impl FnMut(usize, f64),
    mut loss: impl FnMut() -> f64,
) -> f64 {
    let amax = analytic.iter().fold(0.0_f64, |m, a| m.max(a.abs()));
    let l0 = loss();
    let mut worst: (f64, usize, f64, f64) = (0.0, 0, 0.0, 0.0);
    let (mut relative, mut zeros) = (0, 0);
    for (i, &a) in analytic.iter().enumerate() {
        let x = value(i);
        let h = 1e-5 * x.abs().max(1.0);
        let mut at = |d: f64| {
            set(i, x + d);
            loss()
        };
        let (p1, m1, p2, m2) = (at(h), at(-h), at(2.0 * h), at(-2.0 * h));
        set(i, x);
        let fd = (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h);
        let noise = 10.0 * f64::EPSILON * l0.abs().max(1.0) / h;
        let floor = noise / TOL;
        relative += usize::from(a.abs().max(fd.abs()) >= floor);
        zeros += usize::from(a == 0.0);
        let err = (a - fd).abs() / a.abs().max(fd.abs()).max(floor);
        if err > worst.0 {
            worst = (err, i, a, fd);
        }
    }
    println!(
        "{what}: loss {l0:.4e}, {} parameters ({relative} checked relatively, {zeros} exact zeros), max |grad| \
         {amax:.3e}, worst relative error {:.2e} (parameter {}: analytic {:.6e}, fd {:.6e})",
        analytic.len(),
        worst.0,
        worst.1,
        worst.2,
        worst.3
    );
    worst.0
}

/// Exact-zero gradient entries per tensor, for the report.
fn zero_report(set: &scgan::engine::ParamSet<f64>) -> String {
    set.entries()
        .iter()
        .filter_map(|e| {
            let z = set.grads()[e.range()].iter().filter(|g| **g == 0.0).count();
            (z > 0).then(|| format!("{} {z}/{}", e.name, e.len))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How layer 1 takes the real cells and the fakes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer1 {
    /// GEMMs for both.
    Dense,
    /// Sparse kernels for both.
    Sparse,
    /// Real cells without zeros (GEMM), fakes through the sparse kernel.
    DenseRealSparseFake,
    /// Real cells through the sparse kernel, fakes by GEMM (limit between the two densities).
    SparseRealDenseFake,
}

fn critic_check(config: ModelConfig, name: &str, terms: CriticTerms, path: Layer1) -> (f64, Network<f64>, Inputs) {
    let library_size = config.library_size;
    let mut inp = inputs(5, config.kind != ModelKind::Scgan, library_size as f64);
    let mut net = network_from(config, 11);
    let density = |v: &[f64]| v.iter().filter(|x| **x != 0.0).count() as f64 / v.len() as f64;
    let limit = match path {
        Layer1::Dense => -1.0,
        Layer1::Sparse => 1.0,
        Layer1::DenseRealSparseFake => {
            inp.real.iter_mut().for_each(|x| *x += 0.01 * library_size as f64);
            0.999
        }
        Layer1::SparseRealDenseFake => {
            // two nonzero genes per real cell: sparser than the fakes
            for row in inp.real.chunks_mut(G) {
                row[2..].iter_mut().for_each(|x| *x = 0.0);
                row[1] = library_size as f64 - row[0];
            }
            density(&inp.real)
        }
    };
    net.set_sparse_limit(limit);
    let name = &format!("{name} [{path:?}]");
    let l0 = inp.critic_loss(&mut net, terms);
    let expected = match path {
        Layer1::Dense => (false, false),
        Layer1::Sparse => (true, true),
        Layer1::DenseRealSparseFake => (false, true),
        Layer1::SparseRealDenseFake => (true, false),
    };
    assert_eq!(net.last_sparse_paths(), expected, "{name}: the layer-1 path under test was not taken");
    assert!(l0.loss.is_finite());
    match terms {
        CriticTerms::WassersteinOnly => assert_eq!(l0.gradient_penalty, None, "{name}: the penalty was computed"),
        _ => assert!(l0.gradient_penalty.is_some_and(|p| p > 0.0), "{name}: no penalty"),
    }
    let grads = net.critic_params().grads().to_vec();
    let cell = std::cell::RefCell::new(&mut net);
    let err = check(
        &format!("{name} critic {terms:?} (library size {library_size})"),
        &grads,
        |i| cell.borrow().critic_params().values()[i],
        |i, v| cell.borrow_mut().critic_params_mut().values_mut()[i] = v,
        || inp.critic_loss(&mut cell.borrow_mut(), terms).loss,
    );
    println!("  exact zeros: {}", zero_report(net.critic_params()));
    (err, net, inp)
}

#[test]
fn critic_loss_gradient_matches_finite_differences() {
    for library_size in [10.0, 20_000.0] {
        for (name, kind) in kinds() {
            for path in [Layer1::Dense, Layer1::Sparse] {
                let (err, ..) = critic_check(tiny(kind, library_size), name, CriticTerms::Full, path);
                assert!(err < TOL, "{name}: worst relative error {err:.2e}");
            }
        }
    }
}

#[test]
fn critic_gradient_with_mixed_sparse_and_dense_rows() {
    for (name, kind) in kinds() {
        for path in [Layer1::DenseRealSparseFake, Layer1::SparseRealDenseFake] {
            let (err, ..) = critic_check(tiny(kind, 10.0), name, CriticTerms::Full, path);
            assert!(err < TOL, "{name}: worst relative error {err:.2e}");
        }
    }
}

/// A lazy penalty's unpenalised updates skip the interpolates: their gradient is the Wasserstein term's alone,
/// checked against finite differences and against the full gradient less the penalty's on every layer-1 path,
/// also right after a penalised evaluation (nothing of its interpolate rows may leak into the next).
#[test]
fn unpenalised_critic_update_is_the_full_gradient_less_the_penalty() {
    for (name, kind) in kinds() {
        for path in [Layer1::Dense, Layer1::Sparse, Layer1::DenseRealSparseFake, Layer1::SparseRealDenseFake] {
            let (err, mut net, inp) = critic_check(tiny(kind, 10.0), name, CriticTerms::WassersteinOnly, path);
            assert!(err < TOL, "{name} {path:?}: worst relative error {err:.2e}");
            let paths = net.last_sparse_paths();
            let mut gradient = |terms| {
                inp.critic_loss(&mut net, terms);
                assert_eq!(net.last_sparse_paths(), paths, "{name} {path:?}: {terms:?} took another layer-1 path");
                net.critic_params().grads().to_vec()
            };
            let (full, wasserstein) = (gradient(CriticTerms::Full), gradient(CriticTerms::WassersteinOnly));
            let penalty = gradient(CriticTerms::PenaltyOnly);
            let scale = full.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            for (i, ((w, f), p)) in wasserstein.iter().zip(&full).zip(&penalty).enumerate() {
                assert!((w - (f - p)).abs() <= 1e-10 * scale, "{name} {path:?}: parameter {i}: {w} against {}", f - p);
            }
        }
    }
}

/// A penalised update of a lazy penalty (weight K) is the update of a critic whose lambda is K times larger.
#[test]
fn penalty_weight_multiplies_lambda() {
    for (name, kind) in kinds() {
        let inp = inputs(5, kind != ModelKind::Scgan, 10.0);
        let updated = |lambda: f32, weight: f32| {
            let mut config = tiny(kind, 10.0);
            config.lambda_gp = lambda;
            let mut net = network_from(config, 11);
            let loss = net.critic_step(&inp.real, &inp.labels, &inp.z, &inp.alpha, &inp.depth, weight, 1e-3);
            (loss, net.critic_params().values().to_vec())
        };
        let ((lazy_loss, lazy), (loss, plain)) = (updated(10.0, 3.0), updated(30.0, 1.0));
        assert_eq!(lazy, plain, "{name}: weight 3 at lambda 10 differs from lambda 30");
        assert_eq!(lazy_loss, loss, "{name}");
        let (skipped_loss, skipped) = updated(10.0, 0.0);
        assert_ne!(skipped, plain, "{name}");
        assert_eq!(skipped_loss.gradient_penalty, None, "{name}: weight 0 computed the penalty");
    }
}

#[test]
fn penalty_gradient_matches_finite_differences_and_has_second_order_terms() {
    for (name, kind) in kinds() {
        let (err, net, _) = critic_check(tiny(kind, 10.0), name, CriticTerms::PenaltyOnly, Layer1::Sparse);
        assert!(err < TOL, "{name}: worst relative error {err:.2e}");
        // the penalty reaches every weight (W1..W3 and the output weight), and no bias
        let set = net.critic_params();
        for e in set.entries() {
            let norm: f64 = set.grads()[e.range()].iter().map(|g| g * g).sum::<f64>().sqrt();
            if e.name.ends_with("bias") {
                assert!(norm == 0.0, "{name}: {} has penalty gradient {norm}", e.name);
            } else {
                assert!(norm > 1e-6, "{name}: {} has no penalty gradient", e.name);
            }
        }
    }
}

/// A critic that reads depth: its gradients (the depth weight's included, on both layer-1 paths, with and without
/// the penalty) and the generator's through it, against finite differences. The penalty alone gives the depth
/// weight no gradient, as it gives the biases none, and the real cells' depths change the loss.
#[test]
fn critic_depth_gradients_match_finite_differences() {
    for (name, kind) in kinds() {
        let config = ModelConfig { critic_depth: true, critic_input: CriticInput::Log1p, ..tiny(kind, 10.0) };
        let name = &format!("{name} reading depth");
        let mut cases = Vec::new();
        for path in [Layer1::Dense, Layer1::Sparse] {
            for terms in [CriticTerms::Full, CriticTerms::WassersteinOnly, CriticTerms::PenaltyOnly] {
                cases.push((path, terms));
            }
        }
        // the mixed path with the whole loss: there the Wasserstein term alone has a gradient entry (an exact zero
        // in projection's embedding) whose differences fall just above the check's rounding floor
        cases.push((Layer1::SparseRealDenseFake, CriticTerms::Full));
        for (path, terms) in cases {
            let (err, net, _) = critic_check(config.clone(), name, terms, path);
            assert!(err < TOL, "{name} {path:?} {terms:?}: worst relative error {err:.2e}");
            let set = net.critic_params();
            let depth = set.entries().iter().find(|e| e.name == "critic.depth.weight").expect("depth weight");
            let norm: f64 = set.grads()[depth.range()].iter().map(|g| g * g).sum::<f64>().sqrt();
            match terms {
                CriticTerms::PenaltyOnly => assert_eq!(norm, 0.0, "{name}: the penalty reaches the depth weight"),
                _ => assert!(norm > 0.0, "{name} {path:?}: the depth weight gets no gradient"),
            }
        }
        let mut net = network_from(config.clone(), 23);
        let inp = inputs(7, kind != ModelKind::Scgan, 10.0);
        let err = generator_check(&mut net, &inp, &format!("{name} generator"));
        assert!(err < TOL, "{name}: worst relative error {err:.2e}");

        let mut net = network_from(config.clone(), 11);
        let mut loss = |depth: &[f64]| {
            net.critic_loss_and_gradients(&inp.real, &inp.labels, &inp.z, &inp.alpha, depth, CriticTerms::Full).loss
        };
        let (given, zero) = (loss(&inp.depth), loss(&[0.0; B]));
        assert!((given - zero).abs() > 1e-6, "{name}: the real cells' depth does not change the loss");
    }
    let with = parameter_count(&ModelConfig { critic_depth: true, ..tiny(ModelKind::Scgan, 10.0) });
    assert_eq!(with, parameter_count(&tiny(ModelKind::Scgan, 10.0)) + 6, "one depth weight per first-layer unit");
}

/// Worst relative error of the generator's gradients on `inp` against finite differences of its loss.
fn generator_check(net: &mut Network<f64>, inp: &Inputs, label: &str) -> f64 {
    let l0 = net.generator_loss_and_gradients(&inp.z, &inp.labels);
    assert!(l0.is_finite());
    let grads = net.generator_params().grads().to_vec();
    let cell = std::cell::RefCell::new(net);
    check(
        label,
        &grads,
        |i| cell.borrow().generator_params().values()[i],
        |i, v| cell.borrow_mut().generator_params_mut().values_mut()[i] = v,
        || cell.borrow_mut().generator_loss_and_gradients(&inp.z, &inp.labels),
    )
}

#[test]
fn generator_loss_gradient_matches_finite_differences() {
    for (library_size, sparse) in [(10.0, false), (10.0, true), (20_000.0, false)] {
        for (name, kind) in kinds() {
            let mut net = network(kind, 23, library_size);
            net.set_sparse_limit(if sparse { 1.0 } else { -1.0 });
            let name = &format!("{name}{}", if sparse { " [sparse fakes]" } else { "" });
            let inp = inputs(7, kind != ModelKind::Scgan, library_size as f64);
            let err = generator_check(&mut net, &inp, &format!("{name} generator (library size {library_size})"));
            assert!(err < TOL, "{name}: worst relative error {err:.2e}");
            println!("  exact zeros: {}", zero_report(net.generator_params()));
            let set = net.generator_params();
            for e in set.entries() {
                let norm: f64 = set.grads()[e.range()].iter().map(|g| g * g).sum::<f64>().sqrt();
                assert!(norm > 0.0, "{name}: {} has a zero gradient", e.name);
            }
        }
    }
}

/// The mean-matching term of the generator loss, through the whole generator (log1p critic input), against finite
/// differences; it changes the gradient (the targets are far from the generated means). With cscGAN, classes 0 and
/// 1 have two cells each in the batch, so that both contribute (a class with one cell adds nothing).
#[test]
fn mean_matching_gradients_match_finite_differences() {
    for (name, kind) in kinds() {
        let mut config = tiny(kind, 10.0);
        config.critic_input = CriticInput::Log1p;
        let mut inp = inputs(7, kind != ModelKind::Scgan, 10.0);
        if !inp.labels.is_empty() {
            inp.labels = vec![0, 1, 1, 0];
        }
        let classes = config.n_classes().max(1);
        let targets: Vec<f32> = (0..classes * G).map(|i| (i % 5) as f32 * 0.4).collect();
        let matching = MeanMatching { weight: 3.0, targets };
        let gradient = |matching: Option<&MeanMatching>| {
            let mut net = network_from(config.clone(), 23);
            net.set_mean_matching(matching);
            net.generator_loss_and_gradients(&inp.z, &inp.labels);
            net.generator_params().grads().to_vec()
        };
        let (with, plain) = (gradient(Some(&matching)), gradient(None));
        let differ = with.iter().zip(&plain).filter(|(a, b)| (*a - *b).abs() > 1e-6 * a.abs().max(1e-3)).count();
        assert!(differ > with.len() / 2, "{name}: mean matching changed only {differ} of {} gradients", with.len());
        let mut net = network_from(config.clone(), 23);
        net.set_mean_matching(Some(&matching));
        let err = generator_check(&mut net, &inp, &format!("{name} generator with mean matching"));
        assert!(err < TOL, "{name}: worst relative error {err:.2e}");
    }
}

/// The per-gene output noise: its scale's gradient (and every other generator gradient through it) against finite
/// differences, with the noise a fixed function of the latent vectors; and the same latent vector always gets the
/// same noise, so generation stays a function of `(z, labels)`.
#[test]
fn output_noise_gradients_match_finite_differences() {
    for critic_input in [CriticInput::Normalized, CriticInput::Log1p] {
        for (name, kind) in kinds() {
            let mut config = tiny(kind, 20_000.0);
            config.critic_input = critic_input;
            config.output_noise = true;
            let mut net = network_from(config.clone(), 29);
            let inp = inputs(11, kind != ModelKind::Scgan, 20_000.0);
            let err =
                generator_check(&mut net, &inp, &format!("{name} generator with output noise ({critic_input:?})"));
            assert!(err < TOL, "{name}: worst relative error {err:.2e}");
            let set = net.generator_params();
            let scale = set.entries().iter().find(|e| e.name == "generator.out.noise_scale").expect("noise scale");
            assert!(set.grads()[scale.range()].iter().any(|g| *g != 0.0), "{name}: the noise scale gets no gradient");
            // the noise really changes the cells, and is the same for the same latent vectors
            let mut quiet = network_from(ModelConfig { output_noise: false, ..config.clone() }, 29);
            let (mut a, mut b, mut c) = (vec![0.0; B * G], vec![0.0; B * G], vec![0.0; B * G]);
            net.generate(&inp.z, &inp.labels, &mut a);
            net.generate(&inp.z, &inp.labels, &mut b);
            quiet.generate(&inp.z, &inp.labels, &mut c);
            assert_eq!(a, b);
            assert_ne!(a, c);
        }
    }
}

/// The log1p critic input: the critic's gradient (penalty included) and the generator's, through `ln(1 + x)`.
#[test]
fn log1p_critic_input_gradients_match_finite_differences() {
    for library_size in [10.0, 20_000.0] {
        for (name, kind) in kinds() {
            let mut config = tiny(kind, library_size);
            config.critic_input = CriticInput::Log1p;
            let inp = inputs(5, kind != ModelKind::Scgan, library_size as f64);
            for sparse in [false, true] {
                let mut net = network_from(config.clone(), 11);
                net.set_sparse_limit(if sparse { 1.0 } else { -1.0 });
                let l0 = inp.critic_loss(&mut net, CriticTerms::Full);
                assert!(l0.loss.is_finite() && l0.gradient_penalty.is_some_and(|p| p > 0.0));
                let grads = net.critic_params().grads().to_vec();
                let cell = std::cell::RefCell::new(&mut net);
                let err = check(
                    &format!("{name} log1p critic (library size {library_size}, sparse {sparse})"),
                    &grads,
                    |i| cell.borrow().critic_params().values()[i],
                    |i, v| cell.borrow_mut().critic_params_mut().values_mut()[i] = v,
                    || {
                        let terms = CriticTerms::Full;
                        inp.critic_loss(&mut cell.borrow_mut(), terms).loss
                    },
                );
                assert!(err < TOL, "{name} log1p critic: worst relative error {err:.2e}");

                let mut net = network_from(config.clone(), 23);
                net.set_sparse_limit(if sparse { 1.0 } else { -1.0 });
                assert!(net.generator_loss_and_gradients(&inp.z, &inp.labels).is_finite());
                let grads = net.generator_params().grads().to_vec();
                let cell = std::cell::RefCell::new(&mut net);
                let err = check(
                    &format!("{name} log1p generator (library size {library_size}, sparse {sparse})"),
                    &grads,
                    |i| cell.borrow().generator_params().values()[i],
                    |i, v| cell.borrow_mut().generator_params_mut().values_mut()[i] = v,
                    || cell.borrow_mut().generator_loss_and_gradients(&inp.z, &inp.labels),
                );
                assert!(err < TOL, "{name} log1p generator: worst relative error {err:.2e}");
            }
        }
    }
}

/// Count rounding (and Poisson count sampling, alone or after a rounded first count; thinned or not): the
/// generator's gradient runs through the expected slope of each rounded value over one count (`count_step_slope`,
/// checked against the exact expectation in its unit test), with the LSN and the ReLU mask at the unrounded values.
/// At an enormous library size one count is so small that the rounded values and that slope equal the unrounded
/// ones to 1e-9 relative, so the gradient must equal the unrounded network's (this checks the backward pass's
/// bookkeeping); at a realistic library size (10 counts per cell here) it must differ (the critic really sees
/// other values). Finite differences cannot check rounding itself: it is piecewise constant.
#[test]
fn count_rounding_gradients_reduce_to_the_unrounded_ones() {
    for critic_input in [CriticInput::Normalized, CriticInput::Log1p] {
        for (name, kind) in kinds() {
            let mut config = tiny(kind, 20_000.0);
            config.critic_input = critic_input;
            let inp = inputs(5, kind != ModelKind::Scgan, 20_000.0);
            let gradient = |rounding: Option<CountRounding>| {
                let mut net = network_from(config.clone(), 23);
                net.set_count_rounding(rounding.as_ref());
                let loss = net.generator_loss_and_gradients(&inp.z, &inp.labels);
                assert!(loss.is_finite());
                net.generator_params().grads().to_vec()
            };
            let plain = gradient(None);
            let norm = plain.iter().map(|g| g * g).sum::<f64>().sqrt();
            let distance = |a: &[f64]| a.iter().zip(&plain).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt() / norm;
            // Poisson draws and thinning at a library size L vary by 1/sqrt(L) relative: a larger L makes them as
            // fine
            let draws = [
                (CountDraw::Round, 1e9, 1.0),
                (CountDraw::Poisson, 1e13, 1.0),
                (CountDraw::RoundedPoisson, 1e13, 1.0),
                (CountDraw::Round, 1e13, 0.5),
                (CountDraw::RoundedPoisson, 1e13, 0.75),
            ];
            for (draw, huge, thinning) in draws {
                let fine = gradient(Some(CountRounding { scales: vec![huge; B], seed: 3, draw, thinning }));
                let coarse = gradient(Some(CountRounding { scales: vec![5e-4; B], seed: 3, draw, thinning }));
                let what = format!("{name} {critic_input:?} {draw:?} thinned to {thinning}");
                assert!(distance(&fine) < 1e-6, "{what}: {:.2e}", distance(&fine));
                assert!(distance(&coarse) > 1e-3, "{what}: {:.2e}", distance(&coarse));
            }
        }
    }
}

/// The counts critic input (`CriticInput::Log1pCounts`): the critic sees `ln(1 + k)` of the rounded counts `k`
/// themselves. That is exactly what a log1p critic sees of a model whose library size is one count per unit,
/// `L s`, rounded at scale 1: the same expected counts `x s`, the same draws, the same `ln(1 + k)`. So at library
/// size `L` and rounding scale `s` the generator's loss and every gradient must equal that model's (the backward
/// pass's slope and LSN bookkeeping in the counts' units); and they must differ from the normalised log1p input's.
#[test]
fn log1p_counts_input_is_log1p_at_one_count_per_unit() {
    // exact in binary, so that `L s` is exactly 10 counts for both models
    let (library_size, scale) = (20_480.0, 1.0 / 2_048.0);
    for (name, kind) in kinds() {
        let inp = inputs(5, kind != ModelKind::Scgan, library_size);
        let run = |critic_input: CriticInput, library_size: f64, scale: f32| {
            let mut config = tiny(kind, library_size as f32);
            config.critic_input = critic_input;
            let mut net = network_from(config, 23);
            let draw = CountDraw::Round;
            net.set_count_rounding(Some(&CountRounding { scales: vec![scale; B], seed: 3, draw, thinning: 1.0 }));
            let loss = net.generator_loss_and_gradients(&inp.z, &inp.labels);
            assert!(loss.is_finite());
            (loss, net.generator_params().grads().to_vec())
        };
        let (loss, counts) = run(CriticInput::Log1pCounts, library_size, scale);
        let (same_loss, same) = run(CriticInput::Log1p, library_size * scale as f64, 1.0);
        let (_, normalised) = run(CriticInput::Log1p, library_size, scale);
        let norm = same.iter().map(|g| g * g).sum::<f64>().sqrt();
        let distance = |a: &[f64]| a.iter().zip(&same).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt() / norm;
        assert!((loss - same_loss).abs() < 1e-9 * same_loss.abs().max(1.0), "{name}: {loss} against {same_loss}");
        assert!(distance(&counts) < 1e-9, "{name}: {:.2e}", distance(&counts));
        assert!(distance(&normalised) > 1e-3, "{name}: {:.2e}", distance(&normalised));
    }
}
