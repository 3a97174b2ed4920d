//! Bad input gets a clear error: non-zero exit, one message naming the file, the field and what was expected,
//! no panic, and no output file left behind.

mod common;

use std::path::Path;

use common::{assert_clean_failure, demo_data, files_in, scgan, small_counts};
use scgan::{io, Column, CsrMatrix};

/// Runs `scgan preprocess INPUT --out OUT extra...` in `dir` and checks that it failed cleanly and wrote nothing.
fn preprocess_fails(dir: &Path, input: &Path, extra: &[&str], needles: &[&str]) -> String {
    let before = files_in(dir);
    let out = dir.join("out.h5ad");
    let mut args = vec!["preprocess", input.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let stderr = assert_clean_failure(&scgan(&args), needles);
    assert!(!out.exists(), "a failed run left {}", out.display());
    assert_eq!(files_in(dir), before, "a failed run left files behind");
    stderr
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.h5ad");
    preprocess_fails(dir.path(), &missing, &[], &["missing.h5ad", "no such file"]);
    assert_clean_failure(&scgan(&["info", missing.to_str().unwrap()]), &["missing.h5ad"]);
}

#[test]
fn not_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("table.h5ad");
    std::fs::write(&fake, "cell,gene1\nc1,3\n").unwrap();
    preprocess_fails(dir.path(), &fake, &[], &["table.h5ad", "not an HDF5 file", "h5ad"]);
}

#[test]
fn hdf5_without_x() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_x.h5ad");
    let mut builder = hdf5_pure::FileBuilder::new();
    let mut obs = builder.create_group("obs");
    obs.create_dataset("_index").with_vlen_strings(&["a", "b"]);
    builder.add_group(obs.finish());
    builder.write(&path).unwrap();
    preprocess_fails(dir.path(), &path, &[], &["no_x.h5ad", "X", "not found"]);
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(demo_data()).unwrap();
    for fraction in [0.3, 0.6, 0.95] {
        let path = dir.path().join(format!("cut{}.h5ad", (fraction * 100.0) as u32));
        std::fs::write(&path, &bytes[..(bytes.len() as f64 * fraction) as usize]).unwrap();
        preprocess_fails(dir.path(), &path, &["--label-key", "cell_type"], &[path.file_name().unwrap().to_str().unwrap()]);
    }
}

fn write_with_value(dir: &Path, name: &str, value: f32) -> std::path::PathBuf {
    let mut matrix = small_counts(30, 20);
    matrix.x.data_mut()[5] = value;
    let path = dir.join(name);
    io::write_h5ad(&matrix, &path).unwrap();
    path
}

#[test]
fn negative_nan_and_infinite_values() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, word) in
        [("neg.h5ad", -2.0, "negative"), ("nan.h5ad", f32::NAN, "NaN"), ("inf.h5ad", f32::INFINITY, "infinite")]
    {
        let path = write_with_value(dir.path(), name, value);
        preprocess_fails(dir.path(), &path, &[], &[name, "X[", "cell 'cell", "gene 'gene", word, "non-negative counts"]);
    }
}

#[test]
fn non_integer_values_warn_or_fail_with_require_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_with_value(dir.path(), "fractional.h5ad", 2.5);
    preprocess_fails(dir.path(), &path, &["--require-counts"], &["fractional.h5ad", "X", "not whole numbers"]);
    let out = dir.path().join("ok.h5ad");
    let output = scgan(&["preprocess", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-cluster"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("warning") && stderr.contains("not whole numbers"), "{stderr}");
    assert!(out.exists());
}

#[test]
fn nothing_left_after_filtering() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data();
    preprocess_fails(dir.path(), &data, &["--label-key", "cell_type", "--min-genes", "100000"], &["min_genes=100000", "0 cells"]);
    preprocess_fails(dir.path(), &data, &["--label-key", "cell_type", "--min-cells", "100000"], &["min_cells=100000", "0 genes"]);
}

#[test]
fn duplicate_gene_names_are_made_unique_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(30, 6);
    let names = vec!["A", "B", "A", "A-1", "A", "C"].into_iter().map(String::from).collect();
    let mut var = scgan::Frame::new(names);
    var.insert("kind", Column::Str(vec!["x".into(); 6]));
    matrix.var = var;
    let path = dir.path().join("dups.h5ad");
    io::write_h5ad(&matrix, &path).unwrap();
    let out = dir.path().join("out.h5ad");
    let output = scgan(&[
        "preprocess", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--label-key", "cell_type",
        "--min-cells", "0", "--min-genes", "0",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("2 duplicate gene names were made unique"), "{stderr}");
    let written = io::read(&out, &Default::default()).unwrap();
    assert_eq!(written.var_names(), &["A", "B", "A-2", "A-1", "A-3", "C"]);
}

#[test]
fn missing_label_key_lists_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    preprocess_fails(
        dir.path(),
        &demo_data(),
        &["--label-key", "celltype"],
        &["pbmc_facs_2k.h5ad", "obs['celltype']", "no such label column", "cell_type, subpop"],
    );
}

#[test]
fn a_label_too_small_for_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(40, 30);
    let mut types: Vec<String> = (0..40).map(|i| if i % 2 == 0 { "B".into() } else { "T".into() }).collect();
    types[7] = "rare NK".into();
    matrix.obs.insert("cell_type", Column::categorical_from(&types));
    let path = dir.path().join("rare.h5ad");
    io::write_h5ad(&matrix, &path).unwrap();
    preprocess_fails(
        dir.path(),
        &path,
        &["--label-key", "cell_type", "--split", "0.1,0.2", "--min-genes", "1", "--min-cells", "1"],
        &["rare.h5ad", "obs['cell_type']", "'rare NK' has 1 cell", "at least 3"],
    );
}

#[test]
fn missing_layer_lists_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    let mut matrix = small_counts(30, 20);
    matrix.layers.insert("counts".into(), matrix.x.clone());
    let path = dir.path().join("layered.h5ad");
    io::write_h5ad(&matrix, &path).unwrap();
    preprocess_fails(dir.path(), &path, &["--layer", "raw"], &["layered.h5ad", "layers/raw", "counts"]);
}

#[test]
fn output_folder_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/folder/out.h5ad");
    let output = scgan(&["preprocess", demo_data().to_str().unwrap(), "--out", out.to_str().unwrap(), "--label-key", "cell_type"]);
    assert_clean_failure(&output, &["out.h5ad", "does not exist"]);
}

#[test]
fn broken_csr_arrays_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_indices.h5ad");
    let mut builder = hdf5_pure::FileBuilder::new();
    let mut x = builder.create_group("X");
    x.set_attr("encoding-type", hdf5_pure::AttrValue::VarLenString("csr_matrix".into()));
    x.set_attr("shape", hdf5_pure::AttrValue::I64Array(vec![2, 3]));
    x.create_dataset("data").with_f32_data(&[1.0, 2.0]);
    x.create_dataset("indices").with_i32_data(&[0, 7]);
    x.create_dataset("indptr").with_i64_data(&[0, 1, 2]);
    builder.add_group(x.finish());
    builder.write(&path).unwrap();
    preprocess_fails(dir.path(), &path, &[], &["bad_indices.h5ad", "indices", "column 7", "3 columns"]);
    // The same arrays through the library, for the message's wording.
    assert!(CsrMatrix::new(2, 3, vec![0, 1, 2], vec![0, 7], vec![1.0, 2.0], "t").is_err());
}

// ---- Issue 9: more inputs, every subcommand, and the file system failing under the output. ----

/// A 10x Matrix Market folder of 4 features x 3 barcodes with `matrix` as matrix.mtx (gzip when `gz`).
fn mtx_folder(dir: &Path, matrix: &[u8], gz: bool) -> std::path::PathBuf {
    let folder = dir.join("mtx");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("barcodes.tsv"), "AAAC-1\nAAAG-1\nAAAT-1\n").unwrap();
    std::fs::write(folder.join("features.tsv"), "E1\tG1\tGene Expression\nE2\tG2\tGene Expression\nE3\tG3\tGene Expression\nE4\tG4\tGene Expression\n").unwrap();
    let _ = std::fs::remove_file(folder.join("matrix.mtx"));
    let _ = std::fs::remove_file(folder.join("matrix.mtx.gz"));
    if gz {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, matrix).unwrap();
        std::fs::write(folder.join("matrix.mtx.gz"), encoder.finish().unwrap()).unwrap();
    } else {
        std::fs::write(folder.join("matrix.mtx"), matrix).unwrap();
    }
    folder
}

const BANNER: &str = "%%MatrixMarket matrix coordinate integer general\n";

#[test]
fn mtx_index_out_of_range_and_wrong_entry_count() {
    let dir = tempfile::tempdir().unwrap();
    let folder = mtx_folder(dir.path(), format!("{BANNER}4 3 3\n1 1 3\n9 2 1\n2 3 4\n").as_bytes(), false);
    assert_clean_failure(&scgan(&["info", folder.to_str().unwrap()]), &["matrix.mtx", "line 4", "feature (row) index 9 is out of range 1..=4"]);
    preprocess_fails(dir.path(), &folder, &[], &["matrix.mtx", "line 4", "out of range"]);
    let folder = mtx_folder(dir.path(), format!("{BANNER}4 3 5\n1 1 3\n2 2 1\n").as_bytes(), false);
    assert_clean_failure(&scgan(&["info", folder.to_str().unwrap()]), &["matrix.mtx", "header says 5 entries, found 2", "truncated"]);
    let folder = mtx_folder(dir.path(), format!("{BANNER}5 3 1\n1 1 3\n").as_bytes(), false);
    assert_clean_failure(&scgan(&["info", folder.to_str().unwrap()]), &["features.tsv", "has 4 features but matrix.mtx declares 5"]);
}

#[test]
fn gzip_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (1..=3).flat_map(|c| (1..=4).map(move |f| format!("{f} {c} {}\n", f + c))).collect();
    let folder = mtx_folder(dir.path(), format!("{BANNER}4 3 12\n{body}").as_bytes(), true);
    let gz = folder.join("matrix.mtx.gz");
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() - 12]).unwrap();
    assert_clean_failure(&scgan(&["info", folder.to_str().unwrap()]), &["matrix.mtx.gz", "truncated"]);
}

#[test]
fn corrupt_h5ad_never_panics() {
    // Bytes overwritten in the middle of a valid file: a clean error (or, where only metadata was hit, a result).
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(demo_data()).unwrap();
    for (k, fraction) in [0.001, 0.01, 0.2, 0.5, 0.9].into_iter().enumerate() {
        let mut damaged = bytes.clone();
        let at = (bytes.len() as f64 * fraction) as usize;
        damaged[at..at + 64].iter_mut().for_each(|b| *b = b.wrapping_mul(31).wrapping_add(7));
        let path = dir.path().join(format!("damaged{k}.h5ad"));
        std::fs::write(&path, &damaged).unwrap();
        let output = scgan(&["info", path.to_str().unwrap()]);
        if !output.status.success() {
            assert_clean_failure(&output, &[path.file_name().unwrap().to_str().unwrap()]);
        }
    }
}

fn h5ad_of(dir: &Path, name: &str, n_cells: usize, n_genes: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    io::write_h5ad(&small_counts(n_cells, n_genes), &path).unwrap();
    path
}

#[test]
fn empty_matrix_one_cell_one_gene() {
    let dir = tempfile::tempdir().unwrap();
    let empty = h5ad_of(dir.path(), "empty.h5ad", 0, 5);
    preprocess_fails(dir.path(), &empty, &[], &["empty.h5ad", "0 cells x 5 genes are left", "at least one of each"]);
    let one_cell = h5ad_of(dir.path(), "one_cell.h5ad", 1, 40);
    preprocess_fails(dir.path(), &one_cell, &[], &["one_cell.h5ad", "filter_genes(min_cells=3)", "1 cells x 0 genes"]);
    let one_gene = h5ad_of(dir.path(), "one_gene.h5ad", 40, 1);
    let before = files_in(dir.path());
    let run = dir.path().join("run");
    let output = scgan(&[
        "train", one_gene.to_str().unwrap(), "--out", run.to_str().unwrap(), "--min-genes", "0", "--min-cells", "0",
        "--model", "scgan", "--no-cluster", "--steps", "2", "--threads", "1",
    ]);
    assert_clean_failure(&output, &["one_gene.h5ad", "X", "1 genes after preprocessing", "at least 2 cells and 2 genes"]);
    assert_eq!(files_in(dir.path()), before, "a failed training left a run folder");
    let output = scgan(&[
        "train", one_cell.to_str().unwrap(), "--out", run.to_str().unwrap(), "--min-genes", "0", "--min-cells", "0",
        "--model", "scgan", "--no-cluster", "--steps", "2", "--threads", "1",
    ]);
    assert_clean_failure(&output, &["one_cell.h5ad", "1 cells x 40 genes", "at least 2 cells"]);
    assert_eq!(files_in(dir.path()), before, "a failed training left a run folder");
}

/// A tiny trained run (cscGAN, 60 genes, 2 steps) for the generate and resume refusals.
fn tiny_run(dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    let output = scgan(&[
        "train", demo_data().to_str().unwrap(), "--label-key", "cell_type", "--hvg", "60", "--out", run.to_str().unwrap(),
        "--steps", "2", "--checkpoint-every", "1", "--validation-every", "0", "--threads", "1",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    run
}

#[test]
fn generate_zero_or_too_many_cells() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let before = files_in(dir.path());
    let out = dir.path().join("g.h5ad");
    let generate = |extra: &[&str]| {
        let mut args = vec!["generate", run.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        scgan(&args)
    };
    assert_clean_failure(&generate(&["--n", "0"]), &["--n", "0 cells", "at least one"]);
    assert_clean_failure(&generate(&["--cell-type", "CD19+ B=0"]), &["--cell-type", "0 cells"]);
    // Refused by the argument parser (exit code 2, its usage message).
    for bad in ["-3", "99999999999999999999999"] {
        let output = generate(&["--n", bad]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(bad) && !stderr.contains("panicked"), "{stderr}");
    }
    assert_clean_failure(&generate(&["--n", "1000000000000"]), &["--n", "1000000000000 cells x 60 genes", "generating them needs about", "TiB", "available", "fewer cells"]);
    assert_eq!(files_in(dir.path()), before, "a refused generate left files");
}

/// Rewrites the safetensors file at `path` with one metadata entry changed.
fn set_metadata(path: &Path, key: &str, value: &str) {
    let (tensors, mut metadata) = io::tensors::load_tensors(path).unwrap();
    metadata.insert(key.to_string(), value.to_string());
    io::tensors::save_tensors(path, &tensors, &metadata).unwrap();
}

#[test]
fn run_folder_from_another_version() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let out = dir.path().join("g.h5ad");
    let generate = || scgan(&["generate", run.to_str().unwrap(), "--n", "5", "--out", out.to_str().unwrap()]);
    let resume = || scgan(&["train", "--resume", run.to_str().unwrap(), "--steps", "3", "--threads", "1"]);

    let checkpoint = run.join("state/checkpoint.safetensors");
    set_metadata(&checkpoint, "format", "scgan checkpoint 2");
    set_metadata(&checkpoint, "scgan_version", "9.0.0");
    let kept = std::fs::read(&checkpoint).unwrap();
    assert_clean_failure(&resume(), &["checkpoint.safetensors", "__metadata__.format", "'scgan checkpoint 2'", "scgan 9.0.0"]);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), kept, "a refused resume changed the checkpoint");

    let model = run.join("model.safetensors");
    set_metadata(&model, "format", "scgan model 7");
    assert_clean_failure(&generate(), &["model.safetensors", "__metadata__.format", "'scgan model 7'"]);
    set_metadata(&model, "format", "scgan model 1");

    let config_path = run.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("model");
    config["scgan_version"] = "0.0.1".into();
    std::fs::write(&config_path, serde_json::to_string(&config).unwrap()).unwrap();
    assert_clean_failure(&generate(), &["config.json", "missing field `model`", "another scgan version"]);
    assert_clean_failure(&resume(), &["config.json", "missing field `model`"]);
    assert!(!out.exists());
}

/// A resumed run keeps its network: a flag that would shape another one (or another preset) is refused, not
/// ignored, and the run is left as it was.
#[test]
fn network_flags_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let checkpoint = run.join("state/checkpoint.safetensors");
    let kept_checkpoint = std::fs::read(&checkpoint).unwrap();
    let kept_config = std::fs::read(run.join("config.json")).unwrap();
    let resume = |extra: &[&str]| {
        let mut args = vec!["train", "--resume", run.to_str().unwrap(), "--steps", "3", "--threads", "1"];
        args.extend_from_slice(extra);
        scgan(&args)
    };
    let layers = resume(&["--critic-layers", "8,8"]);
    assert_clean_failure(&layers, &["--critic-layers", "asks for 8,8", "started with 1024,512,256", "--out"]);
    assert_clean_failure(&resume(&["--model", "scgan"]), &["--model", "asks for scgan", "started with cscgan"]);
    assert_clean_failure(&resume(&["--critic", "projection"]), &["--critic", "projection", "per-class"]);
    // The preset and the flags that choose and prepare the data are usage errors with --resume (clap's exit 2),
    // whatever their value: the input is prepared again from config.json.
    for flags in [&["--preset", "paper"][..], &["--hvg", "10"], &["--seed", "0"], &["--label-key", "cell_type"]] {
        let output = resume(flags);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(flags[0]) && stderr.contains("--resume"), "{flags:?}: {stderr}");
    }
    assert_eq!(std::fs::read(&checkpoint).unwrap(), kept_checkpoint, "a refused resume changed the checkpoint");
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), kept_config, "a refused resume changed config.json");
    // A training setting out of range is refused too, before anything is written.
    for weight in ["-1", "NaN"] {
        let flag = format!("--mean-matching={weight}");
        assert_clean_failure(&resume(&[&flag]), &["--mean-matching", "not zero or positive"]);
    }
    for fraction in ["0", "1.5", "NaN"] {
        let flag = format!("--critic-thinning={fraction}");
        assert_clean_failure(&resume(&[&flag]), &["--critic-thinning", "is not in (0, 1]"]);
    }
    assert_clean_failure(&resume(&["--penalty-every", "0"]), &["--penalty-every", "must be positive"]);
    for ratio in ["0", "NaN"] {
        let flag = format!("--generator-learning-rate-ratio={ratio}");
        assert_clean_failure(&resume(&[&flag]), &["--generator-learning-rate-ratio", "must be positive"]);
    }
    for fraction in ["-0.1", "1", "NaN"] {
        let flag = format!("--cooldown={fraction}");
        assert_clean_failure(&resume(&[&flag]), &["--cooldown", "is not in [0, 1)"]);
    }
    let profiles = resume(&["--critic-thinning", "0.5", "--critic-counts", "profiles"]);
    assert_clean_failure(&profiles, &["--critic-thinning", "shown profiles", "--critic-counts rounded"]);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), kept_checkpoint, "a refused resume changed the checkpoint");
    // The same value as the run's own is no change.
    assert!(resume(&["--critic-layers", "1024,512,256", "--model", "cscgan"]).status.success());
}

#[test]
fn damaged_checkpoint_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let checkpoint = run.join("state/checkpoint.safetensors");
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    let output = scgan(&["train", "--resume", run.to_str().unwrap(), "--steps", "3", "--threads", "1"]);
    assert_clean_failure(&output, &["checkpoint.safetensors", "header", "damaged"]);
    assert_eq!(std::fs::read(&checkpoint).unwrap().len(), bytes.len() / 2, "the damaged checkpoint was replaced");
    let output = scgan(&["train", "--resume", dir.path().to_str().unwrap()]);
    assert_clean_failure(&output, &["config.json", "not a run folder"]);
}

#[test]
fn csv_with_a_ragged_row_and_evaluate_with_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("table.csv");
    std::fs::write(&csv, "cell,g1,g2\nc1,1,2\nc2,3\n").unwrap();
    preprocess_fails(dir.path(), &csv, &[], &["table.csv", "line 3", "has 2 fields, expected 3"]);
    let before = files_in(dir.path());
    let report = dir.path().join("report");
    let missing = dir.path().join("generated.h5ad");
    let output = scgan(&[
        "evaluate", "--real", demo_data().to_str().unwrap(), "--generated", missing.to_str().unwrap(), "--out",
        report.to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["generated.h5ad", "no such file"]);
    assert_eq!(files_in(dir.path()), before);
}

#[test]
fn a_matrix_larger_than_memory_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    // h5ad: a CSR header claiming 10^9 cells; refused from the shape alone, indptr is never read.
    let path = dir.path().join("huge.h5ad");
    let mut builder = hdf5_pure::FileBuilder::new();
    let mut x = builder.create_group("X");
    x.set_attr("encoding-type", hdf5_pure::AttrValue::VarLenString("csr_matrix".into()));
    x.set_attr("shape", hdf5_pure::AttrValue::I64Array(vec![1_000_000_000, 30_000]));
    x.create_dataset("data").with_f32_data(&[1.0, 2.0]);
    x.create_dataset("indices").with_i32_data(&[0, 1]);
    x.create_dataset("indptr").with_i64_data(&[0, 1, 2]);
    builder.add_group(x.finish());
    builder.write(&path).unwrap();
    let output = scgan(&["info", path.to_str().unwrap()]);
    assert_clean_failure(&output, &["huge.h5ad", "X.attrs['shape']", "1000000000 x 30000", "needs about", "GiB", "available"]);
    // The limit can be lowered (and raised) explicitly.
    let small = h5ad_of(dir.path(), "small.h5ad", 30, 20);
    let limited = |path: &Path, limit: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_scgan"))
            .args(["info", path.to_str().unwrap()])
            .env("SCGAN_MEMORY_LIMIT", limit)
            .output()
            .unwrap()
    };
    assert_clean_failure(&limited(&small, "1KiB"), &["small.h5ad", "SCGAN_MEMORY_LIMIT allows 1 KiB"]);
    assert!(limited(&small, "1GiB").status.success());
    // Matrix Market: the size line claims 10^11 entries.
    let folder = mtx_folder(dir.path(), format!("{BANNER}4 3 100000000000\n1 1 3\n").as_bytes(), false);
    assert_clean_failure(&scgan(&["info", folder.to_str().unwrap()]), &["matrix.mtx", "line 2", "100000000000 entries", "needs about"]);
    // 10x HDF5: the same check from shape and the length of data.
    let h5 = dir.path().join("filtered_feature_bc_matrix.h5");
    let mut builder = hdf5_pure::FileBuilder::new();
    let mut matrix = builder.create_group("matrix");
    matrix.create_dataset("barcodes").with_ascii_strings(&["A-1", "B-1"]).unwrap();
    matrix.create_dataset("data").with_i32_data(&[3, 1]);
    matrix.create_dataset("indices").with_i64_data(&[0, 1]);
    matrix.create_dataset("indptr").with_i64_data(&[0, 1, 2]);
    matrix.create_dataset("shape").with_i32_data(&[2, 2]);
    let mut features = matrix.create_group("features");
    features.create_dataset("id").with_ascii_strings(&["E1", "E2"]).unwrap();
    features.create_dataset("name").with_ascii_strings(&["G1", "G2"]).unwrap();
    matrix.add_group(features.finish());
    builder.add_group(matrix.finish());
    builder.write(&h5).unwrap();
    assert!(limited(&h5, "1GiB").status.success(), "{}", String::from_utf8_lossy(&limited(&h5, "1GiB").stderr));
    assert_clean_failure(&limited(&h5, "100"), &["filtered_feature_bc_matrix.h5", "matrix/shape", "2 features x 2 barcodes", "needs about"]);
}

/// A small tmpfs mounted at `path` (root only; `None` where mounting is not allowed), unmounted on drop.
struct Tmpfs(std::path::PathBuf);
impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", path.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            Some(Tmpfs(path.to_path_buf()))
        } else {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            None
        }
    }
}
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_keeps_the_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "size=256k") else { return };
    let out = disk.0.join("out.h5ad");
    std::fs::write(&out, "the previous result").unwrap();
    let output = scgan(&["preprocess", demo_data().to_str().unwrap(), "--label-key", "cell_type", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&output, &["out.h5ad", "No space left on device"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the previous result");
    assert_eq!(files_in(&disk.0), vec!["out.h5ad".to_string()], "a temporary file was left behind");
    // Training into a full disk: refused without a half run folder.
    let run = disk.0.join("run");
    let output = scgan(&[
        "train", demo_data().to_str().unwrap(), "--label-key", "cell_type", "--hvg", "60", "--out", run.to_str().unwrap(),
        "--steps", "2", "--threads", "1",
    ]);
    assert_clean_failure(&output, &["No space left on device"]);
    assert_eq!(files_in(&disk.0), vec!["out.h5ad".to_string()], "a failed training left files");
}

#[test]
fn read_only_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("ro"), "size=64k,ro") else { return };
    let out = disk.0.join("out.h5ad");
    let output = scgan(&["preprocess", demo_data().to_str().unwrap(), "--label-key", "cell_type", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&output, &["out.h5ad", "Read-only file system"]);
    assert!(files_in(&disk.0).is_empty());
}

#[test]
fn file_size_limit_keeps_the_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5ad");
    std::fs::write(&out, "the previous result").unwrap();
    // `ulimit -f 100`: no file may grow past 100 blocks of 512 bytes (SIGXFSZ is ignored by scgan).
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 100 && exec '{}' preprocess '{}' --label-key cell_type --out '{}'",
            env!("CARGO_BIN_EXE_scgan"),
            demo_data().display(),
            out.display()
        ))
        .output()
        .unwrap();
    assert_clean_failure(&output, &["out.h5ad", "File too large"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the previous result");
    assert_eq!(files_in(dir.path()), vec!["out.h5ad".to_string()], "a temporary file was left behind");
}

#[test]
fn bf16_on_a_cpu_without_amx() {
    // SCGAN_DISABLE_AMX makes scgan treat this CPU as one without AMX-BF16, whatever it has.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = demo_data();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scgan"))
        .env("SCGAN_DISABLE_AMX", "1")
        .args(["train", data.to_str().unwrap(), "--label-key", "cell_type", "--steps", "2", "--threads", "1"])
        .args(["--precision", "bf16", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_clean_failure(&output, &["--precision", "AMX-BF16", "use --precision f32"]);
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}
