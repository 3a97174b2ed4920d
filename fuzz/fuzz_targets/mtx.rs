//! 10x Matrix Market folder reader: `matrix.mtx`, `barcodes.tsv`, `features.tsv` (plain or gzip).
//!
//! The input is split at the byte 0x1E (ASCII record separator) into up to three parts: the matrix, then the
//! barcodes and the features; parts not given keep fixed valid files (3 barcodes, 4 features, one of them
//! antibody capture), so that a fuzzed matrix alone can match them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scgan::io::{read, ReadOptions};

const BARCODES: &[u8] = b"AAAC-1\nAAAG-1\nAAAT-1\n";
const FEATURES: &[u8] = b"E1\tG1\tGene Expression\nE2\tG2\tGene Expression\nA1\tCD3\tAntibody Capture\nE3\tG1\tGene Expression\n";

fuzz_target!(init: scgan_fuzz::init(), |data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0x1e);
    let matrix = parts.next().unwrap_or_default();
    let barcodes = parts.next().unwrap_or(BARCODES);
    let features = parts.next().unwrap_or(FEATURES);
    scgan_fuzz::put("mtx/barcodes.tsv", barcodes);
    scgan_fuzz::put("mtx/features.tsv", features);
    let path = scgan_fuzz::put("mtx/matrix.mtx", matrix);
    let _ = read(path.parent().unwrap(), &ReadOptions::default());
});
