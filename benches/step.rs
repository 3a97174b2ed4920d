//! Benchmark: training iterations of the CPU engine, comparable with `../shared/peers/scgan_torch.py`.
//!
//! `cargo bench --bench step` runs issue 5's three sizes on 2 threads: scGAN at G = 2,000 and G = 16,791, cscGAN
//! at G = 2,000 with 10 classes, with f32 products and, where the CPU has AMX-BF16, with bf16 products (the
//! default preset's choice there); one JSON line each. Give a size to run only that:
//! `cargo bench --bench step -- --genes 2000 --classes 0 --threads 2 --steps 20`
//! (`bench/engine_vs_torch.sh` runs it next to the PyTorch peer).
//!
//! One generator step = `--critic-iters` (5) critic updates + 1 generator update, batch `--batch` (128), on
//! synthetic cells: ~7% nonzero, counts 1 + Poisson(1.5), library-size normalised to 20,000 (as the peer makes
//! them). `--classes K > 0` trains cscGAN (`--critic per-class|projection`, default per-class) with unequal class
//! sizes. `--dense` disables the sparse kernels for the real cells (for comparisons);
//! `--precision bf16` makes the matrix products bf16 on AMX tiles (`scgan train --precision`);
//! `--penalty-every K` computes the gradient penalty on one critic update in K (`scgan train --penalty-every`).
//! Run it on an otherwise idle machine. (Sessions 1-12 ran the same code as `examples/bench_step.rs`.)

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use scgan::engine::CpuGan;
use scgan::model::{
    parameter_count, ConditionalCritic, CriticBatch, GanBackend, ModelConfig, ModelKind, OptimizerConfig, Precision,
};
use scgan::train::lazy_penalty_weight;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; unknown arguments are ignored.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.iter().any(|a| a == "--genes") {
        println!("{}", run(&args)?);
        return Ok(());
    }
    let mut precisions = vec!["f32"];
    if scgan::engine::bf16_available() {
        precisions.push("bf16");
    }
    for (genes, classes, steps) in [("2000", "0", "20"), ("16791", "0", "6"), ("2000", "10", "20")] {
        for precision in &precisions {
            let mut sized: Vec<String> =
                ["--genes", genes, "--classes", classes, "--steps", steps, "--precision", precision]
                    .map(String::from)
                    .to_vec();
            // the user's flags first: the first occurrence of a flag counts
            sized.splice(0..0, args.iter().cloned());
            println!("{}", run(&sized)?);
        }
    }
    Ok(())
}

/// One benchmark of one size, as a JSON object.
fn run(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let num = |name: &str, default: usize| -> anyhow::Result<usize> {
        Ok(flag(name).map(|v| v.parse::<usize>()).transpose()?.unwrap_or(default))
    };
    let genes = num("--genes", 2000)?;
    let classes = num("--classes", 0)?;
    let threads = num("--threads", 2)?;
    let steps = num("--steps", 20)?;
    let warmup = num("--warmup", 3)?;
    let batch = num("--batch", 128)?;
    let critic_iters = num("--critic-iters", 5)?;
    let penalty_every = num("--penalty-every", 1)?;
    let cells = num("--cells", 2048)?;
    let seed = num("--seed", 0)? as u64;
    let critic = match flag("--critic").as_deref() {
        None | Some("per-class") => ConditionalCritic::PerClassOutput,
        Some("projection") => ConditionalCritic::Projection,
        Some(other) => anyhow::bail!("--critic {other}: expected per-class or projection"),
    };
    anyhow::ensure!(genes > 0 && batch > 0 && cells > 0 && steps > 0 && penalty_every > 0, "sizes must be positive");

    // synthetic data, as the PyTorch peer makes it
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let poisson = Poisson::new(1.5_f64)?;
    let mut x = vec![0.0_f32; cells * genes];
    for row in x.chunks_mut(genes) {
        for v in row.iter_mut() {
            if rng.random::<f64>() < 0.07 {
                *v = 1.0 + poisson.sample(&mut rng) as f32;
            }
        }
        row[0] += 1.0;
        let s: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v *= 20_000.0 / s);
    }
    let nnz = x.iter().filter(|v| **v != 0.0).count();
    let weights: Vec<f64> = (1..=classes).map(|k| k as f64).collect();
    let total: f64 = weights.iter().sum();
    let draw_class = |rng: &mut ChaCha8Rng| -> u32 {
        let mut u = rng.random::<f64>() * total;
        for (k, w) in weights.iter().enumerate() {
            if u < *w {
                return k as u32;
            }
            u -= w;
        }
        classes.saturating_sub(1) as u32
    };
    let labels_all: Vec<u32> = (0..if classes > 0 { cells } else { 0 }).map(|_| draw_class(&mut rng)).collect();

    let kind = if classes == 0 { ModelKind::Scgan } else { ModelKind::Cscgan { n_classes: classes, critic } };
    let mut config = ModelConfig::paper(genes, kind);
    config.precision = match flag("--precision").as_deref() {
        None | Some("f32") => Precision::F32,
        Some("bf16") => Precision::Bf16,
        Some(other) => anyhow::bail!("--precision {other}: expected f32 or bf16"),
    };
    let latent = config.latent_dim;
    let mut gan = CpuGan::new(config.clone(), OptimizerConfig::default(), seed, threads)?;
    let dense = args.iter().any(|a| a == "--dense");
    if dense {
        gan.network_mut().set_sparse_limit(-1.0);
    }
    let params: usize = gan.parameters().iter().map(|t| t.data.len()).sum();

    let mut real = vec![0.0_f32; batch * genes];
    let mut labels = vec![0_u32; if classes > 0 { batch } else { 0 }];
    let mut z = vec![0.0_f32; batch * latent];
    let mut alpha = vec![0.0_f32; batch];
    let (mut critic_ms, mut gen_ms, mut step_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut last_loss_d, mut last_loss_g) = (0.0_f32, 0.0_f32);
    let start_all = Instant::now();
    let mut timed_start = start_all;
    for step in 0..warmup + steps {
        if step == warmup {
            timed_start = Instant::now();
        }
        let t_step = Instant::now();
        for update in 0..critic_iters {
            for i in 0..batch {
                let c = rng.random_range(0..cells);
                real[i * genes..(i + 1) * genes].copy_from_slice(&x[c * genes..(c + 1) * genes]);
                if classes > 0 {
                    labels[i] = labels_all[c];
                }
                alpha[i] = rng.random::<f32>();
            }
            z.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
            let t = Instant::now();
            let lr = 1e-4 * 0.1_f64.powf(step as f64 / 1e6);
            let penalty_weight = lazy_penalty_weight(penalty_every, (step * critic_iters + update) as u64);
            let batch =
                CriticBatch { real: &real, labels: &labels, z: &z, alpha: &alpha, penalty_weight, real_depth: &[] };
            let stats = gan.critic_step(&batch, lr as f32);
            if step >= warmup {
                critic_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            last_loss_d = stats.loss;
        }
        z.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
        labels.iter_mut().for_each(|l| *l = draw_class(&mut rng));
        let t = Instant::now();
        last_loss_g = gan.generator_step(&z, &labels, 1e-4);
        if step >= warmup {
            gen_ms.push(t.elapsed().as_secs_f64() * 1e3);
            step_ms.push(t_step.elapsed().as_secs_f64() * 1e3);
        }
    }
    let total = timed_start.elapsed().as_secs_f64();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            f64::NAN
        } else {
            v[v.len() / 2]
        }
    };
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    let out = serde_json::json!({
        "genes": genes,
        "classes": classes,
        "threads": threads,
        "penalty_every": penalty_every,
        "gen_steps_per_s": round(steps as f64 / total, 4),
        "ms_per_gen_step": round(1e3 * total / steps as f64, 2),
        "ms_per_gen_step_median": round(median(&mut step_ms), 2),
        "ms_per_critic_step_median": round(median(&mut critic_ms), 2),
        "ms_per_generator_update_median": round(median(&mut gen_ms), 2),
        "params": params,
        "params_expected": parameter_count(&config),
        "cells": cells,
        "density": round(nnz as f64 / (cells * genes) as f64, 4),
        "losses_finite": last_loss_d.is_finite() && last_loss_g.is_finite(),
        "engine": "scgan CpuGan (faer)",
        "precision": format!("{:?}", config.precision).to_lowercase(),
        "real_rows": if dense { "dense" } else { "sparse when <= 30% nonzero" },
    });
    Ok(out)
}
