//! Degenerate but plausible input that once reached a panic, an abort or a misleading message: a run folder whose
//! data.json disagrees with its model, cells without counts, sizes too large for memory, files with one gene in
//! common, a mistyped run folder, too few cells to cluster or to fit the validation PCA, a flag that does not
//! apply. Each must fail cleanly (tests/common's `assert_clean_failure`) and leave no output behind.
//! (tests/bad_input.rs has the rest.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_clean_failure, files_in, scgan, small_counts};
use scgan::io;

fn h5ad_of(dir: &Path, name: &str, matrix: &scgan::CountMatrix) -> PathBuf {
    let path = dir.join(name);
    io::write_h5ad(matrix, &path).unwrap();
    path
}

/// `scgan train` on `input`, labelled by `cell_type`, with no cell or gene filtered out, into `out`, on one
/// thread, with `extra` flags (`--steps` among them).
fn train(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    let fixed = [
        "train",
        input,
        "--label-key",
        "cell_type",
        "--min-genes",
        "0",
        "--min-cells",
        "0",
        "--out",
        out,
        "--threads",
        "1",
    ];
    scgan(&[&fixed[..], extra].concat())
}

/// A tiny trained cscGAN (types B and T, 30 genes, 2 steps) in `dir/run`.
fn tiny_run(dir: &Path) -> PathBuf {
    let input = h5ad_of(dir, "cells.h5ad", &small_counts(60, 30));
    let run = dir.join("run");
    let output = train(&input, &run, &["--steps", "2", "--checkpoint-every", "1", "--validation-every", "0"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    run
}

/// Each edit of data.json that disagrees with the model used to panic in generation (a class or proportion
/// beyond the model's classes indexed past its lists) or abort (a proportion of 1e15 asked for that many cells),
/// or was taken as it was: a gene listed twice went into the generated file's gene names, a class without library
/// sizes got the model's (20,000 counts for every cell), a library size of 0 made cells without counts.
#[test]
fn a_data_json_that_disagrees_with_the_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let data_json = run.join("data.json");
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&data_json).unwrap()).unwrap();
    let out = dir.path().join("generated.h5ad");
    type Edit = fn(&mut serde_json::Value);
    let edits: [(Edit, &[&str], &[&str]); 8] = [
        (
            |d| {
                d["classes"].as_array_mut().unwrap().push("NK".into());
                d["class_proportions"].as_array_mut().unwrap().push(0.0.into());
                d["library_sizes"].as_array_mut().unwrap().push(serde_json::json!([100.0]));
            },
            &["--cell-type", "NK=3"],
            &["data.json", "classes", "lists 3 classes", "cscGAN in config.json has 2"],
        ),
        (
            |d| d["class_proportions"].as_array_mut().unwrap().push(0.5.into()),
            &["--n", "20"],
            &["data.json", "class_proportions", "3 entries for 2 classes"],
        ),
        (
            |d| {
                d["library_sizes"].as_array_mut().unwrap().pop();
            },
            &["--n", "20"],
            &["data.json", "library_sizes", "1 entry for 2 classes"],
        ),
        (
            |d| d["class_proportions"] = serde_json::json!([1e15, 1.0]),
            &["--n", "20"],
            &["data.json", "class_proportions[0]", "not a fraction"],
        ),
        (
            |d| {
                d["genes"][0] = "twice".into();
                d["genes"][1] = "twice".into();
            },
            &["--n", "20"],
            &["data.json", "genes", "gene 'twice' twice (entries 0 and 1)"],
        ),
        (
            |d| d["library_sizes"][1] = serde_json::json!([]),
            &["--n", "20"],
            &["data.json", "library_sizes[1]", "class 'T' has no library sizes", "total counts of its training cells"],
        ),
        (
            |d| d["library_sizes"][1][0] = 0.0.into(),
            &["--n", "20"],
            &["data.json", "library_sizes[1]", "class 'T' holds 0", "positive"],
        ),
        (
            |d| d["library_sizes"][0][0] = (-5.0).into(),
            &["--n", "20"],
            &["data.json", "library_sizes[0]", "class 'B' holds -5", "positive"],
        ),
    ];
    for (edit, request, needles) in edits {
        let mut description = original.clone();
        edit(&mut description);
        std::fs::write(&data_json, description.to_string()).unwrap();
        let mut args = vec!["generate", run.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(request);
        assert_clean_failure(&scgan(&args), needles);
        assert!(!out.exists(), "a refused generate wrote {}", out.display());
    }
    // Resuming reads data.json too.
    let resume = scgan(&["train", "--resume", run.to_str().unwrap(), "--steps", "3", "--threads", "1"]);
    assert_clean_failure(&resume, &["data.json", "library_sizes[0]"]);
}

/// A cell without counts (kept by --min-genes 0) made the first step's losses NaN, reported as divergence with
/// the advice to lower the learning rate.
#[test]
fn a_cell_without_counts_is_refused_for_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(40, 30);
    let row = matrix.x.indptr()[5] as usize..matrix.x.indptr()[6] as usize;
    matrix.x.data_mut()[row].fill(0.0);
    let input = h5ad_of(dir.path(), "empty_cell.h5ad", &matrix);
    let before = files_in(dir.path());
    let run = dir.path().join("run");
    let output = train(&input, &run, &["--steps", "2"]);
    assert_clean_failure(&output, &["empty_cell.h5ad", "X", "cell 'cell5'", "has no counts", "--min-genes"]);
    assert_eq!(files_in(dir.path()), before, "a refused run left files");
}

/// Sizes whose memory cannot exist aborted the process on the failed allocation (leaving config.json and
/// data.json of a run that never started, for --batch-size).
#[test]
fn sizes_beyond_memory_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let input = h5ad_of(dir.path(), "cells.h5ad", &small_counts(60, 30));
    let before = files_in(dir.path());
    let out = dir.path().join("out");
    let train = |flag: &str, value: &str| train(&input, &out, &["--steps", "2", flag, value]);
    let huge = "100000000000";
    assert_clean_failure(&train("--batch-size", huge), &["--batch-size", "a batch of 100000000000 cells", "refused"]);
    assert_clean_failure(&train("--critic-layers", huge), &["critic_layers", "[100000000000]", "narrower"]);
    let augment = scgan(&[
        "augment",
        input.to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--rare",
        "B",
        "--fractions",
        "1",
        "--seeds",
        "1",
        "--steps",
        "1",
        "--threads",
        "1",
        "--add",
        huge,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&augment, &["--add", "100000000000 added cells", "fewer"]);
    let preprocess =
        scgan(&["preprocess", input.to_str().unwrap(), "--target-sum", "1e300", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&preprocess, &["--target-sum", "1e300", "32-bit"]);
    assert_eq!(files_in(dir.path()), before, "a refused run left files");
}

/// One gene in common reached the PCA, whose message named no file ("data: PCA: ..."); a mistyped --run was
/// ignored after the whole evaluation, leaving a note in the report.
#[test]
fn evaluate_with_one_gene_in_common_or_a_missing_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let real = h5ad_of(dir.path(), "real.h5ad", &small_counts(30, 20));
    let one_gene = h5ad_of(dir.path(), "one_gene.h5ad", &small_counts(30, 1));
    let before = files_in(dir.path());
    let report = dir.path().join("report");
    let evaluate = |generated: &Path, extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--real",
            real.to_str().unwrap(),
            "--generated",
            generated.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
            "--trees",
            "5",
            "--threads",
            "1",
        ];
        args.extend_from_slice(extra);
        scgan(&args)
    };
    assert_clean_failure(
        &evaluate(&one_gene, &[]),
        &["real.h5ad", "var_names", "only gene 'gene0'", "one_gene.h5ad", "at least 2 genes"],
    );
    let missing = dir.path().join("runs/pbmc");
    assert_clean_failure(&evaluate(&real, &["--run", missing.to_str().unwrap()]), &["runs/pbmc", "no such run folder"]);
    assert_eq!(files_in(dir.path()), before, "a refused evaluation left files");
    // a file where the report folder goes is refused before the evaluation, and left as it was
    std::fs::write(&report, "notes").unwrap();
    assert_clean_failure(&evaluate(&real, &[]), &["report", "is a file", "folder"]);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "notes");
}

/// `scgan train --steps 0` used to finish without a model, so that `scgan generate` failed later on a missing file.
#[test]
fn training_for_no_steps_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = h5ad_of(dir.path(), "cells.h5ad", &small_counts(60, 30));
    let run = dir.path().join("run");
    let output = train(&input, &run, &["--steps", "0"]);
    assert_clean_failure(&output, &["--steps", "must be positive"]);
    assert!(!run.exists(), "a refused run left its folder");
}

/// `--transpose` was ignored in silence for the formats whose orientation is fixed.
#[test]
fn transpose_of_an_h5ad_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = h5ad_of(dir.path(), "cells.h5ad", &small_counts(10, 5));
    assert_clean_failure(&scgan(&["info", input.to_str().unwrap(), "--transpose"]), &["--transpose", "cells.h5ad"]);
}

/// Clustering's refusal named the placeholder "data" instead of the file.
#[test]
fn too_few_cells_to_cluster_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = h5ad_of(dir.path(), "five_cells.h5ad", &small_counts(5, 30));
    let out = dir.path().join("out.h5ad");
    let output = scgan(&[
        "preprocess",
        input.to_str().unwrap(),
        "--min-genes",
        "0",
        "--min-cells",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["five_cells.h5ad: clustering", "5 cells are too few"]);
    assert!(!out.exists());
}

/// A label column with nearly as many values as cells (here a float score) trains one type per value: preprocessing
/// says so, and goes on (a user may mean it).
#[test]
fn a_label_column_of_per_cell_numbers_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(60, 30);
    let scores: Vec<f64> = (0..60).map(|i| i as f64 * 0.37).collect();
    matrix.obs.insert("score", scgan::Column::Float(scores));
    let input = h5ad_of(dir.path(), "scored.h5ad", &matrix);
    let out = dir.path().join("prepared.h5ad");
    let args = ["preprocess", input.to_str().unwrap(), "--label-key", "score", "--min-genes", "0", "--min-cells", "0"];
    let output = scgan(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("obs['score']: 60 distinct values for 60 cells"),
        "{stderr}"
    );
    let output = scgan(&[
        "preprocess",
        input.to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--out",
        dir.path().join("typed.h5ad").to_str().unwrap(),
    ]);
    assert!(output.status.success() && !String::from_utf8_lossy(&output.stderr).contains("distinct values"));
}

/// One training cell (the input's own split column marks only one) is refused before training, naming the file and
/// the split column. (It reached the validation figure's PCA, whose refusal named the placeholder "data".)
#[test]
fn one_training_cell_is_refused_naming_the_split_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(60, 30);
    let split: Vec<&str> = (0..60).map(|i| if i == 0 { "train" } else { "validation" }).collect();
    matrix.obs.insert("split", scgan::Column::categorical_from(&split));
    let input = h5ad_of(dir.path(), "one_train.h5ad", &matrix);
    let run = dir.path().join("run");
    let output = train(&input, &run, &["--steps", "2", "--validation-every", "1"]);
    assert_clean_failure(&output, &["one_train.h5ad", "obs['split']", "only one cell is marked \"train\""]);
    assert!(!run.exists(), "a refused run left its folder");
}
