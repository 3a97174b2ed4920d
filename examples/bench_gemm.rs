//! Benchmark: faer's f32 GEMM rate at the shapes of one training step, for the matrix-multiply bound.
//! `--precision bf16` measures the engine's bf16 products on AMX tiles instead (`scgan train --precision bf16`),
//! twice: with both operands packed at every call (`bf16_pack_both`), and as training runs them, where a weight
//! (the right operand of the forward products) is packed once and kept until written (`bf16_weights_kept`).
//!
//! `cargo run --release --example bench_gemm -- --threads 2` prints one JSON line: GFLOP/s per shape and the
//! FLOP-weighted rate over a generator step's shapes at G = 2,000 and G = 16,791. The bound on a generator step is
//! then its matrix-multiply FLOP count (13,107,200 G + 10,128,457,728, ../shared/peers/README.md) divided by that
//! rate.

use std::time::Instant;

use faer::{Accum, Mat, MatMut, Par};

/// How the products are computed.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    F32,
    Bf16,
    /// bf16, with the right operand held as a weight (packed once).
    Bf16Weight,
}

fn rate(m: usize, k: usize, n: usize, par: Par, mode: Mode) -> f64 {
    let a = Mat::<f32>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.01);
    let b = Mat::<f32>::from_fn(k, n, |i, j| ((i * 5 + j) % 13) as f32 * 0.01);
    let mut c = Mat::<f32>::zeros(m, n);
    let mut row_major = vec![0.0_f32; m * n];
    let weight = (mode == Mode::Bf16Weight).then(|| scgan::engine::Bf16Weight::new(b.as_ref()));
    let mut matmul = || {
        let dst = MatMut::from_row_major_slice_mut(&mut row_major, m, n);
        match (mode, &weight) {
            (Mode::F32, _) => {
                faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par)
            }
            (Mode::Bf16Weight, Some(w)) => scgan::engine::bf16_gemm_weight(dst, a.as_ref(), w, par),
            _ => scgan::engine::bf16_gemm(dst, a.as_ref(), b.as_ref(), par),
        }
    };
    matmul();
    let flop = 2.0 * m as f64 * k as f64 * n as f64;
    let repeats = ((2e10 / flop).ceil() as usize).clamp(3, 200);
    let mut times = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        matmul();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    flop / times[times.len() / 2] / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let par = if threads > 1 { Par::rayon(threads) } else { Par::Seq };
    let bf16 = args.windows(2).any(|w| w[0] == "--precision" && w[1] == "bf16");
    assert!(!bf16 || scgan::engine::bf16_available(), "--precision bf16: this CPU has no AMX-BF16");
    let mut report = serde_json::Map::new();
    let modes: &[(Mode, &str)] = if bf16 {
        &[(Mode::Bf16, "bf16_pack_both"), (Mode::Bf16Weight, "bf16_weights_kept")]
    } else {
        &[(Mode::F32, "f32")]
    };
    for &(mode, mode_name) in modes {
        let mut rates = serde_json::Map::new();
        for genes in [2000usize, 16_791] {
            // (m, k, n) of the big products of a step: critic layer 1 forward on [real; fake; x_hat], its weight
            // gradient, the generator's output layer forward (the input gradient's shape too) and its weight
            // gradient, critic layer 2 forward. The forward products' right operand is a weight; a weight
            // gradient multiplies two activations.
            let shapes = [
                (384, genes, 1024, true),
                (genes, 384, 1024, false),
                (128, 1024, genes, true),
                (1024, 128, genes, false),
                (384, 1024, 512, true),
            ];
            let (mut flop, mut seconds) = (0.0, 0.0);
            for (m, k, n, rhs_is_weight) in shapes {
                let shape_mode = if mode == Mode::Bf16Weight && !rhs_is_weight { Mode::Bf16 } else { mode };
                let gflops = rate(m, k, n, par, shape_mode);
                let f = 2.0 * (m * k * n) as f64;
                flop += f;
                seconds += f / (gflops * 1e9);
                rates.insert(format!("{m}x{k}x{n}"), serde_json::json!((gflops * 10.0).round() / 10.0));
            }
            let weighted = flop / seconds / 1e9;
            let step_flop = 13_107_200.0 * genes as f64 + 10_128_457_728.0;
            rates.insert(format!("weighted_gflops_g{genes}"), serde_json::json!((weighted * 10.0).round() / 10.0));
            rates.insert(
                format!("bound_ms_per_gen_step_g{genes}"),
                serde_json::json!((step_flop / weighted / 1e6).round()),
            );
        }
        if bf16 {
            report.insert(mode_name.into(), serde_json::Value::Object(rates));
        } else {
            report.extend(rates);
        }
    }
    report.insert("threads".into(), threads.into());
    report.insert("precision".into(), if bf16 { "bf16" } else { "f32" }.into());
    println!("{}", serde_json::Value::Object(report));
}
