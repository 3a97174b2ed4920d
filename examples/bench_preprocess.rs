//! Benchmark: read + preprocess one file, reporting wall time and peak memory against the CSR size.
//!
//! `cargo run --release --example bench_preprocess -- FILE [--label-key KEY] [--hvg N] [--normalized]`
//! prints one JSON line. Peak memory is the process's high-water mark (VmHWM), so run one file per process.
//! `--normalized` also materialises the normalised matrix, as `scgan preprocess` does before writing.

use std::time::Instant;

use scgan::preprocess::{self, PreprocessParams};

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or_else(|| anyhow::anyhow!("usage: bench_preprocess FILE [--label-key K] [--hvg N]"))?;
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let baseline = peak_rss_bytes();
    let start = Instant::now();
    let counts = scgan::io::read(path, &Default::default())?;
    let read_seconds = start.elapsed().as_secs_f64();
    let csr_bytes = counts.x.memory_bytes();
    let (n_cells, n_genes, nnz) = (counts.n_cells(), counts.n_genes(), counts.x.nnz());
    let params = PreprocessParams {
        label_key: flag("--label-key"),
        n_top_genes: flag("--hvg").map(|n| n.parse()).transpose()?,
        cluster: None,
        ..Default::default()
    };
    let (prepared, _report) = preprocess::preprocess(counts, &params)?;
    let mut normalized_nnz = 0;
    if args.iter().any(|a| a == "--normalized") {
        normalized_nnz = preprocess::normalize_total(&prepared, params.target_sum).nnz();
    }
    let total_seconds = start.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();
    println!(
        "{}",
        serde_json::json!({
            "file": path, "cells": n_cells, "genes": n_genes, "nnz": nnz,
            "csr_mb": csr_bytes as f64 / 1e6, "peak_rss_mb": peak as f64 / 1e6,
            "baseline_rss_mb": baseline as f64 / 1e6,
            "peak_over_csr": peak as f64 / csr_bytes as f64,
            "read_s": read_seconds, "read_preprocess_s": total_seconds,
            "out_shape": [prepared.n_cells(), prepared.n_genes()], "normalized_nnz": normalized_nnz,
        })
    );
    Ok(())
}
