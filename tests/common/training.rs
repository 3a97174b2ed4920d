//! Helpers of the tests that train through the command line: a small training run on the demo data set, its
//! outputs, and the check that a training option resumes exactly and changes training.

use std::path::{Path, PathBuf};

use scgan::io::tensors::load_tensors;

use super::{demo_data, scgan};

/// Genes kept for the tests' small models (so that a step takes milliseconds).
pub const GENES: &str = "300";

pub fn train(out: &Path, extra: &[&str]) -> std::process::Output {
    let data = demo_data();
    let mut args = vec![
        "train",
        data.to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--hvg",
        GENES,
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
        "--validation-every",
        "10",
        "--checkpoint-every",
        "10",
    ];
    args.extend_from_slice(extra);
    scgan(&args)
}

pub fn ok(output: std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// `(step, value)` of every line of a run's `log.jsonl` that has the number `field`, in order.
pub fn logged(log: &str, field: &str) -> Vec<(u64, f64)> {
    log.lines()
        .filter_map(|line| {
            let entry = serde_json::from_str::<serde_json::Value>(line).ok()?;
            Some((entry["step"].as_u64()?, entry[field].as_f64()?))
        })
        .collect()
}

pub fn tensors(path: PathBuf) -> Vec<scgan::model::NamedTensor> {
    load_tensors(&path).unwrap().0
}

/// Trains `steps` steps with `flags` in one go (`dir/a`) and in two halves with a resume (`dir/b`), and with
/// `plain_flags` (`dir/c`): the resumed run must equal the straight one, and the plain one must differ (the flags
/// changed training). Returns the straight run and the plain one.
pub fn resumes_exactly_and_changes_training(
    dir: &Path,
    steps: u64,
    flags: &[&str],
    plain_flags: &[&str],
) -> (PathBuf, PathBuf) {
    let (straight, resumed, plain) = (dir.join("a"), dir.join("b"), dir.join("c"));
    let (all, half) = (steps.to_string(), (steps / 2).to_string());
    ok(train(&straight, &[&["--steps", all.as_str()][..], flags].concat()));
    ok(train(&resumed, &[&["--steps", half.as_str()][..], flags].concat()));
    ok(scgan(&["train", "--resume", resumed.to_str().unwrap(), "--steps", all.as_str(), "--threads", "1"]));
    ok(train(&plain, &[&["--steps", all.as_str()][..], plain_flags].concat()));
    let checkpoint = tensors(straight.join("state/checkpoint.safetensors"));
    assert_eq!(checkpoint, tensors(resumed.join("state/checkpoint.safetensors")), "resumed run differs");
    assert_ne!(checkpoint, tensors(plain.join("state/checkpoint.safetensors")), "the flags changed nothing");
    (straight, plain)
}
