//! The engine's contracts besides its gradients (tests/gradients.rs checks those): parameter counts against the
//! paper's networks, gradients and training independent of the thread count and repeatable from a seed,
//! generation in inference mode, and loading that checks names and shapes. The networks are tiny
//! (tests/common/tiny.rs).

mod common;

use common::tiny::{inputs, kinds, network_on_threads, tiny, B, G, K, L};
use scgan::engine::{CpuGan, CriticTerms};
use scgan::model::{
    parameter_count, ConditionalCritic, CriticBatch, GanBackend, ModelConfig, ModelKind, OptimizerConfig,
};

/// The critic's gradients on 2 threads (parallel GEMMs, sparse kernels and row passes) equal those on 1 thread,
/// which tests/gradients.rs checks against finite differences, with layer 1 dense and sparse.
#[test]
fn critic_gradients_do_not_depend_on_the_thread_count() {
    for (name, kind) in kinds() {
        let inp = inputs(5, kind != ModelKind::Scgan, 20_000.0);
        for limit in [-1.0, 1.0] {
            let gradients = |threads: usize| {
                let mut net = network_on_threads(tiny(kind, 20_000.0), 11, threads);
                net.set_sparse_limit(limit);
                inp.critic_loss(&mut net, CriticTerms::Full);
                net.critic_params().grads().to_vec()
            };
            let (one, two) = (gradients(1), gradients(2));
            let scale = one.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            let worst = one.iter().zip(&two).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.0 && worst <= 1e-12 * scale, "{name}, sparse limit {limit}: {worst:e} of {scale:e}");
        }
    }
}

#[test]
fn parameter_counts_match_the_spec() {
    for g in [50, 300] {
        let mut configs = vec![(ModelConfig::paper(g, ModelKind::Scgan), 1_349_121 + 2_049 * g)];
        // the output noise adds one scale per gene
        configs.push((
            ModelConfig { output_noise: true, ..ModelConfig::paper(g, ModelKind::Scgan) },
            1_349_121 + 2_050 * g,
        ));
        // a critic that reads depth adds one weight per unit of its first layer
        configs.push((
            ModelConfig { critic_depth: true, ..ModelConfig::paper(g, ModelKind::Scgan) },
            1_349_121 + 2_049 * g + 1_024,
        ));
        for k in [2, 5] {
            let per = ModelKind::Cscgan { n_classes: k, critic: ConditionalCritic::PerClassOutput };
            configs.push((ModelConfig::paper(g, per), 1_345_280 + 3_841 * k + 2_049 * g));
            let proj = ModelKind::Cscgan { n_classes: k, critic: ConditionalCritic::Projection };
            configs.push((ModelConfig::paper(g, proj), 1_345_537 + 3_840 * k + 2_049 * g));
        }
        for (config, expected) in configs {
            assert_eq!(parameter_count(&config), expected);
            let gan = CpuGan::new(config.clone(), OptimizerConfig::default(), 0, 1).unwrap();
            let n: usize = gan.parameters().iter().map(|t| t.data.len()).sum();
            assert_eq!(n, expected, "{:?}", config.kind);
            let names: Vec<String> = gan.parameters().into_iter().map(|t| t.name).collect();
            assert_eq!(names[0], "generator.dense1.weight");
            assert!(
                names.iter().position(|n| n.starts_with("critic."))
                    > names.iter().position(|n| n == "generator.out.bias")
            );
        }
    }
}

fn tiny_f32_batch(seed: u64, conditional: bool) -> (Vec<f32>, Vec<u32>, Vec<f32>, Vec<f32>) {
    let inp = inputs(seed, conditional, 20_000.0);
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    (f(&inp.real), inp.labels.clone(), f(&inp.z), f(&inp.alpha))
}

fn train_a_little(threads: usize) -> CpuGan {
    let kind = ModelKind::Cscgan { n_classes: K, critic: ConditionalCritic::PerClassOutput };
    let mut gan = CpuGan::new(tiny(kind, 20_000.0), OptimizerConfig::default(), 42, threads).unwrap();
    for step in 0..3 {
        for c in 0..5 {
            let (real, labels, z, alpha) = tiny_f32_batch(100 + 10 * step + c, true);
            let s = gan.critic_step(
                &CriticBatch {
                    real: &real,
                    labels: &labels,
                    z: &z,
                    alpha: &alpha,
                    penalty_weight: 1.0,
                    real_depth: &[],
                },
                1e-3,
            );
            assert!(s.loss.is_finite());
        }
        let (_, labels, z, _) = tiny_f32_batch(200 + step, true);
        assert!(gan.generator_step(&z, &labels, 1e-3).is_finite());
    }
    gan
}

#[test]
fn same_seed_same_parameters() {
    for threads in [1, 2] {
        let a = train_a_little(threads);
        let b = train_a_little(threads);
        assert_eq!(a.parameters(), b.parameters());
        assert_eq!(a.state(), b.state());
        let fresh = CpuGan::new(a.config().clone(), OptimizerConfig::default(), 42, threads).unwrap();
        assert_ne!(a.parameters(), fresh.parameters(), "training changed nothing");
    }
}

#[test]
fn generation_sums_to_library_size_and_uses_running_statistics() {
    let mut gan = train_a_little(1);
    let state = gan.state();
    let mean1 = state.iter().find(|t| t.name == "generator.bn1.running_mean").unwrap();
    assert!(mean1.data.iter().any(|&m| m != 0.0), "running means never updated");
    let (_, _, z, _) = tiny_f32_batch(999, true);
    let labels = vec![0, 1, 2, 1];
    let mut out = vec![0.0_f32; B * G];
    gan.generate(&z, &labels, &mut out);
    for row in out.chunks(G) {
        let s: f32 = row.iter().sum();
        assert!((s - 20_000.0).abs() < 0.05, "row sums to {s}");
        assert!(row.iter().all(|&x| x >= 0.0));
    }
    // inference mode: a cell does not depend on the rest of the batch
    let mut one = vec![0.0_f32; G];
    gan.generate(&z[..L], &labels[..1], &mut one);
    assert_eq!(&one[..], &out[..G]);
    // and it does depend on the running statistics
    let mut changed = state.clone();
    for t in changed.iter_mut().filter(|t| t.name.ends_with("running_mean")) {
        t.data.iter_mut().for_each(|m| *m += 0.5);
    }
    gan.load_state(&changed).unwrap();
    let mut other = vec![0.0_f32; B * G];
    gan.generate(&z, &labels, &mut other);
    assert_ne!(other, out);
    // state round trip
    gan.load_state(&state).unwrap();
    assert_eq!(gan.state(), state);
}

#[test]
fn loading_checks_names_and_shapes() {
    let mut gan = train_a_little(1);
    let mut params = gan.parameters();
    assert!(gan.load_parameters(&params).is_ok());
    params[3].shape = vec![1, 2];
    let err = gan.load_parameters(&params).unwrap_err().to_string();
    assert!(err.contains(&params[3].name), "{err}");
    let mut params = gan.parameters();
    let removed = params.remove(0);
    let err = gan.load_parameters(&params).unwrap_err().to_string();
    assert!(err.contains(&removed.name) && err.contains("missing"), "{err}");
    let mut state = gan.state();
    let step = state.iter_mut().find(|t| t.name == "optim.critic.step").unwrap();
    assert_eq!(step.data, vec![15.0]);
    step.data[0] = 2.5;
    assert!(gan.load_state(&state).unwrap_err().to_string().contains("optim.critic.step"));
}
