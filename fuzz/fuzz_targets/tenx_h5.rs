//! 10x Genomics HDF5 reader (CellRanger v3 `matrix/` and v2 genome groups).
#![no_main]
use libfuzzer_sys::fuzz_target;
use scgan::io::{read, ReadOptions};

fuzz_target!(init: scgan_fuzz::init(), |data: &[u8]| {
    let path = scgan_fuzz::put("filtered_feature_bc_matrix.h5", data);
    let _ = read(&path, &ReadOptions::default());
});
