//! A training run killed with SIGKILL at random moments always resumes from a complete checkpoint, loses at most
//! one checkpoint interval of work, and ends bit-identical to a run that was never interrupted.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{demo_data, files_in};
use scgan::io::tensors::load_tensors;

const CHECKPOINT_EVERY: u64 = 2;
/// Long enough that at least two of the four kills (at most 3.8 s each) come while training runs, even with bf16
/// products on an idle machine (about 10 steps/s at this size).
const STEPS: &str = "120";

fn train_command(out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scgan"));
    command.args([
        "train",
        demo_data().to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--hvg",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
        "--validation-every",
        "5",
        "--log-every",
        "1",
        "--checkpoint-every",
        &CHECKPOINT_EVERY.to_string(),
        "--steps",
        STEPS,
        "--seed",
        "3",
    ]);
    command
}

fn resume_command(out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scgan"));
    command.args(["train", "--resume", out.to_str().unwrap(), "--threads", "1"]);
    command
}

/// The last step in `log.jsonl` (the work done), 0 when there is none.
fn logged_step(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["step"].as_u64())
        .max()
        .unwrap_or(0)
}

fn checkpoint_step(run: &Path) -> Option<u64> {
    let path = run.join("state/checkpoint.safetensors");
    if !path.exists() {
        return None;
    }
    // A checkpoint that exists is complete: it loads, whatever moment the kill came.
    let (_, metadata) = load_tensors(&path).unwrap_or_else(|e| panic!("half-written checkpoint: {e}"));
    Some(metadata["step"].parse().unwrap())
}

/// A small xorshift generator seeded from the clock (printed, so a failure can be replayed with SCGAN_KILL_SEED).
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_moments_then_resume() {
    let seed = std::env::var("SCGAN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("SCGAN_KILL_SEED={seed}");
    let mut random = Random(seed);
    let dir = tempfile::tempdir().unwrap();
    let (killed, straight) = (dir.path().join("killed"), dir.path().join("straight"));

    let mut kills = 0;
    let next_command =
        |run: &Path| if run.join("config.json").exists() { resume_command(run) } else { train_command(run) };
    for round in 0..4 {
        // Killed before the run folder exists, there is nothing to resume: the run is started again.
        let mut child = next_command(&killed).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        // Somewhere between start-up (reading and preprocessing the data) and several checkpoints in.
        let delay = Duration::from_millis(300 + random.next() % 3500);
        let start = Instant::now();
        while start.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "round {round}: {}", String::from_utf8_lossy(&output.stderr));
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let done = logged_step(&killed);
        let kept = checkpoint_step(&killed);
        eprintln!("round {round}: killed after {delay:?}, {done} steps logged, checkpoint at step {kept:?}");
        match kept {
            Some(kept) => assert!(
                done <= kept + CHECKPOINT_EVERY,
                "killed after {delay:?} at step {done}: the checkpoint is from step {kept}, more than one interval lost"
            ),
            // the log line of a checkpoint step is written before the checkpoint: a kill between them leaves it logged
            None => assert!(done <= CHECKPOINT_EVERY, "no checkpoint although step {done} was reached"),
        }
    }
    assert!(kills >= 2, "only {kills} of 4 runs were still going when their kill came");
    let output = next_command(&killed).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // No temporary file survives a resume.
    for folder in [killed.clone(), killed.join("state")] {
        assert!(files_in(&folder).iter().all(|f| !f.ends_with(".tmp")), "{:?}", files_in(&folder));
    }

    // The interrupted run ends exactly where an uninterrupted one does.
    let output = train_command(&straight).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tensors = |run: &Path| load_tensors(&run.join("state/checkpoint.safetensors")).unwrap().0;
    assert!(tensors(&killed) == tensors(&straight), "the killed-and-resumed run differs from the straight one");
    let out = dir.path().join("generated.h5ad");
    let output = Command::new(env!("CARGO_BIN_EXE_scgan"))
        .args(["generate", killed.to_str().unwrap(), "--n", "10", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
