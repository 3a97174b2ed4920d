//! Training options end to end through the command line: each is recorded in `config.json`, changes training,
//! resumes exactly, and is refused where it cannot work, with an error naming the flag.

mod common;

use std::path::Path;

use common::training::{ok, resumes_exactly_and_changes_training, tensors, train};
use common::{assert_clean_failure, scgan};
use scgan::io;

/// `--library-input true`: recorded, changes training (the generator reads each cell's drawn library size), resumes
/// exactly, generates deterministically with counts at realistic depths, and is refused where it cannot work (a
/// critic shown profiles) or would change the network's inputs on resume.
#[test]
fn library_input_is_recorded_resumed_exactly_and_generated_with() {
    let dir = tempfile::tempdir().unwrap();
    let with_input = ["--seed", "3", "--cooldown", "0", "--library-input", "true"];
    let without = ["--seed", "3", "--cooldown", "0", "--library-input", "false"];
    let (straight, plain) = resumes_exactly_and_changes_training(dir.path(), 20, &with_input, &without);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["library_input"], true);

    let generate = |run: &Path, out: &str| {
        let out = dir.path().join(out);
        ok(scgan(&["generate", run.to_str().unwrap(), "--n", "200", "--seed", "8", "--out", out.to_str().unwrap()]));
        io::read(&out, &Default::default()).unwrap()
    };
    let (first, again) = (generate(&straight, "g1.h5ad"), generate(&straight, "g2.h5ad"));
    assert_eq!(first.x, again.x, "same seed, different cells");
    // counts at the training cells' depths (over the genes kept): as deep as a run without the input makes them
    let median = |mut sizes: Vec<f64>| {
        sizes.sort_by(f64::total_cmp);
        sizes[sizes.len() / 2]
    };
    let (with_input, without) = (median(first.x.row_sums()), median(generate(&plain, "g3.h5ad").x.row_sums()));
    let ratio = with_input / without;
    assert!(ratio > 1.0 / 1.5 && ratio < 1.5, "median library size {with_input} against {without}");

    // unconditional scGAN on labelled data: its generator does not see the class, so sizes are standardised over
    // all cells in training, validation and generation alike; it trains, validates and generates
    let scgan_run = dir.path().join("scgan");
    ok(train(&scgan_run, &["--model", "scgan", "--steps", "10", "--library-input", "true"]));
    let cells = generate(&scgan_run, "g4.h5ad");
    assert_eq!(cells.n_cells(), 200);
    assert!(cells.x.row_sums().iter().all(|&size| size > 0.0));

    let profiles = ["--steps", "2", "--library-input", "true", "--critic-counts", "profiles"];
    let output = train(&dir.path().join("d"), &profiles);
    assert_clean_failure(&output, &["--library-input", "profiles"]);
    let output = scgan(&["train", "--resume", straight.to_str().unwrap(), "--steps", "22", "--library-input", "false"]);
    assert_clean_failure(&output, &["--library-input"]);
}

/// `--critic-input log1p-counts` (the critic sees `ln(1 + k)` of raw counts, real and generated): recorded, changes
/// training, resumes exactly, generates counts, and is refused where the critic would not see counts.
#[test]
fn log1p_counts_critic_input_is_recorded_resumed_exactly_and_refused_without_counts() {
    let dir = tempfile::tempdir().unwrap();
    let plain = ["--library-input", "true", "--seed", "4", "--cooldown", "0"];
    let counts = [&plain[..], &["--critic-input", "log1p-counts"]].concat();
    let (straight, _) = resumes_exactly_and_changes_training(dir.path(), 12, &counts, &plain);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["critic_input"], "log1p_counts");
    let out = dir.path().join("g.h5ad");
    ok(scgan(&["generate", straight.to_str().unwrap(), "--n", "50", "--out", out.to_str().unwrap()]));
    let cells = io::read(&out, &Default::default()).unwrap();
    assert!(cells.x.row_sums().iter().all(|&size| size > 0.0 && size.fract() == 0.0));

    for (flags, named) in [
        (&["--critic-counts", "profiles"][..], "--critic-counts"),
        (&["--critic-thinning", "0.5"][..], "--critic-thinning"),
        (&["--mean-matching", "1"][..], "--mean-matching"),
    ] {
        let args = [&["--steps", "2", "--critic-input", "log1p-counts"][..], flags].concat();
        assert_clean_failure(&train(&dir.path().join("refused"), &args), &[named, "log1p-counts"]);
    }
    // values that are not whole counts: real cells the critic would tell from generated counts at a glance
    let table = dir.path().join("fractional.csv");
    let header = (0..20).map(|j| format!(",g{j}")).collect::<String>();
    let rows = (0..40).map(|i| {
        let values = (0..20).map(|j| format!(",{}", (i + j) % 5 + 1) + if i == 7 && j == 3 { ".5" } else { "" });
        format!("c{i}{}\n", values.collect::<String>())
    });
    std::fs::write(&table, format!("cell{header}\n{}", rows.collect::<String>())).unwrap();
    let out = dir.path().join("fractional");
    let args = ["--model", "scgan", "--no-cluster", "--steps", "2", "--critic-input", "log1p-counts"];
    let output = scgan(&[&["train", table.to_str().unwrap(), "--out", out.to_str().unwrap()][..], &args].concat());
    assert_clean_failure(&output, &["fractional.csv", "1.5 (gene g3)", "whole count", "log1p-counts"]);
    assert!(!out.join("config.json").exists());
}

/// A lazy penalty (`--penalty-every 7`, more than the 5 critic updates per step: updates 7 and 14 of the run, in its
/// steps 2 and 3, are penalised) is recorded, counts its updates over the whole run (a run resumed after 2 steps
/// equals one run of 4), changes the weights, and logs the latest penalty it computed (none before the first).
#[test]
fn lazy_penalty_resumes_exactly_and_logs_its_latest_penalty() {
    let dir = tempfile::tempdir().unwrap();
    let (lazy, resumed, plain) = (dir.path().join("lazy"), dir.path().join("resumed"), dir.path().join("plain"));
    let extra = ["--penalty-every", "7", "--log-every", "1"];
    ok(train(&lazy, &[&["--steps", "4"], &extra[..]].concat()));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lazy.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["penalty_every"], 7);
    ok(train(&resumed, &[&["--steps", "2"], &extra[..]].concat()));
    ok(scgan(&["train", "--resume", resumed.to_str().unwrap(), "--steps", "4", "--threads", "1"]));
    let checkpoint = |run: &Path| tensors(run.join("state/checkpoint.safetensors"));
    assert_eq!(checkpoint(&lazy), checkpoint(&resumed), "a resumed run with a lazy penalty differs");
    ok(train(&plain, &["--steps", "4"]));
    assert_ne!(checkpoint(&lazy), checkpoint(&plain), "--penalty-every 7 changed nothing");
    let log = std::fs::read_to_string(lazy.join("log.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let penalties: Vec<Option<f64>> = entries.iter().map(|e| e["gradient_penalty"].as_f64()).collect();
    assert_eq!(penalties.len(), 4);
    assert!(penalties[0].is_none(), "a penalty logged before any was computed: {penalties:?}");
    assert!(penalties[1..3].iter().all(|p| p.is_some_and(|p| p > 0.0)), "{penalties:?}");
    assert_ne!(penalties[1], penalties[2], "step 3 computed a penalty of its own: {penalties:?}");
    assert_eq!(penalties[3], penalties[2], "step 4 computed none and logs step 3's: {penalties:?}");
}

/// `--generator-learning-rate-ratio` scales the generator's learning rate only: after one step (five critic updates,
/// then one generator update) the critic is the same as without it and the generator is not; the ratio is recorded.
#[test]
fn generator_learning_rate_ratio_moves_the_generator_only() {
    let dir = tempfile::tempdir().unwrap();
    let (scaled, plain) = (dir.path().join("scaled"), dir.path().join("plain"));
    ok(train(&scaled, &["--steps", "1", "--generator-learning-rate-ratio", "3"]));
    ok(train(&plain, &["--steps", "1"]));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scaled.join("config.json")).unwrap()).unwrap();
    assert!((config["train"]["generator_learning_rate_ratio"].as_f64().unwrap() - 3.0).abs() < 1e-6);
    let split = |run: &Path| {
        let all = tensors(run.join("state/checkpoint.safetensors"));
        let (generator, critic): (Vec<_>, Vec<_>) = all.into_iter().partition(|t| t.name.starts_with("generator."));
        (generator, critic.into_iter().filter(|t| t.name.starts_with("critic.")).collect::<Vec<_>>())
    };
    let ((gen_scaled, critic_scaled), (gen_plain, critic_plain)) = (split(&scaled), split(&plain));
    assert!(!critic_plain.is_empty() && !gen_plain.is_empty());
    assert_eq!(critic_scaled, critic_plain, "the ratio changed the critic");
    assert_ne!(gen_scaled, gen_plain, "the ratio did not change the generator");
}

/// The default preset shows the critic generated cells rounded to counts; `--critic-counts` (or its older spelling,
/// `--count-sampling true`) chooses another kind (one run also with mean matching), asking for two is refused, and each
/// run generates the counts its critic saw. A run written by an older scgan (two flags in config.json) keeps what it
/// was trained with.
#[test]
fn critic_counts_choose_what_the_critic_sees_and_older_runs_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = |run: &Path| run.join("config.json");
    let config = |run: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(config_path(run)).unwrap()).unwrap()
    };
    let (rounded, sampled, profiles) = (dir.path().join("rounded"), dir.path().join("sampled"), dir.path().join("p"));
    ok(train(&rounded, &["--steps", "2"]));
    assert_eq!(config(&rounded)["train"]["critic_counts"], "rounded");
    ok(train(&sampled, &["--steps", "2", "--count-sampling", "true"]));
    assert_eq!(config(&sampled)["train"]["critic_counts"], "sampled");
    ok(train(&profiles, &["--steps", "2", "--critic-counts", "profiles"]));
    assert_eq!(config(&profiles)["train"]["critic_counts"], "profiles");
    // the default's library-size input needs counts: asking for profiles turns it off
    assert_eq!(config(&profiles)["train"]["library_input"], false);
    let drawn = dir.path().join("drawn");
    ok(train(&drawn, &["--steps", "2", "--critic-counts", "rounded-poisson", "--mean-matching", "1.5"]));
    assert_eq!(config(&drawn)["train"]["critic_counts"], "rounded_poisson");
    assert_eq!(config(&drawn)["train"]["mean_matching"], 1.5);
    let generator = scgan::generate::Generator::load(&drawn, 1).unwrap();
    assert_eq!(generator.trained_counts(), scgan::generate::CountSampling::RoundedPoisson);
    // Thinned counts (real cells' thinning draws come from the run's generator): recorded, and resumed exactly.
    let (thinned, thinned_resumed) = (dir.path().join("thinned"), dir.path().join("thinned_resumed"));
    ok(train(&thinned, &["--steps", "4", "--critic-thinning", "0.5"]));
    assert_eq!(config(&thinned)["train"]["critic_thinning"], 0.5);
    ok(train(&thinned_resumed, &["--steps", "2", "--critic-thinning", "0.5"]));
    ok(scgan(&["train", "--resume", thinned_resumed.to_str().unwrap(), "--steps", "4", "--threads", "1"]));
    let checkpoint = |run: &Path| tensors(run.join("state/checkpoint.safetensors"));
    assert_eq!(checkpoint(&thinned), checkpoint(&thinned_resumed), "a resumed thinned run differs");
    assert_ne!(
        checkpoint(&thinned),
        checkpoint(&{
            let plain = dir.path().join("plain");
            ok(train(&plain, &["--steps", "4"]));
            plain
        })
    );
    let both = dir.path().join("both");
    let output = train(&both, &["--steps", "2", "--critic-counts", "sampled", "--count-rounding", "true"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("--critic-counts") && stderr.contains("--count-rounding"), "{stderr}");
    assert!(!both.join("model.safetensors").exists());

    // An older run's config.json: the flags instead of critic_counts. It loads and resumes as a sampling run
    // (generating multinomial counts; the rewritten config says so).
    let mut older = config(&sampled);
    let train_settings = older["train"].as_object_mut().unwrap();
    train_settings.remove("critic_counts");
    train_settings.insert("count_rounding".into(), false.into());
    train_settings.insert("count_sampling".into(), true.into());
    std::fs::write(config_path(&sampled), serde_json::to_string_pretty(&older).unwrap()).unwrap();
    let generator = scgan::generate::Generator::load(&sampled, 1).unwrap();
    assert_eq!(generator.trained_counts(), scgan::generate::CountSampling::Multinomial);
    ok(scgan(&["train", "--resume", sampled.to_str().unwrap(), "--steps", "3", "--threads", "1"]));
    assert_eq!(config(&sampled)["train"]["critic_counts"], "sampled");
    assert!(config(&sampled)["train"].get("count_sampling").is_none());
}

/// `--critic-depth true` (the critic reads each cell's library size): recorded in `config.json` and the model's,
/// adds `critic.depth.weight` to the model, changes training, resumes exactly, generates, and is refused without
/// the library input (whose drawn sizes are the generated cells' depths) or when a resume would change it. It is
/// the default preset's, and a new run without the library input does without it.
#[test]
fn critic_depth_is_recorded_resumed_exactly_and_refused_without_library_input() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["--library-input", "true", "--seed", "5", "--cooldown", "0"];
    let plain = [&base[..], &["--critic-depth", "false"]].concat();
    let depth = [&base[..], &["--critic-depth", "true"]].concat();
    let (straight, without) = resumes_exactly_and_changes_training(dir.path(), 12, &depth, &plain);
    let config_of = |run: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap()
    };
    let config = config_of(&straight);
    assert_eq!(config["train"]["critic_depth"], true);
    assert_eq!(config["model"]["critic_depth"], true);
    let count = |run: &Path| tensors(run.join("model.safetensors")).iter().map(|t| t.data.len()).sum::<usize>();
    assert_eq!(count(&straight), count(&without) + 1024, "one depth weight per unit of the critic's first layer");
    assert!(tensors(straight.join("model.safetensors")).iter().any(|t| t.name == "critic.depth.weight"));
    let out = dir.path().join("g.h5ad");
    ok(scgan(&["generate", straight.to_str().unwrap(), "--n", "50", "--out", out.to_str().unwrap()]));
    let cells = io::read(&out, &Default::default()).unwrap();
    assert!(cells.x.row_sums().iter().all(|&size| size > 0.0 && size.fract() == 0.0));

    let by_default = dir.path().join("default");
    ok(train(&by_default, &["--steps", "2"]));
    assert_eq!(config_of(&by_default)["train"]["critic_depth"], true);
    let no_input = dir.path().join("no-input");
    ok(train(&no_input, &["--steps", "2", "--library-input", "false"]));
    assert_eq!(config_of(&no_input)["train"]["critic_depth"], false);

    let args = ["--steps", "2", "--library-input", "false", "--critic-depth", "true"];
    assert_clean_failure(&train(&dir.path().join("refused"), &args), &["--critic-depth", "--library-input"]);
    let output = scgan(&["train", "--resume", straight.to_str().unwrap(), "--steps", "14", "--critic-depth", "false"]);
    assert_clean_failure(&output, &["--critic-depth"]);
}
