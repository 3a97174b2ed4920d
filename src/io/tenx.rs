//! Reading 10x Genomics (CellRanger) count matrices: the HDF5 file and the Matrix Market folder.
//!
//! Both store a `(n_features, n_barcodes)` matrix, features in rows and barcodes (cells) in columns; scgan
//! returns it the other way round, cells x genes, with barcodes as `obs` names and gene names as `var` names
//! (plus `var` columns `gene_ids` and, when the data has them, `feature_types` and `genome`). As scanpy's
//! `read_10x_h5` and `read_10x_mtx` do by default, only `Gene Expression` features are kept when feature
//! types are given (antibody capture, CRISPR guides and custom features are dropped). Duplicate gene names
//! are left as they are; [`crate::io::read`] makes them unique.
//!
//! # HDF5 (`filtered_feature_bc_matrix.h5`)
//! CellRanger v3 and later write one group `matrix` holding a CSC matrix, which read as CSR is already cells x
//! genes: `data` (values), `indices` (feature of every value), `indptr` (`n_barcodes + 1` offsets into both)
//! and `shape` (`[n_features, n_barcodes]`), plus `barcodes` and `features/{id,name,feature_type,genome}`,
//! all fixed-length byte strings, usually gzip-compressed. CellRanger v2 writes one such group per genome
//! (`GRCh38/`) with `genes` and `gene_names` in place of `features`; files with one genome are read.
//! The file is read through [`hdf5_pure::File::open_streaming`], the matrix a window of entries at a time.
//!
//! # Matrix Market folder (`filtered_feature_bc_matrix/`)
//! `matrix.mtx.gz` (or `.mtx`), `barcodes.tsv.gz` (one barcode a line) and `features.tsv.gz` (`id`, `name`,
//! `type`, tab-separated; CellRanger v2's `genes.tsv` has only `id` and `name`). The matrix file is text:
//!
//! ```text
//! %%MatrixMarket matrix coordinate integer general   <- banner: sparse ("coordinate"), integer or real values
//! % comment lines start with %
//! 33538 5025 10847200                                <- n_features n_barcodes n_entries
//! 33509 1 1                                          <- feature barcode value, 1-based, one entry a line
//! ```
//!
//! The path may be the folder or the matrix file itself; a GEO-style prefix (`GSM123_matrix.mtx.gz`) is
//! carried over to the other two files. Compression is recognised by content, not by name.
//!
//! # What is checked
//! Every error names the file and the place (a dataset path such as `matrix/indptr`, or a line): a file that
//! is not HDF5, missing datasets, arrays whose lengths disagree with `shape`, offsets that decrease, feature
//! indices out of range, non-finite values; a missing or wrong Matrix Market banner, `pattern`, `complex`,
//! `array` and non-`general` matrices (unsupported), a malformed size line, an index out of range (with the
//! value and the bound), a non-numeric or NaN value, more or fewer entries than the size line declares,
//! barcodes or features files whose line counts disagree with the matrix, and gzip files that are truncated.
//! Negative values are read as they are; preprocessing decides whether they are acceptable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use hdf5_pure::{Dataset, File};

use super::delimited::Lines;
use super::memory;
use crate::data::{Column, CountMatrix, CsrMatrix, Frame};
use crate::error::{Error, Result};

/// Matrix entries read per window from an HDF5 file.
const WINDOW: u64 = 1 << 20;

/// The feature type that is kept when types are given.
const GENE_EXPRESSION: &str = "Gene Expression";

/// Reads a CellRanger `.h5` file (v3 `matrix/` layout, or v2 with one genome group).
pub fn read_10x_h5(path: &Path) -> Result<CountMatrix> {
    match hdf5_pure::is_hdf5(path) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::format(
                path,
                "file",
                "not an HDF5 file (no HDF5 signature); expected a 10x Genomics filtered_feature_bc_matrix.h5",
            ))
        }
        Err(e) => return Err(Error::io(path, e)),
    }
    // hdf5-pure is young; a damaged file must give an error, never take the process down.
    catch_unwind(AssertUnwindSafe(|| read_h5_unguarded(path))).unwrap_or_else(|_| {
        Err(Error::format(path, "file", "the HDF5 structure is damaged (is the file truncated?)"))
    })
}

fn read_h5_unguarded(path: &Path) -> Result<CountMatrix> {
    let file = File::open_streaming(path).map_err(|e| {
        Error::format(path, "file", format!("cannot be read as HDF5 ({e}); is the file truncated or damaged?"))
    })?;
    let (group, v3) = locate_matrix(&file, path)?;
    let at = |name: &str| format!("{group}/{name}");
    // The shape and the array lengths first, so that nothing is read that the header does not back up, and a
    // matrix too large for memory is refused before it is read.
    let shape_name = at("shape");
    let shape_ds = dataset(&file, path, &shape_name)?;
    if length(&shape_ds, path, &shape_name)? != 2 {
        return Err(Error::format(path, &shape_name, "expected two values, [n_features, n_barcodes]"));
    }
    let shape = shape_ds.read_i64().map_err(|e| unreadable(path, &shape_name, e))?;
    let (n_features, n_barcodes) = match shape.as_slice() {
        &[f, b] if f >= 0 && b >= 0 => (f as usize, b as usize),
        other => return Err(Error::format(path, &shape_name, format!("is {other:?}; expected [n_features, n_barcodes]"))),
    };
    let (ids_name, names_name) = if v3 { (at("features/id"), at("features/name")) } else { (at("genes"), at("gene_names")) };
    let expected_lengths = [
        (ids_name.clone(), n_features),
        (names_name.clone(), n_features),
        (at("features/feature_type"), n_features),
        (at("features/genome"), n_features),
        (at("barcodes"), n_barcodes),
        (at("indptr"), n_barcodes + 1),
    ];
    for (name, expected) in &expected_lengths {
        if let Ok(ds) = file.dataset(name) {
            let found = length(&ds, path, name)?;
            if found != *expected as u64 && name.ends_with("indptr") {
                return Err(Error::format(path, name, format!("has {found} entries, expected n_barcodes + 1 = {expected}")));
            }
            if found != *expected as u64 {
                return Err(Error::format(path, name, format!("has {found} entries but {shape_name} is {shape:?}, so {expected} were expected")));
            }
        }
    }
    let data_name = at("data");
    let nnz = file.dataset(&data_name).ok().map(|ds| length(&ds, path, &data_name)).transpose()?.unwrap_or(0);
    memory::ensure_fits(
        path,
        &shape_name,
        &format!("the matrix is {n_features} features x {n_barcodes} barcodes with {nnz} stored entries"),
        memory::csr_bytes(n_barcodes as u64, n_features as u64, nnz)
            .saturating_add((n_barcodes as u64).saturating_mul(8))
            .saturating_add((n_features as u64).saturating_mul(100)),
    )?;
    let optional = |name: &str| match file.dataset(&at(name)) {
        Ok(ds) => {
            super::h5ad::check_storage(&ds, path, &at(name))?;
            ds.read_string().map(Some).map_err(|e| unreadable(path, &at(name), e))
        }
        Err(_) => Ok(None),
    };
    let features = if v3 {
        Features {
            ids: read_strings(&file, path, &at("features/id"))?,
            names: read_strings(&file, path, &at("features/name"))?,
            types: optional("features/feature_type")?,
            genomes: optional("features/genome")?,
        }
    } else {
        Features {
            ids: read_strings(&file, path, &at("genes"))?,
            names: read_strings(&file, path, &at("gene_names"))?,
            types: None,
            genomes: None,
        }
    };
    let barcodes = read_strings(&file, path, &at("barcodes"))?;
    // Checked above from the datasets' shapes; checked again on what was read.
    let counts = [
        (ids_name, Some(features.ids.len()), n_features),
        (names_name, Some(features.names.len()), n_features),
        (at("features/feature_type"), features.types.as_ref().map(Vec::len), n_features),
        (at("features/genome"), features.genomes.as_ref().map(Vec::len), n_features),
        (at("barcodes"), Some(barcodes.len()), n_barcodes),
    ];
    for (name, found, expected) in counts {
        if let Some(found) = found.filter(|&n| n != expected) {
            return Err(Error::format(path, &name, format!("has {found} entries but {shape_name} is {shape:?}, so {expected} were expected")));
        }
    }
    let keep = features.gene_expression_columns(path, &at("features/feature_type"))?;
    let x = read_h5_csr(&file, path, &group, n_barcodes, &keep)?;
    CountMatrix::new(x, Frame::new(barcodes), features.into_frame(&keep))
}

/// The group holding the matrix and whether it has the v3 layout (`features/`) or v2 (`genes`, `gene_names`).
fn locate_matrix(file: &File, path: &Path) -> Result<(String, bool)> {
    if file.group("matrix").is_ok() {
        return Ok(("matrix".to_string(), true));
    }
    let groups = file.root().groups().map_err(|e| unreadable(path, "/", e))?;
    let genomes: Vec<String> = groups.into_iter().filter(|g| file.dataset(&format!("{g}/indptr")).is_ok()).collect();
    match genomes.as_slice() {
        [genome] => Ok((genome.clone(), file.group(&format!("{genome}/features")).is_ok())),
        [] => {
            let anndata = file.group("X").is_ok() || file.dataset("X").is_ok();
            Err(Error::format(
                path,
                "matrix/indptr",
                format!(
                    "missing: expected a CellRanger v3 file (group matrix with data, indices, indptr, shape, barcodes \
                     and features) or a v2 file (a group per genome with data, indices, indptr, shape, barcodes, genes \
                     and gene_names){}",
                    if anndata { "; this looks like an AnnData file, which should be named .h5ad" } else { "" }
                ),
            ))
        }
        many => Err(Error::format(
            path,
            "/",
            format!("holds the matrices of {} genomes ({}); scgan reads CellRanger v2 files of one genome", many.len(), many.join(", ")),
        )),
    }
}

fn dataset(file: &File, path: &Path, name: &str) -> Result<Dataset> {
    let ds = file.dataset(name).map_err(|_| Error::format(path, name, "missing dataset (the file is not a complete 10x matrix)"))?;
    super::h5ad::check_storage(&ds, path, name)?;
    Ok(ds)
}

fn unreadable(path: &Path, name: &str, e: hdf5_pure::Error) -> Error {
    Error::format(path, name, format!("cannot be read: {e}"))
}

fn read_strings(file: &File, path: &Path, name: &str) -> Result<Vec<String>> {
    dataset(file, path, name)?.read_string().map_err(|e| unreadable(path, name, e))
}

fn length(ds: &Dataset, path: &Path, name: &str) -> Result<u64> {
    match ds.shape().map_err(|e| unreadable(path, name, e))?.as_slice() {
        &[n] => Ok(n),
        other => Err(Error::format(path, name, format!("expected a 1-D array, found shape {other:?}"))),
    }
}

/// Reads the CSC `(n_features, n_barcodes)` matrix of `group` as CSR `(n_barcodes, kept features)`, a window
/// of entries at a time, keeping the features `keep` gives a column.
fn read_h5_csr(file: &File, path: &Path, group: &str, n_cells: usize, keep: &[Option<u32>]) -> Result<CsrMatrix> {
    let (indptr_name, indices_name, data_name) = (format!("{group}/indptr"), format!("{group}/indices"), format!("{group}/data"));
    let indptr = dataset(file, path, &indptr_name)?.read_i64().map_err(|e| unreadable(path, &indptr_name, e))?;
    let (indices_ds, data_ds) = (dataset(file, path, &indices_name)?, dataset(file, path, &data_name)?);
    let nnz = length(&indices_ds, path, &indices_name)?;
    if length(&data_ds, path, &data_name)? != nnz {
        return Err(Error::format(path, &data_name, format!("has a different length than {indices_name} ({nnz})")));
    }
    if indptr.len() != n_cells + 1 {
        return Err(Error::format(path, &indptr_name, format!("has {} entries, expected n_barcodes + 1 = {}", indptr.len(), n_cells + 1)));
    }
    if indptr.first() != Some(&0) || indptr.last().map(|&v| v as u64) != Some(nnz) {
        return Err(Error::format(path, &indptr_name, format!("must start at 0 and end at the number of entries, {nnz}")));
    }
    if let Some(cell) = indptr.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::format(path, &indptr_name, format!("decreases after barcode {cell}; offsets must not decrease")));
    }
    let reserve = |v: &mut Vec<u32>, w: &mut Vec<f32>| -> Result<()> {
        let n = usize::try_from(nnz).unwrap_or(usize::MAX);
        v.try_reserve(n).and_then(|_| w.try_reserve(n)).map_err(|_| Error::format(path, &indices_name, format!("{nnz} entries do not fit in memory")))
    };
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    reserve(&mut indices, &mut data)?;
    let mut out_indptr = Vec::with_capacity(n_cells + 1);
    out_indptr.push(0u64);
    let mut cell = 0usize;
    let mut start = 0u64;
    while start < nnz {
        let take = WINDOW.min(nnz - start);
        let features = indices_ds.read_i64_rows(start, take).map_err(|e| unreadable(path, &indices_name, e))?;
        let values = data_ds.read_f32_rows(start, take).map_err(|e| unreadable(path, &data_name, e))?;
        if features.len() as u64 != take || values.len() as u64 != take {
            return Err(Error::format(path, group, "stored arrays are shorter than their declared shape"));
        }
        for (k, (&feature, &value)) in features.iter().zip(&values).enumerate() {
            let entry = start + k as u64;
            // indptr starts at 0, ends at nnz and never decreases (checked above), so this stays in range.
            while cell < n_cells && indptr[cell + 1] as u64 <= entry {
                out_indptr.push(indices.len() as u64);
                cell += 1;
            }
            let Some(&column) = usize::try_from(feature).ok().and_then(|f| keep.get(f)) else {
                return Err(Error::format(path, &indices_name, format!("entry {entry} is feature {feature}, out of range 0..{}", keep.len())));
            };
            if !value.is_finite() {
                return Err(Error::format(path, &data_name, format!("entry {entry} is {value}; values must be finite")));
            }
            if let Some(column) = column {
                indices.push(column);
                data.push(value);
            }
        }
        start += take;
    }
    out_indptr.resize(n_cells + 1, indices.len() as u64);
    let n_genes = keep.iter().flatten().count();
    let mut x = CsrMatrix::new(n_cells, n_genes, out_indptr, indices, data, &format!("{}: {group}", path.display()))?;
    x.sort_and_sum_duplicates();
    Ok(x)
}

/// Feature annotations, before only gene expression is kept.
struct Features {
    ids: Vec<String>,
    names: Vec<String>,
    types: Option<Vec<String>>,
    genomes: Option<Vec<String>>,
}

impl Features {
    /// The matrix column of every feature, `None` for features dropped because they are not gene expression.
    fn gene_expression_columns(&self, path: &Path, field: &str) -> Result<Vec<Option<u32>>> {
        if u32::try_from(self.ids.len()).is_err() {
            return Err(Error::format(path, field, "more than 2^32 features"));
        }
        let Some(types) = &self.types else { return Ok((0..self.ids.len() as u32).map(Some).collect()) };
        let mut next = 0u32;
        let mut columns = Vec::with_capacity(types.len());
        for feature_type in types {
            columns.push((feature_type == GENE_EXPRESSION).then_some(next));
            next += u32::from(feature_type == GENE_EXPRESSION);
        }
        if next == 0 && !types.is_empty() {
            let mut found: Vec<&str> = types.iter().map(String::as_str).collect();
            found.sort_unstable();
            found.dedup();
            return Err(Error::format(path, field, format!("no '{GENE_EXPRESSION}' features; the feature types are: {}", found.join(", "))));
        }
        Ok(columns)
    }

    /// The `var` frame of the kept features: names as index, `gene_ids`, `feature_types`, `genome`.
    fn into_frame(self, keep: &[Option<u32>]) -> Frame {
        let pick = |values: Vec<String>| -> Vec<String> {
            values.into_iter().zip(keep).filter_map(|(v, k)| k.map(|_| v)).collect()
        };
        let mut frame = Frame::new(pick(self.names));
        frame.insert("gene_ids", Column::Str(pick(self.ids)));
        if let Some(types) = self.types {
            frame.insert("feature_types", Column::categorical_from(&pick(types)));
        }
        if let Some(genomes) = self.genomes {
            frame.insert("genome", Column::categorical_from(&pick(genomes)));
        }
        frame
    }
}

/// Reads a 10x Matrix Market folder, given as the folder or as its `matrix.mtx[.gz]` file.
pub fn read_10x_mtx(path: &Path) -> Result<CountMatrix> {
    let (folder, prefix, matrix_path) = if path.is_dir() {
        (path.to_path_buf(), String::new(), find(path, "", &["matrix.mtx"])?)
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let prefix = name.strip_suffix("matrix.mtx.gz").or_else(|| name.strip_suffix("matrix.mtx")).unwrap_or("");
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (folder.to_path_buf(), prefix.to_string(), path.to_path_buf())
    };
    let barcodes_path = find(&folder, &prefix, &["barcodes.tsv"])?;
    let features_path = find(&folder, &prefix, &["features.tsv", "genes.tsv"])?;
    let barcodes = read_table(&barcodes_path, 1)?.into_iter().map(|f| f.into_iter().next().unwrap_or_default()).collect::<Vec<_>>();
    let features = read_features(&features_path)?;
    let keep = features.gene_expression_columns(&features_path, "column 3 (feature type)")?;
    let x = read_mtx(&matrix_path, &barcodes_path, barcodes.len(), &features_path, &keep)?;
    CountMatrix::new(x, Frame::new(barcodes), features.into_frame(&keep))
}

/// `folder/{prefix}{stem}[.gz]` for the first stem that exists (then without the prefix).
fn find(folder: &Path, prefix: &str, stems: &[&str]) -> Result<PathBuf> {
    for prefix in [prefix, ""] {
        for stem in stems {
            for suffix in [".gz", ""] {
                let candidate = folder.join(format!("{prefix}{stem}{suffix}"));
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
    }
    Err(Error::format(
        folder,
        format!("{prefix}{}[.gz]", stems.first().copied().unwrap_or("")),
        "missing: a 10x Matrix Market folder holds matrix.mtx[.gz], barcodes.tsv[.gz] and features.tsv[.gz] \
         (genes.tsv in CellRanger v2)",
    ))
}

/// The tab-separated fields of every non-blank line, checking each has at least `min_fields`.
fn read_table(path: &Path, min_fields: usize) -> Result<Vec<Vec<String>>> {
    let mut lines = Lines::open(path)?;
    let mut rows = Vec::new();
    while let Some((number, line)) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split('\t').map(|f| f.trim().to_string()).collect();
        if fields.len() < min_fields {
            return Err(Error::format(
                path,
                format!("line {number}"),
                format!("has {} tab-separated fields, expected at least {min_fields} (gene id, then gene name)", fields.len()),
            ));
        }
        rows.push(fields);
    }
    Ok(rows)
}

/// `features.tsv` (id, name, type) or `genes.tsv` (id, name); the first line decides whether types are given.
fn read_features(path: &Path) -> Result<Features> {
    let rows = read_table(path, 2)?;
    let typed = rows.first().is_some_and(|r| r.len() >= 3);
    if let Some(k) = rows.iter().position(|r| typed && r.len() < 3) {
        return Err(Error::format(path, format!("line {}", k + 1), "has no feature type (column 3) although the first line has one"));
    }
    let mut features = Features { ids: Vec::new(), names: Vec::new(), types: typed.then(Vec::new), genomes: None };
    for row in rows {
        let mut fields = row.into_iter();
        features.ids.push(fields.next().unwrap_or_default());
        features.names.push(fields.next().unwrap_or_default());
        if let Some(types) = features.types.as_mut() {
            types.push(fields.next().unwrap_or_default());
        }
    }
    Ok(features)
}

/// Parses the banner; returns whether values are integers. Only `matrix coordinate integer|real general`.
fn parse_banner(path: &Path, number: usize, line: &str) -> Result<bool> {
    let tokens: Vec<String> = line.split_whitespace().map(str::to_ascii_lowercase).collect();
    let fail = |message: String| Err(Error::format(path, format!("line {number}"), message));
    let expected = "expected '%%MatrixMarket matrix coordinate integer general' (or real)";
    match tokens.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["%%matrixmarket", "matrix", format, field, symmetry] => {
            if *format == "array" {
                return fail("dense 'array' Matrix Market files are not supported; 10x matrices are 'coordinate'".into());
            }
            if *format != "coordinate" {
                return fail(format!("unknown format '{format}'; {expected}"));
            }
            let integer = match *field {
                "integer" => true,
                "real" | "double" => false,
                "pattern" => return fail("'pattern' matrices (positions without values) are not supported: counts are needed".into()),
                "complex" => return fail("'complex' values are not supported; counts are integer or real".into()),
                other => return fail(format!("unknown value type '{other}'; {expected}")),
            };
            if *symmetry != "general" {
                return fail(format!("'{symmetry}' matrices are not supported; a features x barcodes matrix is 'general'"));
            }
            Ok(integer)
        }
        _ => fail(format!("found '{}'; {expected}", line.chars().take(80).collect::<String>())),
    }
}

/// Reads the features x barcodes `.mtx` as CSR barcodes x kept features, checking it against the other files.
fn read_mtx(path: &Path, barcodes_path: &Path, n_barcodes: usize, features_path: &Path, keep: &[Option<u32>]) -> Result<CsrMatrix> {
    let mut lines = Lines::open(path)?;
    let Some((number, banner)) = lines.next_line()? else {
        return Err(Error::format(path, "line 1", "the file is empty; expected the Matrix Market banner"));
    };
    let integer = parse_banner(path, number, banner)?;
    let (n_features, n_cells, nnz, size_line) = loop {
        let Some((number, line)) = lines.next_line()? else {
            return Err(Error::format(path, "end of file", "no size line ('n_features n_barcodes n_entries') after the banner"));
        };
        if line.trim().is_empty() || line.starts_with('%') {
            continue;
        }
        let sizes: Vec<Option<usize>> = line.split_whitespace().map(|t| t.parse().ok()).collect();
        match sizes.as_slice() {
            &[Some(f), Some(b), Some(n)] => break (f, b, n, number),
            _ => {
                return Err(Error::format(
                    path,
                    format!("line {number}"),
                    format!("size line '{line}' is malformed; expected three non-negative integers 'n_features n_barcodes n_entries'"),
                ))
            }
        }
    };
    let transposed = if n_features == n_barcodes && n_cells == keep.len() { " (is the matrix barcodes x features?)" } else { "" };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if n_features != keep.len() {
        return Err(Error::format(features_path, "line count", format!("has {} features but {name} declares {n_features}{transposed}", keep.len())));
    }
    if n_cells != n_barcodes {
        return Err(Error::format(barcodes_path, "line count", format!("has {n_barcodes} barcodes but {name} declares {n_cells}{transposed}")));
    }
    if u32::try_from(n_cells).is_err() {
        return Err(Error::format(path, "size line", "more than 2^32 barcodes"));
    }
    memory::ensure_fits(
        path,
        &format!("line {size_line}"),
        &format!("the size line declares {n_features} features x {n_cells} barcodes with {nnz} entries"),
        // (row, col, value) triplets, then the CSR arrays built from them.
        memory::csr_bytes(n_cells as u64, n_features as u64, nnz as u64).saturating_add((nnz as u64).saturating_mul(12)),
    )?;
    // The size line is only a claim: grow with the entries actually found rather than trust it.
    let capacity = nnz.min(1 << 20);
    let (mut rows, mut cols, mut values) = (Vec::with_capacity(capacity), Vec::with_capacity(capacity), Vec::with_capacity(capacity));
    let mut count = 0usize;
    while let Some((number, line)) = lines.next_line()? {
        let line = line.trim();
        if line.is_empty() || line.starts_with('%') {
            continue;
        }
        let at = || format!("line {number}");
        count += 1;
        if count > nnz {
            return Err(Error::format(path, at(), format!("header says {nnz} entries, found more (this is entry {count})")));
        }
        let mut tokens = line.split_whitespace();
        let (Some(r), Some(c), Some(v), None) = (tokens.next(), tokens.next(), tokens.next(), tokens.next()) else {
            return Err(Error::format(path, at(), format!("expected 'feature barcode value', found '{line}'")));
        };
        let index = |text: &str, bound: usize, what: &str| match text.parse::<usize>() {
            Ok(i) if (1..=bound).contains(&i) => Ok(i - 1),
            _ => Err(Error::format(path, at(), format!("{what} index {text} is out of range 1..={bound}"))),
        };
        let (feature, cell) = (index(r, n_features, "feature (row)")?, index(c, n_cells, "barcode (column)")?);
        let value = if integer { v.parse::<i64>().ok().map(|x| x as f32) } else { v.parse::<f64>().ok().map(|x| x as f32) };
        let Some(value) = value.filter(|x| x.is_finite()) else {
            let kind = if integer { "an integer (the banner declares integer values)" } else { "a finite number" };
            return Err(Error::format(path, at(), format!("value '{v}' is not {kind}")));
        };
        if let Some(&Some(gene)) = keep.get(feature) {
            rows.push(cell as u32);
            cols.push(gene);
            values.push(value);
        }
    }
    if count < nnz {
        return Err(Error::format(path, "end of file", format!("header says {nnz} entries, found {count}; is the file truncated?")));
    }
    Ok(CsrMatrix::from_triplets(n_cells, keep.iter().flatten().count(), &rows, &cols, &values))
}


#[cfg(test)]
mod tests;
