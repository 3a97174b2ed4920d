//! Tests of the 10x readers.
use super::*;
use hdf5_pure::{FileBuilder, GroupBuilder};
use std::io::Write;

const BARCODES: &str = "AAAC-1\nAAAG-1\nAAAT-1\n";
const FEATURES: &str = "E1\tG1\tGene Expression\nE2\tG2\tGene Expression\nA1\tCD3\tAntibody Capture\nE3\tG1\tGene Expression\n";
const MTX: &str = "%%MatrixMarket matrix coordinate integer general\n% test\n4 3 5\n1 1 3\n3 1 9\n2 2 1\n4 3 7\n1 3 2\n";

fn put(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let bytes = if name.ends_with(".gz") {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    } else {
        text.as_bytes().to_vec()
    };
    std::fs::write(&path, bytes).unwrap();
    path
}

fn folder(dir: &Path, matrix: &str) -> PathBuf {
    put(dir, "matrix.mtx.gz", matrix);
    put(dir, "barcodes.tsv.gz", BARCODES);
    put(dir, "features.tsv.gz", FEATURES);
    dir.to_path_buf()
}

/// The expected reading of the fixtures: the antibody feature (and its value 9) dropped.
fn check(m: &CountMatrix) {
    assert_eq!(m.obs_names(), ["AAAC-1", "AAAG-1", "AAAT-1"]);
    assert_eq!(m.var_names(), ["G1", "G2", "G1"]);
    assert_eq!(m.var.get("gene_ids"), Some(&Column::Str(vec!["E1".into(), "E2".into(), "E3".into()])));
    assert_eq!(m.var.get("feature_types").unwrap().to_labels()[2].as_deref(), Some(GENE_EXPRESSION));
    let expected = CsrMatrix::from_triplets(3, 3, &[0, 1, 2, 2], &[0, 1, 0, 2], &[3.0, 1.0, 2.0, 7.0]);
    assert_eq!(m.x, expected);
}

fn error(result: Result<CountMatrix>, file: &str, field: &str, words: &str) -> String {
    let message = result.unwrap_err().to_string();
    assert!(message.contains(file) && message.contains(field) && message.contains(words), "{message}");
    message
}

#[test]
fn mtx_folder_and_file_paths() {
    let dir = tempfile::tempdir().unwrap();
    check(&read_10x_mtx(&folder(dir.path(), MTX)).unwrap());
    check(&read_10x_mtx(&dir.path().join("matrix.mtx.gz")).unwrap());
}

#[test]
fn mtx_v2_plain_with_prefix_keeps_all_features() {
    let dir = tempfile::tempdir().unwrap();
    let genes: String = FEATURES.lines().map(|l| l.rsplit_once('\t').unwrap().0.to_string() + "\n").collect();
    put(dir.path(), "GSM1_matrix.mtx", &MTX.replace("integer", "real").replace("1 3 2", "1 3 2.5e0"));
    put(dir.path(), "GSM1_barcodes.tsv", BARCODES);
    put(dir.path(), "GSM1_genes.tsv", &genes);
    let m = read_10x_mtx(&dir.path().join("GSM1_matrix.mtx")).unwrap();
    assert_eq!(m.var_names(), ["G1", "G2", "CD3", "G1"]);
    assert!(m.var.get("feature_types").is_none());
    assert_eq!((m.x.get(0, 2), m.x.get(2, 0)), (9.0, 2.5));
}

#[test]
fn mtx_bad_headers() {
    let cases = [
        ("hello\n4 3 0\n", "line 1", "%%MatrixMarket matrix coordinate"),
        ("%%MatrixMarket matrix coordinate pattern general\n4 3 0\n", "line 1", "'pattern' matrices"),
        ("%%MatrixMarket matrix coordinate complex general\n4 3 0\n", "line 1", "'complex' values"),
        ("%%MatrixMarket matrix array real general\n4 3\n", "line 1", "'array'"),
        ("%%MatrixMarket matrix coordinate real symmetric\n4 3 0\n", "line 1", "'symmetric'"),
        ("%%MatrixMarket matrix coordinate real general\n%c\n4 x 5\n", "line 3", "size line '4 x 5' is malformed"),
        ("%%MatrixMarket matrix coordinate real general\n%c\n", "end of file", "no size line"),
        ("", "line 1", "empty"),
    ];
    for (text, field, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        error(read_10x_mtx(&folder(dir.path(), text)), "matrix.mtx.gz", field, words);
    }
}

#[test]
fn mtx_bad_entries() {
    let head = "%%MatrixMarket matrix coordinate integer general\n4 3 2\n1 1 3\n";
    let cases = [
        ("5 1 9\n", "line 4", "feature (row) index 5 is out of range 1..=4"),
        ("1 0 9\n", "line 4", "barcode (column) index 0 is out of range 1..=3"),
        ("1 1 abc\n", "line 4", "value 'abc' is not an integer"),
        ("1 1 1.5\n", "line 4", "value '1.5' is not an integer"),
        ("1 1\n", "line 4", "expected 'feature barcode value'"),
        ("1 2 -4\n2 2 1\n", "line 5", "header says 2 entries, found more"),
        ("", "end of file", "header says 2 entries, found 1"),
    ];
    for (tail, field, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        error(read_10x_mtx(&folder(dir.path(), &format!("{head}{tail}"))), "matrix.mtx.gz", field, words);
    }
    let dir = tempfile::tempdir().unwrap();
    let real = "%%MatrixMarket matrix coordinate real general\n4 3 1\n1 1 NaN\n";
    error(read_10x_mtx(&folder(dir.path(), real)), "matrix.mtx.gz", "line 3", "value 'NaN' is not a finite number");
    let negative = "%%MatrixMarket matrix coordinate integer general\n4 3 1\n1 1 -2\n";
    assert_eq!(read_10x_mtx(&folder(dir.path(), negative)).unwrap().x.get(0, 0), -2.0);
}

#[test]
fn mtx_truncated_gzip_and_mismatched_files() {
    let dir = tempfile::tempdir().unwrap();
    let entries: String = (0..20_000).map(|k| format!("{} {} {}\n", k % 4 + 1, k % 3 + 1, k % 11 + 1)).collect();
    folder(dir.path(), &format!("%%MatrixMarket matrix coordinate integer general\n4 3 20000\n{entries}"));
    let path = dir.path().join("matrix.mtx.gz");
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    error(read_10x_mtx(dir.path()), "matrix.mtx.gz", "line ", "truncated");

    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), MTX);
    put(dir.path(), "barcodes.tsv.gz", "AAAC-1\nAAAG-1\n");
    error(read_10x_mtx(dir.path()), "barcodes.tsv.gz", "line count", "has 2 barcodes but matrix.mtx.gz declares 3");
    folder(dir.path(), MTX);
    put(dir.path(), "features.tsv.gz", "E1\tG1\tGene Expression\n");
    error(read_10x_mtx(dir.path()), "features.tsv.gz", "line count", "has 1 features but matrix.mtx.gz declares 4");
    put(dir.path(), "features.tsv.gz", "E1\tG1\tGene Expression\nE2\n");
    error(read_10x_mtx(dir.path()), "features.tsv.gz", "line 2", "expected at least 2");
    std::fs::remove_file(dir.path().join("features.tsv.gz")).unwrap();
    error(read_10x_mtx(dir.path()), "features.tsv[.gz]", "missing", "genes.tsv");
}

fn strings(group: &mut GroupBuilder, name: &str, values: &[&str]) {
    group.create_dataset(name).with_ascii_strings(values).unwrap().with_chunks(&[2]).with_deflate(4);
}

/// A CellRanger v3 file of the fixtures (CSC features x barcodes), leaving out dataset `skip`.
fn write_h5(path: &Path, skip: &str, indices: &[i64], indptr: &[i64]) {
    let mut builder = FileBuilder::new();
    let mut matrix = builder.create_group("matrix");
    strings(&mut matrix, "barcodes", &["AAAC-1", "AAAG-1", "AAAT-1"]);
    matrix.create_dataset("data").with_i32_data(&[3, 9, 1, 2, 7]).with_chunks(&[2]).with_deflate(4);
    matrix.create_dataset("indices").with_i64_data(indices).with_chunks(&[2]).with_deflate(4);
    if skip != "indptr" {
        matrix.create_dataset("indptr").with_i64_data(indptr);
    }
    matrix.create_dataset("shape").with_i32_data(&[4, 3]);
    let mut features = matrix.create_group("features");
    strings(&mut features, "id", &["E1", "E2", "A1", "E3"]);
    strings(&mut features, "name", &["G1", "G2", "CD3", "G1"]);
    let types = ["Gene Expression", "Gene Expression", "Antibody Capture", "Gene Expression"];
    strings(&mut features, "feature_type", &types);
    strings(&mut features, "genome", &["GRCh38"; 4]);
    matrix.add_group(features.finish());
    builder.add_group(matrix.finish());
    builder.write(path).unwrap();
}

const INDICES: [i64; 5] = [0, 2, 1, 0, 3];
const INDPTR: [i64; 4] = [0, 2, 3, 5];

#[test]
fn h5_v3_matches_mtx() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filtered_feature_bc_matrix.h5");
    write_h5(&path, "", &INDICES, &INDPTR);
    let m = read_10x_h5(&path).unwrap();
    check(&m);
    assert_eq!(m.var.get("genome").unwrap().to_labels()[0].as_deref(), Some("GRCh38"));
    let mtx = read_10x_mtx(&folder(dir.path(), MTX)).unwrap();
    assert_eq!((&m.x, m.obs_names(), m.var_names()), (&mtx.x, mtx.obs_names(), mtx.var_names()));
}

#[test]
fn h5_v2_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.h5");
    let mut builder = FileBuilder::new();
    let mut genome = builder.create_group("GRCh38");
    strings(&mut genome, "barcodes", &["AAAC-1", "AAAG-1", "AAAT-1"]);
    strings(&mut genome, "genes", &["E1", "E2", "A1", "E3"]);
    strings(&mut genome, "gene_names", &["G1", "G2", "CD3", "G1"]);
    genome.create_dataset("data").with_f32_data(&[3.0, 9.0, 1.0, 2.0, 7.0]);
    genome.create_dataset("indices").with_i64_data(&INDICES);
    genome.create_dataset("indptr").with_i64_data(&INDPTR);
    genome.create_dataset("shape").with_i32_data(&[4, 3]);
    builder.add_group(genome.finish());
    builder.write(&path).unwrap();
    let m = read_10x_h5(&path).unwrap();
    assert_eq!(m.var_names(), ["G1", "G2", "CD3", "G1"]);
    assert_eq!((m.x.get(0, 2), m.x.get(2, 3), m.x.nnz()), (9.0, 7.0, 5));
    assert!(m.var.get("feature_types").is_none() && m.var.get("gene_ids").is_some());
}

#[test]
fn h5_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.h5");
    std::fs::write(&path, "cell,G1\nc1,1\n").unwrap();
    error(read_10x_h5(&path), "bad.h5", "file", "not an HDF5 file");
    write_h5(&path, "indptr", &INDICES, &INDPTR);
    error(read_10x_h5(&path), "bad.h5", "matrix/indptr", "missing dataset");
    write_h5(&path, "", &[0, 2, 1, 0, 4], &INDPTR);
    error(read_10x_h5(&path), "bad.h5", "matrix/indices", "entry 4 is feature 4, out of range 0..4");
    write_h5(&path, "", &INDICES, &[0, 2, 5]);
    error(read_10x_h5(&path), "bad.h5", "matrix/indptr", "expected n_barcodes + 1 = 4");
    write_h5(&path, "", &INDICES, &[0, 3, 2, 5]);
    error(read_10x_h5(&path), "bad.h5", "matrix/indptr", "decreases");
    write_h5(&path, "", &INDICES, &INDPTR);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    error(read_10x_h5(&path), "bad.h5", "", "");
    let mut builder = FileBuilder::new();
    builder.create_dataset("X").with_f32_data(&[1.0]);
    builder.write(&path).unwrap();
    error(read_10x_h5(&path), "bad.h5", "matrix/indptr", "AnnData");
}

/// Files written by h5py and scipy (as CellRanger and `scipy.io.mmwrite` write them) read back the same.
#[test]
fn python_written_files() {
    let available = std::process::Command::new("python3").args(["-c", "import h5py, scipy"]).output();
    if !available.is_ok_and(|o| o.status.success()) {
        eprintln!("note: python3 with h5py and scipy is not available; python_written_files skipped");
        return;
    }
    let (n_cells, n_features) = (40usize, 25usize);
    let types: Vec<&str> = (0..n_features).map(|f| if f >= 21 { "Antibody Capture" } else { GENE_EXPRESSION }).collect();
    let (mut rows, mut cols, mut values, mut expected) = (vec![], vec![], vec![], (vec![], vec![], vec![]));
    for b in (0..n_cells).filter(|b| b % 9 != 4) {
        for f in (0..n_features).filter(|f| (b * 31 + f * 17) % 5 < 2) {
            let value = ((b * 7 + f * 3) % 13 + 1) as u32;
            rows.push(f);
            cols.push(b);
            values.push(value);
            if f < 21 {
                expected.0.push(b as u32);
                expected.1.push(f as u32);
                expected.2.push(value as f32);
            }
        }
    }
    let data = serde_json::json!({
        "barcodes": (0..n_cells).map(|b| format!("BC{b:03}-1")).collect::<Vec<_>>(),
        "ids": (0..n_features).map(|f| format!("ENSG{f:05}")).collect::<Vec<_>>(),
        "names": (0..n_features).map(|f| format!("Gene{}", f % 20)).collect::<Vec<_>>(),
        "types": types, "rows": rows, "cols": cols, "values": values,
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.json"), data.to_string()).unwrap();
    let script = r#"
import gzip, json, os, sys
import h5py, numpy as np, scipy.io, scipy.sparse as sp
out = sys.argv[1]
d = json.load(open(os.path.join(out, "data.json")))
m = sp.csc_matrix((np.array(d["values"], dtype=np.int32), (d["rows"], d["cols"])), shape=(len(d["ids"]), len(d["barcodes"])))
m.sort_indices()
S = lambda v: np.array([s.encode() for s in v], dtype="S")
kw = dict(compression="gzip", compression_opts=4, chunks=True)
with h5py.File(os.path.join(out, "filtered_feature_bc_matrix.h5"), "w") as f:
    f.attrs["filetype"] = "matrix"
    f.attrs["library_ids"] = S(["lib1"])
    g = f.create_group("matrix")
    g.create_dataset("barcodes", data=S(d["barcodes"]), **kw)
    g.create_dataset("data", data=m.data.astype(np.int32), **kw)
    g.create_dataset("indices", data=m.indices.astype(np.int64), **kw)
    g.create_dataset("indptr", data=m.indptr.astype(np.int64), **kw)
    g.create_dataset("shape", data=np.array(m.shape, dtype=np.int32), **kw)
    ft = g.create_group("features")
    ft.create_dataset("_all_tag_keys", data=S(["genome"]))
    for key, values in [("id", d["ids"]), ("name", d["names"]), ("feature_type", d["types"]), ("genome", ["GRCh38"] * len(d["ids"]))]:
        ft.create_dataset(key, data=S(values), **kw)
mtx = os.path.join(out, "mtx")
os.mkdir(mtx)
with gzip.open(os.path.join(mtx, "matrix.mtx.gz"), "wb") as f:
    scipy.io.mmwrite(f, m.tocoo(), comment="written by scipy", field="integer")
with gzip.open(os.path.join(mtx, "barcodes.tsv.gz"), "wt") as f:
    f.write("".join(b + "\n" for b in d["barcodes"]))
with gzip.open(os.path.join(mtx, "features.tsv.gz"), "wt") as f:
    f.write("".join(f"{i}\t{n}\t{t}\n" for i, n, t in zip(d["ids"], d["names"], d["types"])))
"#;
    let status = std::process::Command::new("python3").arg("-c").arg(script).arg(dir.path()).status().unwrap();
    assert!(status.success(), "the python script failed");
    let expected_x = CsrMatrix::from_triplets(n_cells, 21, &expected.0, &expected.1, &expected.2);
    let h5 = read_10x_h5(&dir.path().join("filtered_feature_bc_matrix.h5")).unwrap();
    let mtx = read_10x_mtx(&dir.path().join("mtx")).unwrap();
    for m in [&h5, &mtx] {
        assert_eq!(m.x, expected_x);
        assert_eq!((m.obs_names()[39].as_str(), m.var_names()[20].as_str()), ("BC039-1", "Gene0"));
        assert_eq!(m.var.get("gene_ids").unwrap().to_labels()[20].as_deref(), Some("ENSG00020"));
    }
    assert_eq!((h5.obs_names(), h5.var_names()), (mtx.obs_names(), mtx.var_names()));
}
