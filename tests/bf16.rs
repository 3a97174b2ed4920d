//! `--precision bf16`: the networks' matrix products in bfloat16 on AMX tiles. The products themselves are
//! checked layout by layout against the rounded operands in the engine's unit tests; these check the networks.
//! On a CPU without AMX-BF16 the products stay f32, and the tests say so and check only that.

mod common;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scgan::engine::{bf16_available, CpuGan};
use scgan::model::{
    ConditionalCritic, CriticBatch, CriticInput, GanBackend, ModelConfig, ModelKind, NamedTensor, OptimizerConfig,
    Precision,
};

const GENES: usize = 96;
const BATCH: usize = 32;
const CLASSES: usize = 3;

/// Every width at least 32, so that every product but the critic's output goes to the tiles.
fn config(precision: Precision) -> ModelConfig {
    let kind = ModelKind::Cscgan { n_classes: CLASSES, critic: ConditionalCritic::PerClassOutput };
    ModelConfig {
        generator_layers: vec![64, 128],
        critic_layers: vec![128, 64],
        latent_dim: 32,
        critic_input: CriticInput::Log1p,
        precision,
        ..ModelConfig::paper(GENES, kind)
    }
}

struct Batch {
    real: Vec<f32>,
    labels: Vec<u32>,
    z: Vec<f32>,
    alpha: Vec<f32>,
}

fn batch(seed: u64) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut real = vec![0.0_f32; BATCH * GENES];
    for row in real.chunks_mut(GENES) {
        for v in row.iter_mut() {
            if rng.random::<f64>() < 0.3 {
                *v = 1.0 + (rng.random::<f64>() * 5.0).floor() as f32;
            }
        }
        row[0] += 1.0;
        let total: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v *= 20_000.0 / total);
    }
    Batch {
        real,
        labels: (0..BATCH).map(|i| (i % CLASSES) as u32).collect(),
        z: (0..BATCH * 32).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect(),
        alpha: (0..BATCH).map(|_| rng.random::<f32>()).collect(),
    }
}

/// Two generator steps of five critic steps; the critic losses in order.
fn train(gan: &mut CpuGan) -> Vec<f32> {
    let mut losses = Vec::new();
    for step in 0..2 {
        for c in 0..5 {
            let b = batch(10 * step + c);
            let batch = CriticBatch {
                real: &b.real,
                labels: &b.labels,
                z: &b.z,
                alpha: &b.alpha,
                penalty_weight: 1.0,
                real_depth: &[],
            };
            losses.push(gan.critic_step(&batch, 1e-3).loss);
        }
        let b = batch(100 + step);
        assert!(gan.generator_step(&b.z, &b.labels, 1e-3).is_finite());
    }
    losses
}

fn generate(gan: &mut CpuGan) -> Vec<f32> {
    let b = batch(999);
    let mut out = vec![0.0_f32; BATCH * GENES];
    gan.generate(&b.z, &b.labels, &mut out);
    out
}

#[test]
fn bf16_training_is_deterministic_and_close_to_f32() {
    let mut f32_gan = CpuGan::new(config(Precision::F32), OptimizerConfig::default(), 7, 2).unwrap();
    let f32_losses = train(&mut f32_gan);
    let mut runs = (0..2).map(|_| {
        let mut gan = CpuGan::new(config(Precision::Bf16), OptimizerConfig::default(), 7, 2).unwrap();
        let losses = train(&mut gan);
        (losses, gan.parameters())
    });
    let (losses, parameters) = runs.next().unwrap();
    let (again_losses, again_parameters) = runs.next().unwrap();
    assert_eq!(losses, again_losses, "bf16 training is not deterministic");
    assert_eq!(parameters, again_parameters);
    if !bf16_available() {
        eprintln!("this CPU has no AMX-BF16: bf16 falls back to f32 products");
        assert_eq!(losses, f32_losses);
        return;
    }
    assert_ne!(parameters, f32_gan.parameters(), "the bf16 products were not used");
    // From the same weights, the first loss differs only by the rounding of the products' operands to 8 bits. It
    // moves by 3% here: the penalty's input gradient passes four products and three ReLU masks, and a
    // pre-activation near zero that changes sign adds or removes a whole unit's path.
    let (a, b) = (losses[0], f32_losses[0]);
    assert!((a - b).abs() <= 0.05 * b.abs(), "first critic loss {a} (bf16) against {b} (f32)");
    // After that the two runs part ways, as any two runs with different rounding do; both keep training.
    assert!(losses.iter().all(|l| l.is_finite()), "critic losses {losses:?}");
}

#[test]
fn bf16_products_see_every_optimizer_update() {
    // After updates of both networks, the next loss must be the one a fresh network computes from the same
    // parameters and state: a stale packed copy of any weight would make them differ.
    use scgan::engine::{CriticTerms, Network};
    let mut trained = Network::<f32>::new(config(Precision::Bf16), OptimizerConfig::default(), 5, 2).unwrap();
    for step in 0..3 {
        let b = batch(step);
        trained.critic_step(&b.real, &b.labels, &b.z, &b.alpha, &[], 1.0, 1e-3);
        trained.generator_step(&b.z, &b.labels, 1e-3);
    }
    let mut fresh = Network::<f32>::new(config(Precision::Bf16), OptimizerConfig::default(), 6, 2).unwrap();
    fresh.load_parameters(&trained.parameters()).unwrap();
    fresh.load_state(&trained.state()).unwrap();
    let b = batch(50);
    let next = |net: &mut Network<f32>| {
        let critic = net.critic_loss_and_gradients(&b.real, &b.labels, &b.z, &b.alpha, &[], CriticTerms::Full).loss;
        (critic, net.generator_loss_and_gradients(&b.z, &b.labels))
    };
    assert_eq!(next(&mut trained), next(&mut fresh));
}

#[test]
fn bf16_products_use_the_weights_as_they_are_now() {
    // The packed bf16 copies of the weights are kept between products; a write to the weights must make them stale.
    let mut gan = CpuGan::new(config(Precision::Bf16), OptimizerConfig::default(), 3, 1).unwrap();
    let before = generate(&mut gan);
    let changed: Vec<NamedTensor> = gan
        .parameters()
        .into_iter()
        .map(|mut t| {
            if t.name.ends_with("weight") {
                t.data.iter_mut().for_each(|w| *w *= 1.5);
            }
            t
        })
        .collect();
    gan.load_parameters(&changed).unwrap();
    let after = generate(&mut gan);
    assert_ne!(before, after, "generation ignored the new weights");
    let mut fresh = CpuGan::new(config(Precision::Bf16), OptimizerConfig::default(), 99, 1).unwrap();
    fresh.load_parameters(&changed).unwrap();
    fresh.load_state(&gan.state()).unwrap();
    assert_eq!(generate(&mut fresh), after, "stale packed weights were used");
}

#[test]
fn a_bf16_run_records_its_precision_and_generates_with_or_without_amx() {
    if !bf16_available() {
        eprintln!("skipped: this CPU has no AMX-BF16 (bad_input.rs checks the message of --precision bf16)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data = common::demo_data();
    let scgan = |env: Option<&str>, args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scgan"));
        if let Some(var) = env {
            command.env(var, "1");
        }
        let output = command.args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    scgan(
        None,
        &[
            "train",
            data.to_str().unwrap(),
            "--label-key",
            "cell_type",
            "--hvg",
            "60",
            "--out",
            run.to_str().unwrap(),
            "--steps",
            "3",
            "--validation-every",
            "0",
            "--threads",
            "1",
            "--precision",
            "bf16",
        ],
    );
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["precision"], "bf16");
    assert_eq!(config["model"]["precision"], "bf16");
    // A bf16 model generates on a CPU without AMX too, with f32 products.
    for env in [None, Some("SCGAN_DISABLE_AMX")] {
        let out = dir.path().join(format!("generated_{}.h5ad", env.is_some()));
        scgan(env, &["generate", run.to_str().unwrap(), "--n", "20", "--out", out.to_str().unwrap()]);
        assert!(out.exists());
    }
}

#[test]
fn the_benchmark_products_with_a_kept_weight_equal_those_that_pack_it() {
    // bench_gemm's bound with weights kept is only a bound of the same products if they compute the same thing.
    if !bf16_available() {
        eprintln!("skipped: this CPU has no AMX-BF16");
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (m, k, n) = (70, 300, 90);
    let lhs = faer::Mat::<f32>::from_fn(m, k, |_, _| rng.random::<f32>() - 0.5);
    let rhs = faer::Mat::<f32>::from_fn(k, n, |_, _| rng.random::<f32>() - 0.5);
    let weight = scgan::engine::Bf16Weight::new(rhs.as_ref());
    let mut packed = vec![0.0_f32; m * n];
    scgan::engine::bf16_gemm(
        faer::MatMut::from_row_major_slice_mut(&mut packed, m, n),
        lhs.as_ref(),
        rhs.as_ref(),
        faer::Par::Seq,
    );
    for _ in 0..2 {
        let mut kept = vec![f32::NAN; m * n];
        let dst = faer::MatMut::from_row_major_slice_mut(&mut kept, m, n);
        scgan::engine::bf16_gemm_weight(dst, lhs.as_ref(), &weight, faer::Par::Seq);
        assert_eq!(kept, packed);
    }
}
