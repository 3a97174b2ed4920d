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
