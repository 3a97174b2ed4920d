//! Reading dense count tables: CSV and TSV, optionally gzip-compressed.
//!
//! # The format
//! One header line, then one line per row:
//!
//! ```text
//! cell,GeneA,GeneB,GeneC          <- corner label (may be empty), then one name per column
//! AAACCTGA-1,0,3,1                <- row name, then one number per column
//! AAACGGGT-1,2,0,0
//! ```
//!
//! Rows are cells and columns genes; with `transpose` rows are genes and columns cells, the layout R and
//! Seurat export (`write.csv(as.matrix(counts))`). A header with one field fewer than the rows (R's
//! `write.table` leaves out the corner label) is accepted too: then every header field names a column.
//!
//! The separator comes from the name: `.csv` is comma-separated, `.tsv` and `.txt` tab-separated (a `.txt`
//! whose header has commas but no tab is read as comma-separated). A trailing `.gz` is allowed; compression
//! is recognised by the gzip magic bytes, not by the name. Fields may be quoted (`"CD4"`, with `""` for a
//! quote inside); quotes and surrounding spaces are removed. Blank lines are skipped, as is a UTF-8 byte
//! order mark.
//!
//! # What is checked
//! An empty file, a header without data rows, a row with the wrong number of fields ("line 7 has 12 fields,
//! expected 2001 as in the header"), an unterminated quote, and a value that is not a finite number (quoted
//! in the message, with its line and column). Every error names the file and the line. Negative values are
//! read as they are; preprocessing decides whether they are acceptable.
//!
//! # Memory
//! The table is streamed a line at a time and only non-zero values are kept, so a table with 90% zeros
//! needs about a tenth of its dense size: CSR arrays directly when rows are cells, `(row, col, value)`
//! triplets turned into CSR when rows are genes.

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::data::{CountMatrix, CsrMatrix, Frame};
use crate::error::{Error, Result};

/// Reads a dense CSV/TSV table (see the module docs). Rows are cells unless `transpose` is set, in which case
/// rows are genes.
pub fn read_delimited(path: &Path, transpose: bool) -> Result<CountMatrix> {
    let mut lines = Lines::open(path)?;
    let header = loop {
        match lines.next_line()? {
            None => {
                return Err(Error::format(
                    path,
                    "line 1",
                    "the file is empty; expected a header line (a corner label, then column names) and data rows",
                ))
            }
            Some((_, line)) if line.trim().is_empty() => continue,
            Some((number, line)) => break (number, line.to_string()),
        }
    };
    let sep = choose_separator(path, &header.1);
    let header_fields: Vec<String> =
        split_fields(&header.1, sep).map_err(|e| quote_error(path, header.0, e))?.into_iter().map(Cow::into_owned).collect();

    let mut row_names: Vec<String> = Vec::new();
    let mut column_names: Vec<String> = Vec::new();
    let mut n_fields = 0usize;
    // Rows are cells: CSR arrays directly. Rows are genes: triplets (row = cell = table column).
    let mut indptr: Vec<u64> = vec![0];
    let (mut indices, mut data, mut table_rows) = (Vec::<u32>::new(), Vec::<f32>::new(), Vec::<u32>::new());

    while let Some((number, line)) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line, sep).map_err(|e| quote_error(path, number, e))?;
        if row_names.is_empty() {
            // The first data row decides whether the header has a corner label.
            column_names = if fields.len() == header_fields.len() + 1 {
                header_fields.clone()
            } else {
                header_fields.get(1..).unwrap_or_default().to_vec()
            };
            n_fields = column_names.len() + 1;
            if column_names.is_empty() {
                return Err(Error::format(
                    path,
                    format!("line {}", header.0),
                    format!(
                        "the header has no column names; expected a corner label, then one name per column, {}-separated{}",
                        separator_name(sep),
                        separator_hint(path, sep, &header.1)
                    ),
                ));
            }
            if u32::try_from(column_names.len()).is_err() {
                return Err(Error::format(path, format!("line {}", header.0), "more than 2^32 columns"));
            }
        }
        if fields.len() != n_fields {
            return Err(Error::format(
                path,
                format!("line {number}"),
                format!(
                    "line {number} has {} fields, expected {n_fields} as in the header{}",
                    fields.len(),
                    separator_hint(path, sep, line)
                ),
            ));
        }
        let row = u32::try_from(row_names.len())
            .map_err(|_| Error::format(path, format!("line {number}"), "more than 2^32 rows"))?;
        let mut fields = fields.into_iter();
        row_names.push(fields.next().map(Cow::into_owned).unwrap_or_default());
        for (j, text) in fields.enumerate() {
            let value = parse_value(&text).ok_or_else(|| {
                Error::format(
                    path,
                    format!("line {number}, column {}", j + 2),
                    format!(
                        "value \"{}\" (column \"{}\") is not a finite number",
                        shorten(&text),
                        column_names.get(j).map(String::as_str).unwrap_or("")
                    ),
                )
            })?;
            if value != 0.0 {
                // `j` is below the number of columns, checked above to fit in u32.
                indices.push(j as u32);
                data.push(value);
                if transpose {
                    table_rows.push(row);
                }
            }
        }
        if !transpose {
            indptr.push(indices.len() as u64);
        }
    }
    if row_names.is_empty() {
        return Err(Error::format(
            path,
            format!("line {}", header.0 + 1),
            "the file has a header but no data rows",
        ));
    }

    let what = path.display().to_string();
    let (x, obs_names, var_names) = if transpose {
        let x = CsrMatrix::from_triplets(column_names.len(), row_names.len(), &indices, &table_rows, &data);
        (x, column_names, row_names)
    } else {
        let x = CsrMatrix::new(row_names.len(), column_names.len(), indptr, indices, data, &what)?;
        (x, row_names, column_names)
    };
    CountMatrix::new(x, Frame::new(obs_names), Frame::new(var_names))
}

/// A value of the table: a finite number (NaN and infinities are refused).
fn parse_value(text: &str) -> Option<f32> {
    text.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// The separator: from the extension (`.csv` comma, `.tsv` tab, `.txt` tab unless the header has commas and no
/// tab); for other names, tab if the header has one, else comma.
fn choose_separator(path: &Path, header: &str) -> char {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".csv") {
        ','
    } else if name.ends_with(".tsv") || header.contains('\t') || !header.contains(',') {
        '\t'
    } else {
        ','
    }
}

fn separator_name(sep: char) -> &'static str {
    if sep == ',' {
        "comma"
    } else {
        "tab"
    }
}

/// A hint when a line that has the wrong number of fields contains the other separator.
fn separator_hint(path: &Path, sep: char, line: &str) -> String {
    let other = if sep == ',' { '\t' } else { ',' };
    if line.contains(other) && !line.contains(sep) {
        format!(
            " (the file is read as {}-separated because of its name {}, but this line contains {}s)",
            separator_name(sep),
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            separator_name(other)
        )
    } else {
        String::new()
    }
}

/// At most 60 characters of `text`, for messages.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(60) {
        Some((end, _)) => Cow::Owned(format!("{}...", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

fn quote_error(path: &Path, line: usize, column: usize) -> Error {
    Error::format(
        path,
        format!("line {line}, column {column}"),
        "a quoted field is not closed, or text follows its closing quote (use \"\" for a quote inside quotes)",
    )
}

/// Splits `line` at `sep`, trimming spaces and removing the double quotes around a field (`""` inside quotes
/// is one quote). Quoted fields may contain the separator. Errors give the 1-based column of a malformed
/// quoted field.
fn split_fields(line: &str, sep: char) -> std::result::Result<Vec<Cow<'_, str>>, usize> {
    if !line.contains('"') {
        return Ok(line.split(sep).map(|f| Cow::Borrowed(f.trim())).collect());
    }
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches(' ');
        let Some(body) = trimmed.strip_prefix('"') else {
            match trimmed.find(sep) {
                Some(end) => {
                    fields.push(Cow::Borrowed(trimmed[..end].trim()));
                    rest = &trimmed[end + sep.len_utf8()..];
                    continue;
                }
                None => {
                    fields.push(Cow::Borrowed(trimmed.trim()));
                    return Ok(fields);
                }
            }
        };
        let mut value = String::new();
        let mut close = None;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                value.push(c);
            } else if chars.peek().map(|&(_, next)| next) == Some('"') {
                value.push('"');
                chars.next();
            } else {
                close = Some(i + 1);
                break;
            }
        }
        let after = match close {
            Some(end) => body[end..].trim_start_matches(' '),
            None => return Err(fields.len() + 1),
        };
        fields.push(Cow::Owned(value));
        if after.is_empty() {
            return Ok(fields);
        }
        match after.strip_prefix(sep) {
            Some(next) => rest = next,
            None => return Err(fields.len()),
        }
    }
}

/// A text file read a line at a time, gunzipped on the fly when it starts with the gzip magic bytes.
///
/// Shared by the readers of delimited tables and of 10x Matrix Market folders. Read errors become messages
/// naming the file and the line: a gzip stream that ends early says the file is truncated.
pub(crate) struct Lines {
    reader: Box<dyn BufRead>,
    path: PathBuf,
    gzip: bool,
    buffer: Vec<u8>,
    number: usize,
}

impl Lines {
    /// Opens `path`, detecting gzip compression from its first two bytes.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut raw = BufReader::with_capacity(1 << 16, file);
        let gzip = raw.fill_buf().map_err(|e| Error::io(path, e))?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead> =
            if gzip { Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(raw))) } else { Box::new(raw) };
        Ok(Lines { reader, path: path.to_path_buf(), gzip, buffer: Vec::new(), number: 0 })
    }

    /// The next line as `(1-based line number, text without its line terminator)`, or `None` at the end.
    pub(crate) fn next_line(&mut self) -> Result<Option<(usize, &str)>> {
        self.buffer.clear();
        let read = self.reader.read_until(b'\n', &mut self.buffer).map_err(|e| self.read_error(e))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        let start = if self.number == 1 && self.buffer.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        match std::str::from_utf8(&self.buffer[start..]) {
            Ok(text) => Ok(Some((self.number, text))),
            Err(e) => Err(Error::format(
                &self.path,
                format!("line {}", self.number),
                format!("is not UTF-8 text (invalid byte at position {}); is this a binary file?", e.valid_up_to() + 1),
            )),
        }
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        let field = format!("line {}", self.number + 1);
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof if self.gzip => Error::format(
                &self.path,
                field,
                "the gzip stream ends early: the file is truncated (an interrupted download or copy?)",
            ),
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData if self.gzip => {
                Error::format(&self.path, field, format!("corrupt gzip data ({e})"))
            }
            _ => Error::io(&self.path, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if name.ends_with(".gz") {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(text.as_bytes()).unwrap();
            std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, text).unwrap();
        }
        path
    }

    fn error(path: &Path, transpose: bool) -> String {
        let message = read_delimited(path, transpose).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        message
    }

    #[test]
    fn csv_cells_in_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "\u{feff}\"\",\"G1\",G2,G3\r\nc1,0,3,1.5\r\n\r\n\"c2\", 2 ,0,-1\r\n");
        let m = read_delimited(&path, false).unwrap();
        assert_eq!(m.obs_names(), ["c1", "c2"]);
        assert_eq!(m.var_names(), ["G1", "G2", "G3"]);
        assert_eq!((m.x.get(0, 1), m.x.get(0, 2), m.x.get(1, 0), m.x.get(1, 2)), (3.0, 1.5, 2.0, -1.0));
        assert_eq!(m.x.nnz(), 4);
    }

    #[test]
    fn gzipped_tsv_transposed_matches_csv() {
        let dir = tempfile::tempdir().unwrap();
        let cells = write(dir.path(), "a.csv", "x,G1,G2,G3\nc1,0,3,1\nc2,2,0,0\n");
        let genes = write(dir.path(), "b.tsv.gz", "gene\tc1\tc2\nG1\t0\t2\nG2\t3\t0\nG3\t1\t0\n");
        assert_eq!(read_delimited(&cells, false).unwrap(), read_delimited(&genes, true).unwrap());
    }

    #[test]
    fn txt_separator_and_header_without_corner() {
        let dir = tempfile::tempdir().unwrap();
        // R's write.table: no corner label, comma-separated despite the .txt name.
        let path = write(dir.path(), "r.txt", "\"c1\",\"c2\"\n\"G1\",1,0\n\"G2\",0,4\n");
        let m = read_delimited(&path, true).unwrap();
        assert_eq!((m.obs_names(), m.var_names()), (&["c1".to_string(), "c2".into()][..], &["G1".to_string(), "G2".into()][..]));
        assert_eq!((m.x.get(0, 0), m.x.get(1, 1)), (1.0, 4.0));
    }

    #[test]
    fn quoted_fields_with_separators() {
        assert_eq!(split_fields(r#""a,b", "say ""hi""",c"#, ',').unwrap(), ["a,b", "say \"hi\"", "c"]);
        assert_eq!(split_fields(r#""a",b,"#, ',').unwrap(), ["a", "b", ""]);
        assert_eq!(split_fields(r#"a,"b"#, ',').unwrap_err(), 2);
        assert_eq!(split_fields(r#""a"x,b"#, ',').unwrap_err(), 1);
    }

    #[test]
    fn wrong_field_count_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "x,G1,G2\nc1,1,2\nc2,1,2\nc3,1\n");
        let message = error(&path, false);
        assert!(message.contains("line 4 has 2 fields, expected 3 as in the header"), "{message}");
        let path = write(dir.path(), "t2.csv", "x\tG1\tG2\nc1\t1\t2\n");
        assert!(error(&path, false).contains("contains tabs"));
    }

    #[test]
    fn non_numeric_value_is_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.tsv", "x\tG1\tG2\nc1\t1\tabc\n");
        let message = error(&path, false);
        assert!(message.contains("line 2, column 3") && message.contains("\"abc\"") && message.contains("G2"), "{message}");
        let path = write(dir.path(), "n.tsv", "x\tG1\nc1\tNaN\n");
        assert!(error(&path, false).contains("\"NaN\""));
    }

    #[test]
    fn empty_and_header_only_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(error(&write(dir.path(), "e.csv", ""), false).contains("empty"));
        assert!(error(&write(dir.path(), "e.csv.gz", "\n"), false).contains("empty"));
        assert!(error(&write(dir.path(), "h.csv", "x,G1,G2\n"), false).contains("no data rows"));
        assert!(error(&write(dir.path(), "c.csv", "x\nc1\n"), false).contains("no column names"));
        assert!(error(&write(dir.path(), "q.csv", "x,G1\n\"c1,1\n"), false).contains("line 2, column 1"));
    }

    #[test]
    fn truncated_gzip_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..2000).map(|i| format!("c{i},{},{}\n", i % 7, i % 3)).collect();
        let path = write(dir.path(), "t.csv.gz", &format!("x,G1,G2\n{text}"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let message = error(&path, false);
        assert!(message.contains("truncated"), "{message}");
        std::fs::write(&path, [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0x13, 0x37, 0x00]).unwrap();
        assert!(error(&path, false).contains("gzip"));
    }
}
