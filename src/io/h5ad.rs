//! Reading AnnData `.h5ad` files.
//!
//! An h5ad file is HDF5 with a fixed schema (anndata's "on-disk format"): the matrix `X` is a group with
//! `encoding-type` `csr_matrix` or `csc_matrix` (datasets `data`, `indices`, `indptr`, attribute `shape`) or a
//! dense 2-D dataset; `obs` and `var` are groups with `encoding-type` `dataframe`, whose `_index` attribute
//! names the dataset of row names and whose `column-order` attribute lists the columns; each column is a
//! dataset (`array`, `string-array`) or a group (`categorical`, `nullable-integer`, `nullable-boolean`,
//! `nullable-string-array`); `layers/NAME` hold further matrices; `uns` is a tree of dicts.
//!
//! The file is read through [`hdf5_pure::File::open_streaming`], which fetches chunks on demand instead of
//! buffering the file, and matrices are assembled directly in CSR form: CSR is read as it is stored, CSC is
//! transposed in two passes over windows of the stored arrays, and dense matrices are sparsified a block of rows
//! at a time. So reading never holds much more than the final CSR arrays.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hdf5_pure::{AttrValue, DType, Dataset, File, Group};

use super::memory;
use crate::data::{Column, CountMatrix, CsrMatrix, Frame};
use crate::error::{Error, Result};

/// Elements read per window when a stored array is walked in pieces.
const WINDOW: usize = 1 << 18;

/// Reads `X` (or `layers/<layer>`), `obs`, `var` and `uns` of an h5ad file.
pub fn read_h5ad(path: &Path, layer: Option<&str>) -> Result<CountMatrix> {
    check_hdf5_signature(path, "an AnnData .h5ad file")?;
    // hdf5-pure is young; a damaged file must give an error, never take the process down.
    catch_unwind(AssertUnwindSafe(|| read_h5ad_unguarded(path, layer))).unwrap_or_else(|_| {
        Err(Error::format(path, "file", "the HDF5 structure is damaged (is the file truncated?)"))
    })
}

fn read_h5ad_unguarded(path: &Path, layer: Option<&str>) -> Result<CountMatrix> {
    let file = open_hdf5(path)?;
    let location = match layer {
        None => "X".to_string(),
        Some(name) => {
            let available = file.group("layers").and_then(|g| list_members(&g)).unwrap_or_default();
            if !available.iter().any(|l| l == name) {
                return Err(Error::format(
                    path,
                    format!("layers/{name}"),
                    format!(
                        "no such layer; the file's layers are: {}",
                        if available.is_empty() { "(none)".to_string() } else { available.join(", ") }
                    ),
                ));
            }
            format!("layers/{name}")
        }
    };
    let x = read_matrix(&file, path, &location)?;
    let obs = read_frame(&file, path, "obs", x.n_rows())?;
    let var = read_frame(&file, path, "var", x.n_cols())?;
    let mut matrix = CountMatrix::new(x, obs, var)?;
    if let Ok(uns) = file.group("uns") {
        if let serde_json::Value::Object(map) = read_uns_group(&uns, path, 0) {
            matrix.uns = map;
        }
    }
    Ok(matrix)
}

/// Fails with a clear message when `path` is not HDF5 at all (a CSV renamed .h5ad, an empty file, ...).
pub(crate) fn check_hdf5_signature(path: &Path, expected: &str) -> Result<()> {
    match hdf5_pure::is_hdf5(path) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::format(path, "file", format!("not an HDF5 file (no HDF5 signature); expected {expected}"))),
        Err(source) => Err(Error::io(path, source)),
    }
}

/// Opens an HDF5 file for streaming reads, turning library errors into messages naming the file.
pub(crate) fn open_hdf5(path: &Path) -> Result<File> {
    File::open_streaming(path).map_err(|e| {
        Error::format(path, "file", format!("cannot be read as HDF5 ({e}); is the file truncated or damaged?"))
    })
}

fn list_members(group: &Group) -> std::result::Result<Vec<String>, hdf5_pure::Error> {
    let mut names = group.datasets()?;
    names.extend(group.groups()?);
    names.sort();
    Ok(names)
}

fn attr_text(attrs: &std::collections::HashMap<String, AttrValue>, name: &str) -> Option<String> {
    attrs.get(name).and_then(|v| v.as_str()).map(str::to_string)
}

fn hdf5_error(path: &Path, field: &str, e: hdf5_pure::Error) -> Error {
    Error::format(path, field, format!("cannot be read: {e}"))
}

/// Reads the matrix stored at `location` (`X` or `layers/NAME`) as CSR.
pub(crate) fn read_matrix(file: &File, path: &Path, location: &str) -> Result<CsrMatrix> {
    if let Ok(group) = file.group(location) {
        let attrs = group.attrs().map_err(|e| hdf5_error(path, location, e))?;
        let encoding = attr_text(&attrs, "encoding-type").or_else(|| {
            attr_text(&attrs, "h5sparse_format").map(|f| format!("{f}_matrix"))
        });
        let shape = attrs
            .get("shape")
            .or_else(|| attrs.get("h5sparse_shape"))
            .and_then(|v| v.to_i64s())
            .filter(|s| s.len() == 2 && s.iter().all(|&d| d >= 0))
            .ok_or_else(|| {
                Error::format(path, format!("{location}.attrs['shape']"), "missing or not two non-negative integers")
            })?;
        let (n_rows, n_cols) = (shape[0] as usize, shape[1] as usize);
        // The memory check comes first, from the header alone: a damaged or hostile shape is never allocated.
        let data_name = format!("{location}/data");
        let nnz = file.dataset(&data_name).ok().and_then(|d| d.shape().ok()).map(|s| elements(&s)).unwrap_or(0);
        let extra = if encoding.as_deref() == Some("csc_matrix") { (n_rows as u64).saturating_mul(16) } else { 0 };
        memory::ensure_fits(
            path,
            &format!("{location}.attrs['shape']"),
            &format!("{location} is {n_rows} x {n_cols} with {nnz} stored entries"),
            memory::csr_bytes(n_rows as u64, n_cols as u64, nnz).saturating_add(extra),
        )?;
        return match encoding.as_deref() {
            Some("csr_matrix") => read_csr(file, path, location, n_rows, n_cols),
            Some("csc_matrix") => read_csc(file, path, location, n_rows, n_cols),
            other => Err(Error::format(
                path,
                location,
                format!("encoding-type {other:?} is not a matrix; expected csr_matrix, csc_matrix or a dense array"),
            )),
        };
    }
    match file.dataset(location) {
        Ok(dataset) => {
            check_storage(&dataset, path, location)?;
            read_dense(&dataset, path, location)
        }
        Err(_) => Err(Error::format(
            path,
            location,
            "not found: an h5ad file keeps its count matrix in X (a sparse group or a dense dataset)",
        )),
    }
}

/// The number of elements of a dataset of `shape` (saturating: a damaged shape must not overflow).
fn elements(shape: &[u64]) -> u64 {
    shape.iter().fold(1u64, |n, &d| n.saturating_mul(d))
}

/// Refuses a dataset that holds more than `max` elements, before it is read (a damaged header may claim
/// billions of elements that are not stored: HDF5 fills unwritten chunks with the fill value).
fn at_most(ds: &Dataset, path: &Path, name: &str, max: u64, expected: &str) -> Result<()> {
    let n = elements(&ds.shape().map_err(|e| hdf5_error(path, name, e))?);
    if n > max {
        return Err(Error::format(path, name, format!("has {n} elements, expected {expected}")));
    }
    Ok(())
}

fn dataset(file: &File, path: &Path, name: &str) -> Result<Dataset> {
    let ds = file.dataset(name).map_err(|_| Error::format(path, name, "missing dataset"))?;
    check_storage(&ds, path, name)?;
    Ok(ds)
}

/// Refuses a dataset whose stored bytes lie past the end of the file, or whose chunks would decode to more
/// memory than is available, before the HDF5 library reads it: hdf5-pure sizes its buffers from these
/// numbers, so a damaged chunk index would otherwise allocate gigabytes for a file of a few kilobytes (found
/// by fuzzing, see TESTING.md).
pub(crate) fn check_storage(ds: &Dataset, path: &Path, name: &str) -> Result<()> {
    let Ok(file_len) = std::fs::metadata(path).map(|m| m.len()) else { return Ok(()) };
    let past_end = |address: u64, size: u64| address.checked_add(size).is_none_or(|end| end > file_len);
    let damaged = |what: String| {
        Error::format(path, name, format!("{what}; the file is {file_len} bytes: it is truncated or damaged"))
    };
    match ds.layout() {
        Ok(hdf5_pure::Layout::Contiguous { address: Some(address), size }) if past_end(address, size) => {
            Err(damaged(format!("its {size} bytes at offset {address} lie past the end of the file")))
        }
        Ok(hdf5_pure::Layout::Chunked { chunk_shape, .. }) => {
            let element = ds.element_size().unwrap_or(1);
            let chunk_bytes = elements(&chunk_shape).saturating_mul(element);
            if chunk_bytes > memory::available_bytes().unwrap_or(u64::MAX) {
                return Err(damaged(format!("its chunks of {chunk_shape:?} elements would need {} each", memory::human(chunk_bytes))));
            }
            for chunk in ds.chunks().unwrap_or_default() {
                if past_end(chunk.address, chunk.storage_size) {
                    return Err(damaged(format!(
                        "a chunk of {} bytes at offset {} lies past the end of the file",
                        chunk.storage_size, chunk.address
                    )));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn length(dataset: &Dataset, path: &Path, name: &str) -> Result<usize> {
    let shape = dataset.shape().map_err(|e| hdf5_error(path, name, e))?;
    match shape.as_slice() {
        [n] => Ok(*n as usize),
        other => Err(Error::format(path, name, format!("expected a 1-D array, found shape {other:?}"))),
    }
}

fn read_indptr(file: &File, path: &Path, location: &str, expected_len: usize) -> Result<Vec<u64>> {
    let name = format!("{location}/indptr");
    let ds = dataset(file, path, &name)?;
    let len = length(&ds, path, &name)?;
    if len != expected_len {
        return Err(Error::format(path, &name, format!("has {len} entries, expected {expected_len} for the shape")));
    }
    let values = ds.read_i64().map_err(|e| hdf5_error(path, &name, e))?;
    if values.iter().any(|&v| v < 0) {
        return Err(Error::format(path, &name, "has negative offsets"));
    }
    Ok(values.into_iter().map(|v| v as u64).collect())
}

fn read_csr(file: &File, path: &Path, location: &str, n_rows: usize, n_cols: usize) -> Result<CsrMatrix> {
    let indptr = read_indptr(file, path, location, n_rows + 1)?;
    let data_name = format!("{location}/data");
    let indices_name = format!("{location}/indices");
    let data_ds = dataset(file, path, &data_name)?;
    let nnz = indptr.last().copied().unwrap_or(0);
    at_most(&data_ds, path, &data_name, nnz, &format!("{nnz} (the last entry of {location}/indptr)"))?;
    let indices_ds = dataset(file, path, &indices_name)?;
    at_most(&indices_ds, path, &indices_name, nnz, &format!("{nnz} (the last entry of {location}/indptr)"))?;
    let data = data_ds.read_f32().map_err(|e| hdf5_error(path, &data_name, e))?;
    let indices = read_indices(&indices_ds, path, &indices_name, 0, usize::MAX)?;
    let mut matrix = CsrMatrix::new(n_rows, n_cols, indptr, indices, data, &format!("{}: {location}", path.display()))?;
    matrix.sort_and_sum_duplicates();
    Ok(matrix)
}

/// Reads `count` indices from `start` (all with `usize::MAX`), refusing negative ones.
fn read_indices(ds: &Dataset, path: &Path, name: &str, start: usize, count: usize) -> Result<Vec<u32>> {
    let signed = matches!(ds.dtype().map_err(|e| hdf5_error(path, name, e))?, DType::I8 | DType::I16 | DType::I32 | DType::I64);
    let read = |s: usize, c: usize| -> Result<Vec<u32>> {
        if signed {
            let values = if c == usize::MAX { ds.read_i64() } else { ds.read_i64_rows(s as u64, c as u64) }
                .map_err(|e| hdf5_error(path, name, e))?;
            values
                .into_iter()
                .map(|v| u32::try_from(v).map_err(|_| Error::format(path, name, format!("index {v} is out of range"))))
                .collect()
        } else {
            if c == usize::MAX { ds.read_u32() } else { ds.read_u32_rows(s as u64, c as u64) }
                .map_err(|e| hdf5_error(path, name, e))
        }
    };
    if !signed || count != usize::MAX {
        return read(start, count);
    }
    // Signed indices are converted a window at a time so that no 8-byte copy of the whole array exists.
    let total = length(ds, path, name)?;
    let mut out = Vec::with_capacity(total);
    let mut offset = 0;
    while offset < total {
        let take = WINDOW.min(total - offset);
        out.extend(read(offset, take)?);
        offset += take;
    }
    Ok(out)
}

/// CSC `(n_rows, n_cols)` to CSR in two passes over windows of the stored arrays: count entries per row, then
/// scatter. Columns are visited in order, so every row comes out with sorted column indices.
fn read_csc(file: &File, path: &Path, location: &str, n_rows: usize, n_cols: usize) -> Result<CsrMatrix> {
    let col_ptr = read_indptr(file, path, location, n_cols + 1)?;
    let data_name = format!("{location}/data");
    let indices_name = format!("{location}/indices");
    let data_ds = dataset(file, path, &data_name)?;
    let indices_ds = dataset(file, path, &indices_name)?;
    let nnz = length(&indices_ds, path, &indices_name)?;
    if length(&data_ds, path, &data_name)? != nnz || col_ptr[n_cols] as usize != nnz {
        return Err(Error::format(path, location, "data, indices and indptr disagree on the number of entries"));
    }
    if col_ptr.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::format(path, format!("{location}/indptr"), "offsets decrease"));
    }
    let mut row_ptr = vec![0u64; n_rows + 1];
    let mut offset = 0;
    while offset < nnz {
        let take = WINDOW.min(nnz - offset);
        for row in read_indices(&indices_ds, path, &indices_name, offset, take)? {
            let row = row as usize;
            if row >= n_rows {
                return Err(Error::format(path, &indices_name, format!("row {row} is out of range for {n_rows} rows")));
            }
            row_ptr[row + 1] += 1;
        }
        offset += take;
    }
    for i in 0..n_rows {
        row_ptr[i + 1] += row_ptr[i];
    }
    let mut next = row_ptr.clone();
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0f32; nnz];
    let mut column = 0usize;
    let mut offset = 0;
    while offset < nnz {
        let take = WINDOW.min(nnz - offset);
        let rows = read_indices(&indices_ds, path, &indices_name, offset, take)?;
        let values = data_ds.read_f32_rows(offset as u64, take as u64).map_err(|e| hdf5_error(path, &data_name, e))?;
        for (k, (&row, &value)) in rows.iter().zip(&values).enumerate() {
            while col_ptr[column + 1] as usize <= offset + k {
                column += 1;
            }
            let slot = &mut next[row as usize];
            indices[*slot as usize] = column as u32;
            data[*slot as usize] = value;
            *slot += 1;
        }
        offset += take;
    }
    let mut matrix = CsrMatrix::new(n_rows, n_cols, row_ptr, indices, data, &format!("{}: {location}", path.display()))?;
    matrix.sort_and_sum_duplicates();
    Ok(matrix)
}

/// A dense `(n_rows, n_cols)` dataset, sparsified a block of rows at a time.
fn read_dense(ds: &Dataset, path: &Path, location: &str) -> Result<CsrMatrix> {
    let shape = ds.shape().map_err(|e| hdf5_error(path, location, e))?;
    let (n_rows, n_cols) = match shape.as_slice() {
        [r, c] => (*r as usize, *c as usize),
        other => return Err(Error::format(path, location, format!("expected a 2-D matrix, found shape {other:?}"))),
    };
    // Worst case: every value non-zero. Checked before reading, from the dataset's shape.
    memory::ensure_fits(
        path,
        location,
        &format!("{location} is a dense {n_rows} x {n_cols} matrix"),
        memory::csr_bytes(n_rows as u64, n_cols as u64, (n_rows as u64).saturating_mul(n_cols as u64)),
    )?;
    let rows_per_block = (WINDOW / n_cols.max(1)).max(1);
    let mut indptr = Vec::with_capacity(n_rows + 1);
    indptr.push(0u64);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start < n_rows {
        let count = rows_per_block.min(n_rows - start);
        let block = ds.read_f32_rows(start as u64, count as u64).map_err(|e| hdf5_error(path, location, e))?;
        if block.len() != count * n_cols {
            return Err(Error::format(path, location, "stored values do not fill the declared shape"));
        }
        for row in block.chunks_exact(n_cols.max(1)).take(count) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    data.push(v);
                }
            }
            indptr.push(indices.len() as u64);
        }
        start += count;
    }
    if n_cols == 0 {
        indptr.resize(n_rows + 1, 0);
    }
    CsrMatrix::new(n_rows, n_cols, indptr, indices, data, &format!("{}: {location}", path.display()))
}

/// Reads a dataframe group (`obs` or `var`) with `n_rows` rows.
fn read_frame(file: &File, path: &Path, name: &str, n_rows: usize) -> Result<Frame> {
    let group = match file.group(name) {
        Ok(g) => g,
        Err(_) => {
            // A file with no obs/var is legal (anndata fills in 0, 1, 2, ...).
            return Ok(Frame::new((0..n_rows).map(|i| i.to_string()).collect()));
        }
    };
    let attrs = group.attrs().map_err(|e| hdf5_error(path, name, e))?;
    let index_name = attr_text(&attrs, "_index").unwrap_or_else(|| "_index".to_string());
    let index_path = format!("{name}/{index_name}");
    let index = match file.dataset(&index_path) {
        Ok(ds) => {
            check_storage(&ds, path, &index_path)?;
            at_most(&ds, path, &index_path, n_rows as u64, &format!("{n_rows}, one name per {}", if name == "obs" { "row" } else { "column" }))?;
            ds.read_string().map_err(|e| hdf5_error(path, &index_path, e))?
        }
        Err(_) => (0..n_rows).map(|i| i.to_string()).collect(),
    };
    if index.len() != n_rows {
        return Err(Error::format(
            path,
            &index_path,
            format!("has {} names but X has {n_rows} {}", index.len(), if name == "obs" { "rows" } else { "columns" }),
        ));
    }
    let mut frame = Frame::new(index);
    let order: Vec<String> = match attrs.get("column-order").and_then(|v| v.as_strings()) {
        Some(names) => names.to_vec(),
        None => list_members(&group).unwrap_or_default().into_iter().filter(|n| *n != index_name && !n.starts_with("__")).collect(),
    };
    for column_name in order {
        let column_path = format!("{name}/{column_name}");
        match read_column(file, path, &column_path, &group, &column_name, n_rows as u64)? {
            Some(column) if column.len() == n_rows => frame.insert(&column_name, column),
            Some(column) => {
                return Err(Error::format(path, &column_path, format!("has {} values, expected {n_rows}", column.len())))
            }
            None => eprintln!("warning: {}: {column_path}: column of an unsupported kind skipped", path.display()),
        }
    }
    Ok(frame)
}

fn read_column(
    file: &File,
    path: &Path,
    column_path: &str,
    frame: &Group,
    column_name: &str,
    n_rows: u64,
) -> Result<Option<Column>> {
    let err = |e| hdf5_error(path, column_path, e);
    // Per-row arrays hold n_rows values; a category list more than that plus a margin is damage, not data.
    let per_row = |ds: Dataset, name: &str| -> Result<Dataset> {
        at_most(&ds, path, name, n_rows, &format!("{n_rows}, one value per row"))?;
        Ok(ds)
    };
    let max_categories = n_rows.saturating_add(1 << 20);
    if let Ok(group) = file.group(column_path) {
        let attrs = group.attrs().map_err(err)?;
        let member = |m: &str| {
            let name = format!("{column_path}/{m}");
            let ds = dataset(file, path, &name)?;
            if m == "categories" {
                at_most(&ds, path, &name, max_categories, "at most one category per row")?;
                Ok(ds)
            } else {
                per_row(ds, &name)
            }
        };
        return Ok(match attr_text(&attrs, "encoding-type").as_deref() {
            Some("categorical") => {
                let codes = member("codes")?.read_i32().map_err(err)?;
                let categories = read_text_or_numbers(&member("categories")?).map_err(err)?;
                if let Some(bad) = codes.iter().find(|&&c| c < -1 || c >= categories.len() as i32) {
                    return Err(Error::format(path, format!("{column_path}/codes"), format!("code {bad} has no category")));
                }
                let ordered = attrs.get("ordered").and_then(|v| v.as_i64()).unwrap_or(0) != 0;
                Some(Column::Categorical { codes, categories, ordered })
            }
            Some("nullable-integer") => {
                let values = member("values")?.read_f64().map_err(err)?;
                let mask = member("mask")?.read_u8().map_err(err)?;
                if mask.iter().any(|&m| m != 0) {
                    Some(Column::Float(values.iter().zip(&mask).map(|(&v, &m)| if m != 0 { f64::NAN } else { v }).collect()))
                } else {
                    Some(Column::Int(values.iter().map(|&v| v as i64).collect()))
                }
            }
            Some("nullable-boolean") | Some("nullable-string-array") => {
                let values = read_text_or_numbers(&member("values")?).map_err(err)?;
                let mask = member("mask")?.read_u8().map_err(err)?;
                let text: Vec<String> = values.iter().map(|v| match v.as_str() { "1" => "True".into(), "0" => "False".into(), _ => v.clone() }).collect();
                match Column::categorical_from(&text) {
                    Column::Categorical { mut codes, categories, ordered } => {
                        codes.iter_mut().zip(&mask).filter(|(_, &m)| m != 0).for_each(|(c, _)| *c = -1);
                        Some(Column::Categorical { codes, categories, ordered })
                    }
                    other => Some(other),
                }
            }
            _ => None,
        });
    }
    let ds = match file.dataset(column_path) {
        Ok(ds) => {
            check_storage(&ds, path, column_path)?;
            ds
        }
        Err(_) => return Err(Error::format(path, column_path, "listed in column-order but missing")),
    };
    // anndata < 0.7 stored categoricals as integer codes with the categories in `__categories/<name>`.
    let ds = per_row(ds, column_path)?;
    if let Ok(categories) = frame.dataset(&format!("__categories/{column_name}")) {
        at_most(&categories, path, column_path, max_categories, "at most one category per row")?;
        check_storage(&categories, path, column_path)?;
        let categories = read_text_or_numbers(&categories).map_err(err)?;
        let codes = ds.read_i32().map_err(err)?;
        return Ok(Some(Column::Categorical { codes, categories, ordered: false }));
    }
    Ok(match ds.dtype().map_err(err)? {
        DType::String | DType::VariableLengthString => Some(Column::Str(ds.read_string().map_err(err)?)),
        DType::Enum(_) => Some(Column::Bool(ds.read_i8().map_err(err)?.into_iter().map(|v| v != 0).collect())),
        DType::F32 | DType::F64 => Some(Column::Float(ds.read_f64().map_err(err)?)),
        DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::U8 | DType::U16 | DType::U32 | DType::U64 => {
            Some(Column::Int(ds.read_i64().map_err(err)?))
        }
        _ => None,
    })
}

/// Category values as text, whether stored as strings or numbers (pandas allows both).
fn read_text_or_numbers(ds: &Dataset) -> std::result::Result<Vec<String>, hdf5_pure::Error> {
    match ds.dtype()? {
        DType::String | DType::VariableLengthString => ds.read_string(),
        DType::F32 | DType::F64 => Ok(ds.read_f64()?.iter().map(|v| format!("{v}")).collect()),
        _ => Ok(ds.read_i64()?.iter().map(|v| v.to_string()).collect()),
    }
}

/// Reads `uns` into JSON: dicts become objects, scalars numbers or strings, small arrays lists. Large arrays and
/// unsupported entries are skipped; `uns` is metadata, never needed to read the matrix.
fn read_uns_group(group: &Group, path: &Path, depth: usize) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    if depth > 8 {
        return serde_json::Value::Object(map);
    }
    for name in group.groups().unwrap_or_default() {
        if let Ok(child) = group.group(&name) {
            map.insert(name, read_uns_group(&child, path, depth + 1));
        }
    }
    for name in group.datasets().unwrap_or_default() {
        let Ok(ds) = group.dataset(&name) else { continue };
        if check_storage(&ds, path, &name).is_err() {
            continue;
        }
        let Ok(shape) = ds.shape() else { continue };
        let n: u64 = shape.iter().product();
        if n > 100_000 {
            continue;
        }
        let value = match ds.dtype() {
            Ok(DType::String | DType::VariableLengthString) => ds.read_string().ok().map(|v| strings_to_json(v, shape.is_empty())),
            Ok(DType::F32 | DType::F64) => ds.read_f64().ok().map(|v| numbers_to_json(v, shape.is_empty())),
            Ok(DType::Enum(_)) => ds.read_i8().ok().map(|v| {
                let values: Vec<serde_json::Value> = v.into_iter().map(|b| serde_json::Value::Bool(b != 0)).collect();
                if shape.is_empty() && values.len() == 1 { values[0].clone() } else { serde_json::Value::Array(values) }
            }),
            Ok(_) => ds.read_i64().ok().map(|v| {
                let values: Vec<serde_json::Value> = v.into_iter().map(serde_json::Value::from).collect();
                if shape.is_empty() && values.len() == 1 { values[0].clone() } else { serde_json::Value::Array(values) }
            }),
            Err(_) => None,
        };
        if let Some(value) = value {
            map.insert(name, value);
        }
    }
    serde_json::Value::Object(map)
}

fn strings_to_json(values: Vec<String>, scalar: bool) -> serde_json::Value {
    if scalar && values.len() == 1 {
        serde_json::Value::String(values.into_iter().next().unwrap_or_default())
    } else {
        serde_json::Value::Array(values.into_iter().map(serde_json::Value::String).collect())
    }
}

fn numbers_to_json(values: Vec<f64>, scalar: bool) -> serde_json::Value {
    let to_json = |v: f64| serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null);
    if scalar && values.len() == 1 {
        to_json(values[0])
    } else {
        serde_json::Value::Array(values.into_iter().map(to_json).collect())
    }
}
