//! `scgan augment`: the test split never reaches training, bad settings are clear errors, and a small run
//! writes results.csv, summary.csv and index.html.

mod common;

use std::path::Path;

use scgan::augment::{self, AugmentParams};
use scgan::{io, CountMatrix, CsrMatrix};

/// Every 8th cell of the embedded PBMC data (about 470 cells, all 10 types) and its first 400 genes.
fn small_pbmc() -> CountMatrix {
    let full = io::read(common::demo_data(), &io::ReadOptions::default()).unwrap();
    let rows: Vec<usize> = (0..full.n_cells()).step_by(8).collect();
    let mut small = full.select_cells(&rows);
    let keep: Vec<bool> = (0..small.n_genes()).map(|j| j < 400).collect();
    small.retain_genes(&keep);
    small
}

/// Quick settings: one fraction, tiny networks budgets, few components and trees, one thread.
fn quick(rare: &str) -> AugmentParams {
    let mut params = AugmentParams::new("cell_type", vec![rare.to_string()]);
    params.fractions = vec![0.2];
    params.seeds = vec![0, 1];
    params.n_added = Some(30);
    params.n_components = 10;
    params.n_trees = 20;
    params.train.steps = 2;
    params.train.batch_size = 32;
    params.train.threads = 1;
    params
}

/// The same cells with their counts rotated among cells: every test cell now carries another cell's profile.
fn corrupted(test: &CountMatrix) -> CountMatrix {
    let n = test.n_cells();
    let order: Vec<usize> = (0..n).map(|i| (i + n / 2) % n).collect();
    let mut bad = test.clone();
    bad.x = test.x.select_rows(&order);
    let doubled: Vec<f32> = bad.x.data().iter().map(|v| v * 3.0 + 1.0).collect();
    bad.x =
        CsrMatrix::new(n, test.n_genes(), bad.x.indptr().to_vec(), bad.x.indices().to_vec(), doubled, "test").unwrap();
    bad
}

#[test]
fn the_test_split_never_reaches_downsampling_training_or_the_classifiers() {
    let (train, test) = augment::split_train_test(&small_pbmc(), "cell_type", 0.25, 0).unwrap();
    let params = quick("CD56+ NK");
    let dir = tempfile::tempdir().unwrap();
    let mut quiet = |_: &str| {};
    let clean = augment::augment(&train, &test, &params, &dir.path().join("a"), &mut quiet).unwrap();
    let dirty = augment::augment(&train, &corrupted(&test), &params, &dir.path().join("b"), &mut quiet).unwrap();
    assert_eq!(clean.records.len(), 2);
    for (a, b) in clean.records.iter().zip(&dirty.records) {
        // Everything fitted before scoring (downsampled cells, components, the three forests' inputs, the
        // generated cells, hence the network) is identical whatever the test cells hold.
        assert_eq!(a.fingerprint, b.fingerprint, "seed {}", a.seed);
        assert_eq!(a.gan_steps, 2);
        let model = |root: &str| {
            std::fs::read(dir.path().join(root).join(format!("CD56__NK/f0.2_s{}/run/model.safetensors", a.seed)))
                .unwrap()
        };
        // The weights (the safetensors data after the JSON header, whose metadata order may vary) are identical.
        let weights = |bytes: Vec<u8>| {
            let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            bytes[8 + header..].to_vec()
        };
        assert!(weights(model("a")) == weights(model("b")), "the trained networks differ");
    }
    // The fingerprint does see what the classifiers are trained on: another seed downsamples other cells.
    assert_ne!(clean.records[0].fingerprint, clean.records[1].fingerprint);
    // And scoring does see the test cells.
    let scores = |r: &augment::AugmentResults| r.records.iter().map(|r| r.scores[0].macro_f1).collect::<Vec<_>>();
    assert_ne!(scores(&clean), scores(&dirty));
    // No test cell is in the file the network was trained on.
    let trained = io::read(dir.path().join("a/CD56__NK/f0.2_s0/train.h5ad"), &io::ReadOptions::default()).unwrap();
    let test_names: std::collections::HashSet<&String> = test.obs_names().iter().collect();
    assert!(trained.obs_names().iter().all(|name| !test_names.contains(name)));
    assert!(trained.obs_names().iter().all(|name| train.obs_names().contains(name)));
    let rare_kept = trained.labels("cell_type").unwrap().iter().filter(|l| l.as_deref() == Some("CD56+ NK")).count();
    assert_eq!(rare_kept, clean.records[0].n_rare_kept);
}

#[test]
fn unknown_types_and_too_small_fractions_are_errors_that_say_so() {
    let (train, test) = augment::split_train_test(&small_pbmc(), "cell_type", 0.25, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut params = quick("NK cells");
    let message = augment::augment(&train, &test, &params, dir.path(), &mut |_| {}).unwrap_err().to_string();
    assert!(
        message.contains("\"NK cells\"") && message.contains("\"CD56+ NK\"") && message.contains("\"CD34+\""),
        "{message}"
    );

    params.rare = vec!["CD34+".into(), "CD56+ NK".into()];
    params.fractions = vec![0.5, 0.05];
    let message = augment::augment(&train, &test, &params, dir.path(), &mut |_| {}).unwrap_err().to_string();
    assert!(
        message.contains("fraction 0.05 leaves") && message.contains("\"CD34+\"") && message.contains("at least 5"),
        "{message}"
    );
    // Nothing was trained before the error.
    assert!(!dir.path().join("CD34_").exists());

    let output = common::scgan(&[
        "augment",
        common::demo_data().to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--rare",
        "CD56+ NK",
        "--rare",
        "Monocytes",
        "--steps",
        "1",
        "--out",
        dir.path().join("cli").to_str().unwrap(),
    ]);
    common::assert_clean_failure(&output, &["\"Monocytes\"", "\"CD14+ Monocyte\""]);
}

/// `scgan augment` on `input` with CD19+ B as the rare type, one thread, into `out`, with `flags` besides.
fn augment_cd19_b(input: &Path, out: &Path, flags: &[&str]) -> std::process::Output {
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    let args = ["augment", input, "--label-key", "cell_type", "--rare", "CD19+ B", "--threads", "1", "--out", out];
    common::scgan(&[&args[..], flags].concat())
}

#[test]
fn a_small_run_writes_results_summary_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("small.h5ad");
    io::write_h5ad(&small_pbmc(), &input).unwrap();
    let out = dir.path().join("augment");
    let output =
        augment_cd19_b(&input, &out, &["--fractions", "0.5,0.1", "--seeds", "2", "--steps", "2", "--trees", "10"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("CD19+ B: augmentation"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "rare_type,fraction,seed,strategy,n_rare_train,n_rare_kept,n_added,precision,recall,f1,macro_f1,gan_steps,\
         gan_seconds,run_seconds"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 2 * 3);
    assert_eq!(rows.iter().filter(|r| r[3] == "augment").count(), 4);
    for row in &rows {
        let f1: f64 = row[9].parse().unwrap();
        assert!((0.0..=1.0).contains(&f1));
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 3);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("CD19+ B")
            && page.contains("data:image/png;base64,")
            && page.contains("augment &minus; upsample")
    );
    assert!(Path::new(&out.join("figures/f1_CD19__B.png")).exists());
}

/// `--preset` and `--precision` choose every network's training settings, as in `scgan train`, and each run's
/// `config.json` records them; an unknown preset is refused before anything is trained.
#[test]
fn the_preset_and_precision_reach_every_network() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("small.h5ad");
    io::write_h5ad(&small_pbmc(), &input).unwrap();
    let run = |out: &Path, preset: &str| {
        let flags = ["--fractions", "0.5", "--add", "20", "--seeds", "1", "--steps", "1", "--trees", "5"];
        augment_cd19_b(&input, out, &[&flags[..], &["--preset", preset, "--precision", "f32"]].concat())
    };
    let out = dir.path().join("paper");
    let output = run(&out, "paper");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut configs = Vec::new();
    let mut folders = vec![out.join("work")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.file_name().is_some_and(|name| name == "config.json") {
                configs.push(path);
            }
        }
    }
    assert!(!configs.is_empty(), "no run folder under {}", out.display());
    for path in configs {
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["preset"], "paper", "{}", path.display());
        assert_eq!(config["train"]["critic_input"], "normalized", "{}", path.display());
        assert_eq!(config["train"]["precision"], "f32", "{}", path.display());
    }
    let refused = dir.path().join("fast");
    common::assert_clean_failure(&run(&refused, "fast"), &["unknown --preset fast", "default, paper"]);
    assert!(!refused.join("work").exists());
}
