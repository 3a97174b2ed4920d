//! The HTML report: a self-contained page with embedded PNG figures, metrics.json equal to its input.
//!
//! The `render_pbmc_report` test is ignored: it renders a full-size report of the embedded PBMC data into
//! `$SCGAN_REPORT_DIR` (default `/tmp/scgan_report_demo`) for a person to look at; `bench/screenshot_report.sh`
//! runs it and takes a screenshot with headless Chromium.

use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use scgan::report::{write_report, ReportInput};
use scgan::{Column, CountMatrix, CsrMatrix, Frame};
use serde_json::{json, Value};

const TYPES: [&str; 3] = ["B cell", "NK cell", "CD4+/CD45RA+/CD25- Naive T"];

/// `n_cells` cells of three types over `n_genes` genes: a block of 5 marker genes per type, Poisson counts.
/// `shift` changes the expression of generated-like data a little.
fn synthetic(n_cells: usize, n_genes: usize, seed: u64, shift: f64, gene_prefix: &str) -> CountMatrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut labels = Vec::new();
    for i in 0..n_cells {
        let t = i % TYPES.len();
        labels.push(TYPES[t]);
        let depth = 0.6 + rng.random::<f64>();
        for j in 0..n_genes {
            let marker = j / 5 == t;
            let rate = depth * (if marker { 6.0 + shift } else { 0.4 + 0.3 * ((j % 7) as f64 / 7.0) });
            let count = Poisson::new(rate).map(|p| p.sample(&mut rng)).unwrap_or(0.0);
            if count > 0.0 {
                rows.push(i as u32);
                cols.push(j as u32);
                values.push(count as f32);
            }
        }
    }
    let x = CsrMatrix::from_triplets(n_cells, n_genes, &rows, &cols, &values);
    let mut obs = Frame::new((0..n_cells).map(|i| format!("c{seed}_{i}")).collect());
    obs.insert("cell_type", Column::categorical_from(&labels));
    let var = Frame::new((0..n_genes).map(|j| format!("{gene_prefix}{j}")).collect());
    CountMatrix::new(x, obs, var).expect("consistent shapes")
}

/// Metrics shaped like `scgan::evaluate::Evaluation`'s JSON, plus keys the report does not know.
fn metrics() -> Value {
    let side = |auroc: f64, mmd: f64| {
        json!({
            "n_cells": 150,
            "rf_auroc": {"mean": auroc, "sd": 0.02}, "rf_auroc_folds": [auroc, auroc, auroc, auroc, auroc],
            "knn_auroc": {"mean": auroc - 0.03, "sd": 0.03}, "knn_auroc_folds": [0.5, 0.6, 0.7, 0.6, 0.5],
            "mmd": mmd, "mmd_biased": mmd + 0.01, "scc_gene_mean": 0.97, "pcc_gene_mean": 0.98,
            "scc_gene_variance": 0.9, "pcc_gene_variance": 0.93, "gene_correlation_agreement": 0.8,
            "ks_library_size": 0.08, "ks_zeros_per_cell": 0.1, "ks_genes_per_cell": 0.09, "ks_zeros_per_gene": 0.05,
            "brand_new_metric": 1.5
        })
    };
    json!({
        "generated": side(0.71, 0.02),
        "control": side(0.52, 0.001),
        "mmd_biased_ratio": 2.73,
        "mmd_unbiased_excess": 0.019,
        "per_type": {
            "B cell": {"n_real": 50, "n_generated": 50, "n_reference": 40, "n_compared": 50,
                       "rf_auroc": {"mean": 0.6, "sd": 0.05}, "mmd": 0.01, "mmd_biased": 0.02,
                       "control_rf_auroc": {"mean": 0.5, "sd": 0.04}, "control_mmd": 0.002,
                       "control_mmd_biased": 0.012},
            "NK cell": {"n_real": 40, "n_generated": 38, "n_reference": 40, "n_compared": 38, "rf_auroc": null,
                        "mmd": null, "mmd_biased": null, "control_rf_auroc": null, "control_mmd": null,
                        "control_mmd_biased": null, "type_specific_novelty": 3}
        },
        "label_proportion_tvd": 0.03,
        "control_label_proportion_tvd": 0.01,
        "n_cells": 150,
        "n_control_cells": 120,
        "genes_used": 40,
        "pca_fitted_on": "real cells not compared",
        "pca_fit_cells": 400,
        "pca_components": 50,
        "pca_explained_variance": 0.31,
        "median_distance": 12.5,
        "files": {"real": "test.h5ad", "generated": "generated.h5ad", "reference": "train.h5ad"},
        "warnings": ["only 150 cells per side: figures are noisy"],
        "seconds": 12.0,
        "params": {"seed": 0, "n_trees": 1000, "n_components": 50, "nested": {"k": 15}},
        "unexpected_top_level": [1, 2, 3]
    })
}

/// A fake training log of `steps` lines, validation every 10th.
fn write_log(folder: &Path, steps: u64) {
    let mut text = String::new();
    for step in 1..=steps {
        let s = step as f64;
        let mut entry = json!({
            "step": step, "seconds": s * 0.1, "critic_loss": -50.0 / (1.0 + s / 100.0) + (s % 7.0),
            "wasserstein": 60.0 / (1.0 + s / 100.0), "gradient_penalty": 0.5, "generator_loss": 10.0 + (s % 5.0),
            "learning_rate": 1e-4
        });
        if step % 10 == 0 {
            entry["validation_mmd"] = json!(0.5 / (1.0 + s / 50.0));
            entry["validation_knn_auroc"] = json!(0.5 + 0.5 / (1.0 + s / 50.0));
        }
        text += &format!("{entry}\n");
    }
    text += "this line is not json\n";
    std::fs::write(folder.join("log.jsonl"), text).unwrap();
}

/// Every key of a JSON value, at every depth.
fn all_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                all_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_keys(v, out)),
        _ => {}
    }
}

fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'])
}

#[test]
fn writes_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let real = synthetic(150, 40, 1, 0.0, "g");
    let generated = synthetic(150, 40, 2, 2.0, "g");
    let reference = synthetic(120, 40, 3, 0.0, "g");
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    write_log(&run, 300);
    let metrics = metrics();
    let input = ReportInput {
        real: &real,
        generated: &generated,
        reference: Some(&reference),
        label_key: Some("cell_type"),
        metrics: &metrics,
        run_folder: Some(&run),
        title: "Synthetic <test> report",
        seed: 7,
    };
    let folder = dir.path().join("report");
    let index = write_report(&folder, &input).unwrap();
    assert_eq!(index, folder.join("index.html"));
    let html = std::fs::read_to_string(&index).unwrap();

    // metrics.json is the input, exactly.
    let written: Value = serde_json::from_str(&std::fs::read_to_string(folder.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(written, metrics);

    // Every key of the metrics is mentioned in the page.
    let mut keys = Vec::new();
    all_keys(&metrics, &mut keys);
    for key in keys {
        assert!(html.contains(&key), "index.html does not mention {key}");
    }

    // The figures exist as valid PNG files and are embedded in the page.
    let expected = [
        "tsne_origin.png",
        "tsne_control.png",
        "tsne_types.png",
        "violins.png",
        "library_size.png",
        "genes_detected.png",
        "training.png",
    ];
    for name in expected {
        let bytes = std::fs::read(folder.join("figures").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(is_png(&bytes), "{name} is not a PNG");
        assert!(bytes.len() > 5_000, "{name} is only {} bytes", bytes.len());
        assert!(html.contains(name), "index.html does not name {name}");
    }
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), expected.len());
    for chunk in html.split("data:image/png;base64,").skip(1) {
        let encoded = &chunk[..chunk.find('"').unwrap()];
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert!(is_png(&bytes));
    }

    // Offline: no network reference of any kind; the title is escaped.
    assert!(!html.contains("http://") && !html.contains("https://"), "index.html has a network reference");
    assert!(!html.contains("<test>") && html.contains("Synthetic &lt;test&gt; report"));
    // The skipped log line is reported; the footer says what was compared.
    assert!(html.contains("could not be read"));
    assert!(html.contains("Evaluation warning: only 150 cells per side"));
    assert!(html.contains("150 cells x 40 genes") && html.contains("120 cells x 40 genes"));
    assert!(html.contains("seed 7"));
    // No temporary files are left behind.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .chain(std::fs::read_dir(folder.join("figures")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn report_without_reference_labels_or_run() {
    let dir = tempfile::tempdir().unwrap();
    let real = synthetic(60, 30, 4, 0.0, "g");
    // Generated data with extra genes in another order: genes are matched by name.
    let mut generated = synthetic(50, 35, 5, 1.0, "g");
    let reversed: Vec<usize> = (0..generated.n_genes()).rev().collect();
    let names: Vec<String> = reversed.iter().map(|&j| generated.var_names()[j].clone()).collect();
    let x = generated.x.transpose().select_rows(&reversed).transpose();
    generated = CountMatrix::new(x, generated.obs.clone(), Frame::new(names)).unwrap();
    let metrics = json!({});
    let input = ReportInput {
        real: &real,
        generated: &generated,
        reference: None,
        label_key: None,
        metrics: &metrics,
        run_folder: None,
        title: "Minimal",
        seed: 0,
    };
    // A picture left by an earlier report in the same folder is removed.
    std::fs::create_dir_all(dir.path().join("figures")).unwrap();
    std::fs::write(dir.path().join("figures/tsne_types.png"), b"old").unwrap();
    let index = write_report(dir.path(), &input).unwrap();
    assert!(!dir.path().join("figures/tsne_types.png").exists());
    let html = std::fs::read_to_string(index).unwrap();
    assert!(html.contains("No metrics were given"));
    assert!(html.contains("not shared by every data set"));
    assert!(!html.contains("tsne_control.png") && !html.contains("tsne_types.png"));
    for name in ["tsne_origin.png", "violins.png", "library_size.png", "genes_detected.png"] {
        assert!(is_png(&std::fs::read(dir.path().join("figures").join(name)).unwrap()), "{name}");
    }
    assert!(html.contains("in all cells"));
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(dir.path().join("metrics.json")).unwrap()).unwrap(),
        metrics
    );
}

#[test]
fn same_seed_same_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let real = synthetic(120, 30, 8, 0.0, "g");
    let generated = synthetic(120, 30, 9, 1.0, "g");
    let metrics = json!({});
    let mut input = ReportInput {
        real: &real,
        generated: &generated,
        reference: None,
        label_key: Some("cell_type"),
        metrics: &metrics,
        run_folder: None,
        title: "t",
        seed: 3,
    };
    let picture = |input: &ReportInput, name: &str| {
        let folder = dir.path().join(name);
        write_report(&folder, input).unwrap();
        std::fs::read(folder.join("figures/tsne_origin.png")).unwrap()
    };
    let first = picture(&input, "a");
    assert_eq!(first, picture(&input, "b"), "same seed, same t-SNE");
    input.seed = 4;
    assert_ne!(first, picture(&input, "c"), "another seed, another drawing order (and sample, for larger data)");
}

#[test]
fn degenerate_generators_do_not_break_the_report() {
    // Mode collapse (one cell repeated) and a generator of empty cells: the pictures must still be drawn.
    let dir = tempfile::tempdir().unwrap();
    let real = synthetic(90, 25, 10, 0.0, "g");
    let collapsed = real.select_cells(&[0; 80]);
    let mut empty = real.select_cells(&(0..60).collect::<Vec<_>>());
    empty.x = CsrMatrix::zeros(60, 25);
    let metrics = json!({});
    for (name, generated) in [("collapsed", &collapsed), ("empty", &empty)] {
        let input = ReportInput {
            real: &real,
            generated,
            reference: Some(&real),
            label_key: Some("cell_type"),
            metrics: &metrics,
            run_folder: None,
            title: name,
            seed: 0,
        };
        let index = write_report(&dir.path().join(name), &input).unwrap();
        let html = std::fs::read_to_string(index).unwrap();
        assert_eq!(html.matches("data:image/png;base64,").count(), 6, "{name}");
    }
}

#[test]
fn clean_errors_on_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let real = synthetic(30, 20, 6, 0.0, "g");
    let other_genes = synthetic(30, 20, 7, 0.0, "other");
    let metrics = json!({});
    let mut input = ReportInput {
        real: &real,
        generated: &other_genes,
        reference: None,
        label_key: None,
        metrics: &metrics,
        run_folder: None,
        title: "t",
        seed: 0,
    };
    let error = write_report(dir.path(), &input).unwrap_err().to_string();
    assert!(error.contains("no gene name in common"), "{error}");

    input.generated = &real;
    input.label_key = Some("no_such_column");
    let error = write_report(dir.path(), &input).unwrap_err().to_string();
    assert!(error.contains("no_such_column"), "{error}");
    assert!(!dir.path().join("index.html").exists());
}

/// Renders a full-size report of the embedded PBMC data for a person to look at (see the module docs).
/// "Generated" cells are training cells with Poisson noise and a depth change: anything works for drawing.
#[test]
#[ignore]
fn render_pbmc_report() {
    let out = PathBuf::from(std::env::var("SCGAN_REPORT_DIR").unwrap_or_else(|_| "/tmp/scgan_report_demo".into()));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pbmc_facs_2k.h5ad");
    let counts = scgan::io::read(&data, &scgan::io::ReadOptions::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (mut test, mut train) = (Vec::new(), Vec::new());
    for i in 0..counts.n_cells() {
        if rng.random::<f64>() < 0.2 {
            test.push(i)
        } else {
            train.push(i)
        }
    }
    let real = counts.select_cells(&test);
    let reference = counts.select_cells(&train);
    let mut generated = counts.select_cells(&train[..train.len() / 2]);
    let factor: Vec<f32> = (0..generated.n_cells()).map(|_| 0.7 + 0.6 * rng.random::<f32>()).collect();
    generated.x.scale_rows(&factor);
    for v in generated.x.data_mut() {
        *v = Poisson::new((*v as f64).max(1e-3)).map(|p| p.sample(&mut rng)).unwrap_or(0.0) as f32;
    }
    generated.source = Some(PathBuf::from("generated.h5ad"));
    let run = match std::env::var("SCGAN_REPORT_RUN") {
        Ok(folder) => PathBuf::from(folder),
        Err(_) => {
            let run = out.join("run");
            std::fs::create_dir_all(&run).unwrap();
            write_log(&run, 3000);
            run
        }
    };
    let mut metrics = metrics();
    metrics["per_type"] = json!({});
    for (name, n) in [("CD19+ B", 150), ("CD34+", 140), ("CD56+ NK", 130), ("CD14+ Monocyte", 35)] {
        metrics["per_type"][name] = json!({"n_real": n, "n_generated": n - 3,
            "rf_auroc": if n >= 50 { json!({"mean": 0.66, "sd": 0.04}) } else { Value::Null },
            "mmd": if n >= 50 { json!(0.012) } else { Value::Null },
            "control_rf_auroc": if n >= 50 { json!({"mean": 0.53, "sd": 0.03}) } else { Value::Null },
            "control_mmd": if n >= 50 { json!(0.001) } else { Value::Null }});
    }
    if let Ok(path) = std::env::var("SCGAN_REPORT_METRICS") {
        metrics = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    }
    let input = ReportInput {
        real: &real,
        generated: &generated,
        reference: Some(&reference),
        label_key: Some("cell_type"),
        metrics: &metrics,
        run_folder: Some(&run),
        title: "PBMC 2k (demo data): noisy training cells as \"generated\"",
        seed: 0,
    };
    let start = std::time::Instant::now();
    let index = write_report(&out.join("report"), &input).unwrap();
    println!("wrote {} in {:.1} s", index.display(), start.elapsed().as_secs_f64());
}
