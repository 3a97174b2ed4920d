//! Training and generation end to end through the command line: run folder contents, exact resume, seeds,
//! divergence, generation of counts, and generated files that anndata reads.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::training::{logged, ok, tensors, train};
use common::{assert_clean_failure, demo_data, python, python_has, scgan};
use scgan::io::tensors::load_tensors;
use scgan::{io, Column};

#[test]
fn train_then_generate_counts_of_chosen_types() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(train(&run, &["--steps", "20"]));
    for file in [
        "config.json",
        "data.json",
        "model.safetensors",
        "model_state.safetensors",
        "log.jsonl",
        "state/checkpoint.safetensors",
    ] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    // model.safetensors holds the trainable parameters and nothing else: SPEC's count for cscGAN, and the default
    // preset's depth weights (`critic.depth.weight`, one per unit of the critic's first layer).
    let (genes, classes) = (300usize, 10usize);
    let parameters = tensors(run.join("model.safetensors"));
    let count: usize = parameters.iter().map(|t| t.data.len()).sum();
    assert_eq!(count, 1_345_280 + 3_841 * classes + 2_049 * genes + 1_024);
    let names: HashSet<&str> = parameters.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains("generator.dense1.weight") && names.contains("critic.out.weight"), "{names:?}");
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    assert!(log.lines().count() >= 2 && log.contains("validation_mmd"), "{log}");
    // The saved model is the latest whose validation kNN AUROC (which the log holds beside the MMD) is within one
    // standard error of the lowest so far.
    let validations = logged(&log, "validation_knn_auroc");
    assert_eq!(validations.len(), 2, "{log}");
    assert!(validations.iter().all(|(_, a)| (0.0..=1.0).contains(a)), "{log}");
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("data.json")).unwrap()).unwrap();
    let n_validation = data["n_validation"].as_u64().unwrap() as usize;
    let n_validation = n_validation.min(scgan::train::validation::MAX_VALIDATION_CELLS);
    // The same bookkeeping training does, replayed on the log (its unit test checks the rule itself).
    let (mut lowest, mut kept) = (None, None);
    for &(step, auroc) in &validations {
        scgan::train::validation::record(&mut lowest, &mut kept, auroc, step, n_validation);
    }
    let (kept_auroc, kept_step) = kept.unwrap();
    let (_, metadata) = load_tensors(&run.join("model.safetensors")).unwrap();
    assert_eq!(metadata["step"], kept_step.to_string());
    // (serde_json's default float parsing may be one unit in the last place off)
    assert!((metadata["validation_knn_auroc"].parse::<f64>().unwrap() - kept_auroc).abs() < 1e-12);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["preset"], "default");
    assert_eq!(config["model"]["critic_input"], "log1p", "the default preset's critic input");
    assert_eq!(config["train"]["critic_steps"], 5);
    assert_eq!(config["train"]["batch_size"], 128);

    let out = dir.path().join("nk_b.h5ad");
    let stdout = ok(scgan(&[
        "generate",
        run.to_str().unwrap(),
        "--cell-type",
        "CD56+ NK=60",
        "--cell-type",
        "CD19+ B=40",
        "--counts",
        "multinomial",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ]));
    assert!(stdout.contains("generated 100 cells"), "{stdout}");
    let generated = io::read(&out, &Default::default()).unwrap();
    assert_eq!(generated.n_genes(), genes);
    assert!(generated.x.data().iter().all(|v| v.fract() == 0.0 && *v > 0.0), "X must be integer counts");
    let labels: Vec<String> = generated.labels("cell_type").unwrap().into_iter().map(Option::unwrap).collect();
    assert_eq!(labels.iter().filter(|l| *l == "CD56+ NK").count(), 60);
    assert_eq!(labels.iter().filter(|l| *l == "CD19+ B").count(), 40);
    // Library sizes are drawn from the real ones of the same type, and multinomial counts add up to them exactly.
    let description: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("data.json")).unwrap()).unwrap();
    let classes: Vec<String> = serde_json::from_value(description["classes"].clone()).unwrap();
    let pools: Vec<Vec<f64>> = serde_json::from_value(description["library_sizes"].clone()).unwrap();
    let Some(Column::Float(library_sizes)) = generated.obs.get("library_size") else { panic!("no library_size") };
    for ((label, size), total) in labels.iter().zip(library_sizes).zip(generated.x.row_sums()) {
        let k = classes.iter().position(|c| c == label).unwrap();
        assert!(pools[k].contains(size), "library size {size} is not one of {label}'s");
        assert_eq!(total, *size);
    }
    let normalized =
        io::read(&out, &io::ReadOptions { layer: Some("normalized".into()), ..Default::default() }).unwrap().x;
    assert!(normalized.row_sums().iter().all(|s| (s - 20_000.0).abs() < 1.0));

    let out = dir.path().join("proportions.h5ad");
    ok(scgan(&["generate", run.to_str().unwrap(), "--n", "200", "--normalized-only", "--out", out.to_str().unwrap()]));
    let generated = io::read(&out, &Default::default()).unwrap();
    assert_eq!(generated.n_cells(), 200);
    assert!(generated.x.row_sums().iter().all(|s| (s - 20_000.0).abs() < 1.0));

    let output = scgan(&[
        "generate",
        run.to_str().unwrap(),
        "--cell-type",
        "NK cells=5",
        "--out",
        dir.path().join("x.h5ad").to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["unknown type 'NK cells'", "CD56+ NK", "CD19+ B"]);
    assert!(!dir.path().join("x.h5ad").exists());
}

/// Training compares rescaled counts at every count noise on the validation cells, logs the chosen one, saves
/// the kept model's with it, and `scgan generate` uses it unless told otherwise; a noise that is not a fraction, or
/// one with counts other than rescaled, is refused before anything is written.
#[test]
fn count_noise_is_chosen_on_validation_cells_and_generation_uses_it() {
    use scgan::train::validation::COUNT_NOISE_CHOICES;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(train(&run, &["--steps", "20"]));
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    let chosen: HashMap<u64, f64> = logged(&log, "validation_count_noise").into_iter().collect();
    assert_eq!(chosen.len(), 2, "{log}");
    assert!(chosen.values().all(|noise| COUNT_NOISE_CHOICES.contains(noise)), "{log}");
    // every check logs the figures it chose from, one per noise, and the chosen noise's are the ones logged
    for line in log.lines().filter(|line| line.contains("validation_count_noise")) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let by_noise = |field: &str| -> Vec<f64> {
            entry[field].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let (knn, mmd) = (by_noise("validation_knn_auroc_by_noise"), by_noise("validation_mmd_by_noise"));
        let spread = by_noise("validation_spread_by_noise");
        assert_eq!((knn.len(), mmd.len()), (COUNT_NOISE_CHOICES.len(), COUNT_NOISE_CHOICES.len()), "{line}");
        assert_eq!(spread.len(), COUNT_NOISE_CHOICES.len(), "{line}");
        assert!(spread.iter().all(|&ratio| ratio > 0.0 && ratio.is_finite()), "{line}");
        let k = COUNT_NOISE_CHOICES.iter().position(|&n| n == entry["validation_count_noise"].as_f64().unwrap());
        let k = k.unwrap();
        assert_eq!(knn[k], entry["validation_knn_auroc"].as_f64().unwrap(), "{line}");
        assert_eq!(mmd[k], entry["validation_mmd"].as_f64().unwrap(), "{line}");
    }
    let (_, metadata) = load_tensors(&run.join("model.safetensors")).unwrap();
    let step: u64 = metadata["step"].parse().unwrap();
    let saved: f64 = metadata["count_noise"].parse().unwrap();
    assert_eq!(saved, chosen[&step], "the kept model's noise is its own validation's");

    let generate = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["generate", run.to_str().unwrap(), "--n", "50", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        (scgan(&args), out)
    };
    let noise_of = |out: &Path| {
        let generated = io::read(out, &Default::default()).unwrap();
        assert!(generated.x.data().iter().all(|v| v.fract() == 0.0 && *v > 0.0), "X must be integer counts");
        generated.uns["scgan"]["generated"]["count_noise"].as_f64().unwrap()
    };
    let (output, out) = generate("default.h5ad", &[]);
    ok(output);
    assert_eq!(noise_of(&out), saved, "the default preset's counts are rescaled at the run's noise");
    let (output, out) = generate("poisson.h5ad", &["--count-noise", "1"]);
    ok(output);
    assert_eq!(noise_of(&out), 1.0);
    let (output, out) = generate("multinomial.h5ad", &["--counts", "multinomial"]);
    ok(output);
    assert_eq!(noise_of(&out), 0.0, "multinomial counts have no count noise");
    // The run's saved noise is what generation uses: set it to 0.5 and the default counts are --count-noise 0.5's,
    // not 0's (a short run may well choose 0, which alone would not show that the metadata is read).
    let model_file = run.join("model.safetensors");
    let (parameters, original) = load_tensors(&model_file).unwrap();
    let with_noise = |value: Option<&str>| {
        let mut metadata = original.clone();
        match value {
            Some(value) => metadata.insert("count_noise".to_string(), value.to_string()),
            None => metadata.remove("count_noise"),
        };
        scgan::io::tensors::save_tensors(&model_file, &parameters, &metadata).unwrap();
    };
    with_noise(Some("0.5"));
    let counts = |out: &Path| io::read(out, &Default::default()).unwrap().x;
    let (output, saved_half) = generate("saved_half.h5ad", &[]);
    ok(output);
    let (output, asked_half) = generate("asked_half.h5ad", &["--count-noise", "0.5"]);
    ok(output);
    let (output, asked_none) = generate("asked_none.h5ad", &["--count-noise", "0"]);
    ok(output);
    assert_eq!(noise_of(&saved_half), 0.5);
    assert_eq!(counts(&saved_half), counts(&asked_half));
    assert_ne!(counts(&saved_half), counts(&asked_none), "50% Poisson noise changed no count");
    with_noise(None);
    let (output, older) = generate("older.h5ad", &[]);
    ok(output);
    assert_eq!(noise_of(&older), 0.0, "a model saved before the count noise generates without it");
    with_noise(Some("abc"));
    let (output, out) = generate("damaged.h5ad", &[]);
    assert_clean_failure(&output, &["model.safetensors", "__metadata__.count_noise", "'abc'", "not a fraction"]);
    assert!(!out.exists());
    with_noise(Some(&original["count_noise"]));

    for (name, extra, needles) in [
        ("over.h5ad", &["--count-noise", "1.5"][..], &["--count-noise", "1.5 is not a fraction in [0, 1]"][..]),
        ("nan.h5ad", &["--count-noise", "NaN"], &["--count-noise", "not a fraction"]),
        ("other.h5ad", &["--counts", "detected", "--count-noise", "0.5"], &["--count-noise", "these are detected"]),
    ] {
        let (output, out) = generate(name, extra);
        assert_clean_failure(&output, needles);
        assert!(!out.exists(), "{name} written");
    }
}

/// The budget grows on resume here (10 steps, then 20), which would restart a cooldown (its schedule follows the
/// budget), so these runs use none; tests/kill_resume.rs resumes within one budget with the default's cooldown.
#[test]
fn same_seed_gives_identical_weights_and_resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, again, resumed) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    ok(train(&straight, &["--steps", "20", "--seed", "4", "--cooldown", "0"]));
    ok(train(&again, &["--steps", "20", "--seed", "4", "--cooldown", "0"]));
    ok(train(&resumed, &["--steps", "10", "--seed", "4", "--cooldown", "0"]));
    ok(scgan(&["train", "--resume", resumed.to_str().unwrap(), "--steps", "20", "--threads", "1"]));
    let reference = tensors(straight.join("state/checkpoint.safetensors"));
    assert_eq!(reference, tensors(again.join("state/checkpoint.safetensors")), "same seed, different state");
    assert_eq!(reference, tensors(resumed.join("state/checkpoint.safetensors")), "resumed run differs");
    assert_eq!(tensors(straight.join("model.safetensors")), tensors(resumed.join("model.safetensors")));
    // and the kept model's step, validation figure and count noise, which resume carries in the loop state
    let metadata = |run: &Path| load_tensors(&run.join("model.safetensors")).unwrap().1;
    let kept = metadata(&straight);
    for key in ["step", "validation_knn_auroc", "count_noise"] {
        assert!(kept.contains_key(key), "model.safetensors has no {key}: {kept:?}");
    }
    assert_eq!(kept, metadata(&resumed), "the resumed run kept another model, or saved it otherwise");
    let steps = |run: &Path| -> Vec<u64> {
        std::fs::read_to_string(run.join("log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(steps(&straight), steps(&resumed), "the resumed log repeats or skips steps");

    ok(train(&dir.path().join("d"), &["--steps", "10", "--seed", "5"]));
    assert_ne!(
        tensors(resumed.join("model.safetensors")),
        tensors(dir.path().join("d/model.safetensors")),
        "another seed gave the same weights"
    );
}

/// The options beyond the paper (log1p critic input, generator average, layer widths) keep resume exact, are
/// recorded in config.json, checkpoint the average, and generate from it. (No cooldown: the budget grows on resume.)
#[test]
fn generator_average_is_checkpointed_resumed_and_generated_from() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, resumed) = (dir.path().join("a"), dir.path().join("b"));
    let extra = [
        "--critic-input",
        "log1p",
        "--generator-average",
        "0.99",
        "--seed",
        "2",
        "--generator-layers",
        "16,24",
        "--critic-layers",
        "40,8",
        "--cooldown",
        "0",
    ];
    ok(train(&straight, &[&["--steps", "20"][..], &extra].concat()));
    ok(train(&resumed, &[&["--steps", "10"][..], &extra].concat()));
    ok(scgan(&["train", "--resume", resumed.to_str().unwrap(), "--steps", "20", "--threads", "1"]));
    let checkpoint = tensors(straight.join("state/checkpoint.safetensors"));
    assert_eq!(checkpoint, tensors(resumed.join("state/checkpoint.safetensors")), "resumed run differs");
    assert_eq!(tensors(straight.join("model.safetensors")), tensors(resumed.join("model.safetensors")));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["critic_input"], "log1p");
    assert!((config["model"]["generator_average"].as_f64().unwrap() - 0.99).abs() < 1e-6);
    assert_eq!(config["model"]["generator_layers"], serde_json::json!([16, 24]));
    assert_eq!(config["model"]["critic_layers"], serde_json::json!([40, 8]));

    // the saved generator is the average (of the step it was saved at), not the live weights
    let by_name = |ts: &[scgan::model::NamedTensor], name: &str| ts.iter().find(|t| t.name == name).cloned();
    let saved = tensors(straight.join("model.safetensors"));
    let live = by_name(&checkpoint, "generator.out.weight").unwrap();
    assert!(by_name(&checkpoint, "average.generator.out.weight").is_some(), "the checkpoint lacks the average");
    let model = by_name(&saved, "generator.out.weight").unwrap();
    assert_ne!(model.data, live.data, "model.safetensors holds the live generator");
    assert!(by_name(&saved, "average.generator.out.weight").is_none(), "model.safetensors holds extra tensors");
    assert_eq!(by_name(&saved, "critic.dense2.weight").unwrap().shape, vec![40, 8]);
    assert_eq!(by_name(&saved, "generator.dense2.weight").unwrap().shape, vec![16, 24]);
    let out = dir.path().join("generated.h5ad");
    ok(scgan(&[
        "generate",
        straight.to_str().unwrap(),
        "--n",
        "50",
        "--counts",
        "rescale",
        "--out",
        out.to_str().unwrap(),
    ]));
    let cells = io::read(&out, &Default::default()).unwrap();
    assert_eq!(cells.n_cells(), 50);
    assert!(cells.x.data().iter().all(|v| v.fract() == 0.0 && *v > 0.0));
}

#[test]
fn divergence_stops_with_the_last_good_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = train(&run, &["--steps", "30", "--inject-nan-at", "15"]);
    assert_clean_failure(&output, &["diverged", "step 15", "checkpoint", "(step 10)", "--resume"]);
    let (_, metadata) = load_tensors(&run.join("state/checkpoint.safetensors")).unwrap();
    assert_eq!(metadata["step"], "10");
    // The kept model still generates.
    ok(scgan(&["generate", run.to_str().unwrap(), "--n", "20", "--out", dir.path().join("g.h5ad").to_str().unwrap()]));
    // And the run resumes from step 10.
    ok(scgan(&["train", "--resume", run.to_str().unwrap(), "--steps", "12", "--threads", "1"]));
    let (_, metadata) = load_tensors(&run.join("state/checkpoint.safetensors")).unwrap();
    assert_eq!(metadata["step"], "12");
}

#[test]
fn an_exploding_learning_rate_stops_with_the_checkpoint_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // From the first step: nothing is kept, and the message says so.
    let output = train(&run, &["--steps", "30", "--learning-rate", "1e30", "--learning-rate-final", "1e30"]);
    assert_clean_failure(&output, &["diverged", "step 1", "No checkpoint had been written yet", "--learning-rate"]);
    assert!(!run.exists(), "a run that diverged before its first checkpoint left its folder");
    // After a checkpoint: resumed with a learning rate that explodes, the run stops and the checkpoint is the
    // same file, byte for byte.
    ok(train(&run, &["--steps", "10"]));
    let checkpoint = std::fs::read(run.join("state/checkpoint.safetensors")).unwrap();
    let model = std::fs::read(run.join("model.safetensors")).unwrap();
    let output = scgan(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--steps",
        "30",
        "--threads",
        "1",
        "--learning-rate",
        "1e30",
        "--learning-rate-final",
        "1e30",
    ]);
    assert_clean_failure(&output, &["diverged", "step 11", "checkpoint (step 10)", "--resume"]);
    assert!(std::fs::read(run.join("state/checkpoint.safetensors")).unwrap() == checkpoint, "checkpoint changed");
    assert!(std::fs::read(run.join("model.safetensors")).unwrap() == model, "model changed");
}

#[test]
fn unconditional_scgan_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(train(&run, &["--steps", "3", "--model", "scgan"]));
    let count: usize = tensors(run.join("model.safetensors")).iter().map(|t| t.data.len()).sum();
    assert_eq!(count, 1_349_121 + 2_049 * 300 + 1_024, "SPEC's scGAN and the default preset's depth weights");
    let out = dir.path().join("g.h5ad");
    ok(scgan(&["generate", run.to_str().unwrap(), "--n", "10", "--out", out.to_str().unwrap()]));
    assert!(io::read(&out, &Default::default()).unwrap().obs.get("cell_type").is_none());
    let output =
        scgan(&["generate", run.to_str().unwrap(), "--cell-type", "CD19+ B=5", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&output, &["unconditional"]);
    // An existing run is never overwritten.
    assert_clean_failure(&train(&run, &["--steps", "3"]), &["already holds a run", "--resume"]);
    let output = scgan(&["generate", dir.path().to_str().unwrap(), "--n", "3", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&output, &["config.json", "not a run folder"]);
}

#[test]
fn a_preprocessed_file_is_used_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = dir.path().join("prepared.h5ad");
    ok(scgan(&[
        "preprocess",
        demo_data().to_str().unwrap(),
        "--label-key",
        "cell_type",
        "--hvg",
        "200",
        "--split",
        "0.2",
        "--target-sum",
        "5000",
        "--out",
        prepared.to_str().unwrap(),
    ]));
    let run = dir.path().join("run");
    let stderr = {
        let output = scgan(&[
            "train",
            prepared.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
            "--steps",
            "2",
            "--threads",
            "1",
        ]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["input_was_preprocessed"], true);
    // the model's library size is the preprocessing's target: the file's own, or the flag's for raw counts
    assert_eq!(config["model"]["library_size"], 5000.0);
    assert_eq!(config["preprocess"]["target_sum"], 5000.0, "config.json records the file's target");
    let raw = dir.path().join("raw");
    ok(train(&raw, &["--steps", "2", "--target-sum", "1000"]));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(raw.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["library_size"], 1000.0);
    let description: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("data.json")).unwrap()).unwrap();
    assert_eq!(description["genes"].as_array().unwrap().len(), 200, "genes were filtered twice: {stderr}");
    let prepared = io::read(&prepared, &Default::default()).unwrap();
    let validation = prepared.labels("split").unwrap().iter().filter(|s| s.as_deref() == Some("validation")).count();
    assert_eq!(description["n_validation"].as_u64().unwrap() as usize, validation);
}

#[test]
fn python_reads_generated_cells() {
    if !python_has(&["anndata", "scipy"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(train(&run, &["--steps", "2"]));
    let out = dir.path().join("generated.h5ad");
    ok(scgan(&["generate", run.to_str().unwrap(), "--n", "300", "--seed", "7", "--out", out.to_str().unwrap()]));
    let genes: HashMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(run.join("data.json")).unwrap()).unwrap();
    let first_gene = genes["genes"][0].as_str().unwrap().to_string();
    let script = r#"
import sys, warnings
warnings.simplefilter("error")
import anndata, numpy as np
a = anndata.read_h5ad(sys.argv[1])
assert a.shape == (300, 300), a.shape
assert np.all(a.X.data == np.round(a.X.data)), "X is not integer"
assert "normalized" in a.layers
np.testing.assert_allclose(np.asarray(a.layers["normalized"].sum(axis=1)).ravel(), 20000, rtol=1e-4)
assert a.obs["cell_type"].dtype == "category"
assert a.var_names[0] == sys.argv[2]
assert a.uns["scgan"]["generated"]["model"] == "cscgan" and a.uns["scgan"]["generated"]["seed"] == 7
print("ok")
"#;
    assert_eq!(python(script, &[out.to_str().unwrap(), &first_gene]).trim(), "ok");
}
