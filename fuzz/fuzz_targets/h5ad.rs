//! AnnData `.h5ad` reader: `X` (CSR, CSC or dense), `obs`, `var`, `uns`, and a layer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scgan::io::{read, ReadOptions};

fuzz_target!(init: scgan_fuzz::init(), |data: &[u8]| {
    let path = scgan_fuzz::put("input.h5ad", data);
    let _ = read(&path, &ReadOptions::default());
    let _ = read(&path, &ReadOptions { layer: Some("counts".into()), transpose: false });
});
