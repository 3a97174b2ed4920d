//! Memory bounds: refusing, before reading it, a matrix that would not fit in memory.
//!
//! Each reader knows the matrix's shape and number of stored entries from the file's header (h5ad: the `shape`
//! attribute and the lengths of `data` and `indptr`; 10x HDF5: `shape` and the length of `data`; Matrix Market:
//! the size line) before it reads a value. From those it estimates what reading needs (the CSR arrays, 8 bytes
//! an entry, plus row offsets and names) and compares it with the memory available: `MemAvailable` of
//! `/proc/meminfo`, or the `SCGAN_MEMORY_LIMIT` environment variable when set (bytes, or with a suffix
//! `K`, `M`, `G`, `T`, optionally followed by `iB` or `B`: `512MiB`, `20G`). A file claiming more is refused
//! with both numbers instead of being killed by the kernel halfway, and a damaged header claiming 10^12 entries
//! is never attempted. The estimate covers reading only; preprocessing and training need more on top (the
//! message says so), and a file that passes can still be too large for later steps.

use std::path::Path;

use crate::error::{Error, Result};

/// The environment variable that overrides the available memory.
pub const MEMORY_LIMIT_VAR: &str = "SCGAN_MEMORY_LIMIT";

/// Bytes of memory scgan may use: `SCGAN_MEMORY_LIMIT` when set and valid, else `MemAvailable`, else `None`
/// (not Linux: no check).
pub fn available_bytes() -> Option<u64> {
    if let Some(limit) = std::env::var(MEMORY_LIMIT_VAR).ok().and_then(|v| parse_size(&v)) {
        return Some(limit);
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Parses `123`, `512MiB`, `20G`, `1.5T` into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let number = lower.trim_end_matches("ib").trim_end_matches('b');
    let (digits, scale) = match number.chars().last()? {
        'k' => (&number[..number.len() - 1], 1u64 << 10),
        'm' => (&number[..number.len() - 1], 1 << 20),
        'g' => (&number[..number.len() - 1], 1 << 30),
        't' => (&number[..number.len() - 1], 1 << 40),
        _ => (number, 1),
    };
    let value: f64 = digits.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale as f64).min(u64::MAX as f64) as u64)
}

/// Bytes needed to hold a `n_rows x n_cols` CSR matrix of `nnz` entries with its row and column names.
pub fn csr_bytes(n_rows: u64, n_cols: u64, nnz: u64) -> u64 {
    // indices (u32) + data (f32) per entry; indptr (u64) per row; about 48 bytes per name (String + text).
    nnz.saturating_mul(8)
        .saturating_add(n_rows.saturating_add(1).saturating_mul(8))
        .saturating_add(n_rows.saturating_add(n_cols).saturating_mul(48))
}

/// Refuses to go on when `needed` bytes exceed the memory available, naming `path` and `field` (where the
/// shape was read) and `what` (the shape, in words).
pub fn ensure_fits(path: &Path, field: &str, what: &str, needed: u64) -> Result<()> {
    let Some(limit) = shortfall(needed) else { return Ok(()) };
    Err(Error::invalid_data(
        path,
        field,
        format!(
            "{what}: reading it needs about {} of memory, {limit}; refused before reading (use a machine with \
             more memory, or subset the data first; {MEMORY_LIMIT_VAR}=<size> overrides the limit)",
            human(needed),
        ),
    ))
}

/// Refuses a setting, `flag`, that asks for more memory than is available: `needed` bytes for `what` (in
/// words), before anything is allocated, so that the user gets a message instead of an out-of-memory abort.
/// `advice` says what to give instead.
pub fn ensure_setting_fits(flag: &str, what: &str, needed: u64, advice: &str) -> Result<()> {
    let Some(limit) = shortfall(needed) else { return Ok(()) };
    Err(Error::parameter(
        flag,
        format!(
            "{what}: needs about {} of memory, {limit}; refused before starting ({advice}; \
             {MEMORY_LIMIT_VAR}=<size> overrides the limit)",
            human(needed),
        ),
    ))
}

/// When `needed` bytes exceed the memory available, the limit in words; `None` when they fit (or the memory
/// available is unknown).
fn shortfall(needed: u64) -> Option<String> {
    let available = available_bytes()?;
    if needed <= available {
        return None;
    }
    Some(if std::env::var(MEMORY_LIMIT_VAR).ok().and_then(|v| parse_size(&v)).is_some() {
        format!("{MEMORY_LIMIT_VAR} allows {}", human(available))
    } else {
        format!("the machine has {} available", human(available))
    })
}

/// `1.5 GiB`, `300 MiB`, `12 KiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 40) as f64 {
        format!("{:.1} TiB", b / (1u64 << 40) as f64)
    } else if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.0} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("20G"), Some(20 << 30));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("2TB"), Some(2 << 40));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn estimates_saturate() {
        assert_eq!(csr_bytes(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
