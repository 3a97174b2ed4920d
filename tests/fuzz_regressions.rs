//! Every input the fuzzers found a crash, an out-of-memory or a timeout with (`fuzz/regressions/<target>/`),
//! and their seeds and minimized corpora (`fuzz/seeds/`, `fuzz/corpus/`), go through the same calls as the fuzz
//! targets in `fuzz/fuzz_targets/`: each must return (a result or an error), never panic or abort, and quickly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use scgan::engine::CpuGan;
use scgan::io::{read, ReadOptions};
use scgan::model::{ConditionalCritic, ModelConfig, ModelKind, OptimizerConfig};
use scgan::train::run::{load_checkpoint, RunFolder};

const BARCODES: &[u8] = b"AAAC-1\nAAAG-1\nAAAT-1\n";
const FEATURES: &[u8] =
    b"E1\tG1\tGene Expression\nE2\tG2\tGene Expression\nA1\tCD3\tAntibody Capture\nE3\tG1\tGene Expression\n";

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["regressions", "seeds", "corpus"] {
        if let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

/// Runs `call` on every input of `target`, timing each.
fn replay(target: &str, mut call: impl FnMut(&[u8])) {
    // As in the fuzz targets (fuzz/src/lib.rs): larger claims are refused by the up-front memory estimate.
    // SAFETY: set before any thread of this test binary reads the environment (one test per binary).
    unsafe { std::env::set_var("SCGAN_MEMORY_LIMIT", "256MiB") };
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for {target}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let start = Instant::now();
        call(&bytes);
        assert!(start.elapsed() < Duration::from_secs(10), "{} took {:?}", file.display(), start.elapsed());
    }
}

#[test]
fn fuzz_inputs_never_crash() {
    // Like libFuzzer's -rss_limit_mb=2048: an allocation bomb fails here (and aborts the test) instead of being
    // served lazily by a large machine. Address space, so a little above the fuzzers' resident limit.
    // SAFETY: plain system call on this process; no memory is touched.
    unsafe {
        let limit = libc::rlimit { rlim_cur: 3 << 30, rlim_max: libc::RLIM_INFINITY };
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    };
    replay("h5ad", |bytes| {
        let path = put("input.h5ad", bytes);
        let _ = read(&path, &ReadOptions::default());
        let _ = read(&path, &ReadOptions { layer: Some("counts".into()), transpose: false });
    });
    replay("tenx_h5", |bytes| {
        let _ = read(put("filtered_feature_bc_matrix.h5", bytes), &ReadOptions::default());
    });
    replay("mtx", |bytes| {
        let mut parts = bytes.splitn(3, |&b| b == 0x1e);
        let matrix = parts.next().unwrap_or_default();
        put("mtx/barcodes.tsv", parts.next().unwrap_or(BARCODES));
        put("mtx/features.tsv", parts.next().unwrap_or(FEATURES));
        let path = put("mtx/matrix.mtx", matrix);
        let _ = read(path.parent().unwrap(), &ReadOptions::default());
    });
    let config = ModelConfig::paper(4, ModelKind::Cscgan { n_classes: 2, critic: ConditionalCritic::PerClassOutput });
    let mut model = CpuGan::new(config, OptimizerConfig::default(), 0, 1).unwrap();
    let run = RunFolder::new(dir.path().join("run"));
    replay("checkpoint", |bytes| {
        put("run/state/checkpoint.safetensors", bytes);
        let _ = load_checkpoint(&run, &mut model);
    });
}
