//! Checkpoint loader: the safetensors reader, the loop state in its metadata, and loading the tensors into a
//! model (names and shapes checked against the model's).
#![no_main]
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use scgan::engine::CpuGan;
use scgan::model::{ModelConfig, ModelKind, OptimizerConfig};
use scgan::train::run::{load_checkpoint, RunFolder};

static MODEL: Mutex<Option<CpuGan>> = Mutex::new(None);

fuzz_target!(init: scgan_fuzz::init(), |data: &[u8]| {
    let run = RunFolder::new(scgan_fuzz::scratch().join("run"));
    scgan_fuzz::put("run/state/checkpoint.safetensors", data);
    let mut guard = MODEL.lock().unwrap();
    let model = guard.get_or_insert_with(|| {
        let config = ModelConfig::paper(4, ModelKind::Cscgan { n_classes: 2, critic: scgan::model::ConditionalCritic::PerClassOutput });
        CpuGan::new(config, OptimizerConfig::default(), 0, 1).expect("a small model")
    });
    let _ = load_checkpoint(&run, model);
});
