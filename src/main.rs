//! The `scgan` command line: parses arguments, calls the library, maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use scgan::generate::{self, CellCounts, CountSampling, GenerateParams, Generator};
use scgan::preprocess::{self, Summary};
use scgan::train::{self, setup, ModelChoice, TrainParams};
use scgan::{augment, demo, evaluate, io};

mod cli;
use cli::{default_threads, AugmentArgs, Cli, Command, CountsArg, ReadArgs, TrainArgs};

/// Prints to stdout, returning an error (instead of panicking as `println!` does) when stdout is closed.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn read_options(args: &ReadArgs) -> io::ReadOptions {
    io::ReadOptions { layer: args.layer.clone(), transpose: args.transpose }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info { input, read, json } => {
            let matrix = io::read(&input, &read_options(&read))?;
            let summary = Summary::of(&matrix);
            if json {
                out!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                out!("{}\n{summary}", input.display());
            }
        }
        Command::Preprocess(args) => {
            let params = args.preprocess.params()?;
            let counts = io::read(&args.input, &read_options(&args.read))?;
            let (mut prepared, report) = preprocess::preprocess(counts, &params)?;
            let normalized = preprocess::normalize_total(&prepared, params.target_sum);
            prepared.layers.insert("normalized".to_string(), normalized);
            io::write_h5ad(&prepared, &args.out)?;
            out!("{report}");
            out!("wrote {}", args.out.display());
        }
        Command::Train(args) => run_train(&args)?,
        Command::Augment(args) => run_augment(&args)?,
        Command::Generate(args) => {
            init_threads(args.threads);
            let cells = if args.cell_type.is_empty() {
                CellCounts::Total(args.n.ok_or_else(|| anyhow::anyhow!("give --n N or --cell-type NAME=N"))?)
            } else {
                CellCounts::PerType(args.cell_type.iter().map(|t| generate::parse_type_count(t)).collect::<Result<_, _>>()?)
            };
            let mut generator = Generator::load(&args.run, args.threads.unwrap_or_else(default_threads))?;
            let counts = match (args.normalized_only, args.counts) {
                (true, _) => CountSampling::NormalizedOnly,
                (false, None) => generator.trained_counts(),
                (false, Some(CountsArg::Rescale)) => CountSampling::Rescale,
                (false, Some(CountsArg::Multinomial)) => CountSampling::Multinomial,
                (false, Some(CountsArg::Detected)) => CountSampling::Detected,
                (false, Some(CountsArg::RoundedPoisson)) => CountSampling::RoundedPoisson,
            };
            let threads = args.threads.unwrap_or_else(default_threads);
            let params = GenerateParams { cells, seed: args.seed, counts, count_noise: args.count_noise, threads };
            let cells = generator.generate(&params)?;
            io::write_h5ad(&cells, &args.out)?;
            out!("generated {} cells x {} genes (model step {}) -> {}", cells.n_cells(), cells.n_genes(), generator.step, args.out.display());
        }
        Command::Evaluate(args) => {
            init_threads(args.threads);
            let read = |path: &PathBuf| io::read(path, &io::ReadOptions::default());
            let (real, generated) = (read(&args.real)?, read(&args.generated)?);
            let reference = args.reference.as_ref().map(read).transpose()?;
            let params = evaluate::EvaluateParams {
                n_cells: args.cells,
                n_trees: args.trees,
                n_trees_per_type: args.trees,
                seed: args.seed,
                label_key: args.label_key.clone(),
                ..Default::default()
            };
            let report = scgan::pipeline::evaluate_and_report(
                &real, &generated, reference.as_ref(), &params, args.run.as_deref(), &args.out, "scgan evaluation",
            )?;
            out!("{}", report.summary);
            out!("report: {}", report.index.display());
        }
        Command::Demo { out, time, threads } => {
            init_threads(threads);
            let params = demo::DemoParams { folder: out.clone(), training_seconds: time, threads: threads.unwrap_or_else(default_threads) };
            eprintln!("scgan demo: embedded PBMC data (Zheng et al. 2017, CC BY 4.0), cscGAN for {time:.0} s -> {}", out.display());
            let mut train_params = TrainParams::paper();
            train_params.time_limit_seconds = Some(time);
            let bar = progress_bar(&train_params, 0);
            let start = std::time::Instant::now();
            let mut on_step = |entry: &train::LogEntry, _: &TrainParams| {
                bar.set_position(start.elapsed().as_secs());
                bar.set_message(step_message(entry, entry.step as f64 / start.elapsed().as_secs_f64().max(1e-9)));
            };
            let outcome = demo::run(&params, &mut on_step);
            bar.finish_and_clear();
            let outcome = outcome?;
            out!("{}", outcome.summary);
            out!("{}", outcome.report);
            out!("prepared data:   {}", outcome.prepared.display());
            out!(
                "trained cscGAN:  {} steps in {:.0} s ({:.2} steps/s); {} -> {}",
                outcome.training.steps, outcome.training.session_seconds,
                outcome.training.session_steps as f64 / outcome.training.session_seconds.max(1e-9),
                outcome.training.kept_summary(),
                outcome.run.display()
            );
            let total: usize = outcome.generated_per_type.iter().map(|(_, n)| n).sum();
            out!("generated cells: {total} as counts, in the test split's proportions -> {}", outcome.generated.display());
            out!("                 {} more of the rarest type, {} -> {}", demo::EXTRA_RARE_CELLS, outcome.rare.0, outcome.rare.1.display());
            out!("\nrealism, against the {total} held-out test cells (train cells as the real-vs-real control):");
            out!("{}", outcome.assessment.summary);
            out!("report: {}", outcome.assessment.index.display());
        }
    }
    Ok(())
}

fn init_threads(threads: Option<usize>) {
    let threads = threads.unwrap_or_else(default_threads);
    // Only the first call can set the global pool; later ones keep it.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
}

fn unknown_preset(name: &str) -> anyhow::Error {
    anyhow::anyhow!("unknown --preset {name}; the presets are: {}", train::presets::NAMES.join(", "))
}

fn run_augment(args: &AugmentArgs) -> anyhow::Result<()> {
    init_threads(args.threads);
    if args.steps.is_none() && args.time.is_none() {
        anyhow::bail!("give every cscGAN a training budget: --steps N and/or --time DURATION (e.g. --time 100s)");
    }
    let read = |path: &PathBuf| io::read(path, &io::ReadOptions::default());
    let input = read(&args.input)?;
    let (train, test) = match &args.test {
        Some(path) => (input, read(path)?),
        None => augment::split_train_test(&input, &args.label_key, args.test_fraction, args.split_seed)?,
    };
    let mut params = augment::AugmentParams::new(&args.label_key, args.rare.clone());
    params.train = train::presets::named(&args.preset).ok_or_else(|| unknown_preset(&args.preset))?;
    params.preset = args.preset.clone();
    if let Some(precision) = args.precision {
        params.train.precision = precision.into();
    }
    params.fractions = args.fractions.clone();
    params.seeds = (0..args.seeds).collect();
    params.n_added = args.add;
    params.n_trees = args.trees;
    if let Some(steps) = args.steps {
        params.train.steps = steps;
    }
    params.train.time_limit_seconds = args.time;
    params.train.threads = args.threads.unwrap_or_else(default_threads);
    params.train.check()?;
    eprintln!(
        "scgan augment: {} training and {} test cells; {} rare type(s) x {} fractions x {} seeds",
        train.n_cells(), test.n_cells(), params.rare.len(), params.fractions.len(), params.seeds.len()
    );
    let results = augment::augment(&train, &test, &params, &args.out.join("work"), &mut |line| eprintln!("{line}"))?;
    let inputs = match &args.test {
        Some(test) => format!("training cells: {}; test cells: {}", args.input.display(), test.display()),
        None => format!("{}, test split {} (seed {})", args.input.display(), args.test_fraction, args.split_seed),
    };
    let index = augment::report::write(&args.out, &results, &inputs)?;
    let rows = augment::report::summarize(&results);
    for rare in &params.rare {
        out!("{}", augment::report::verdict(&rows, rare));
    }
    out!("took {:.0} s; report: {}", results.seconds, index.display());
    Ok(())
}

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    init_threads(args.threads);
    let mut out_existed = true;
    let mut session = match &args.resume {
        Some(folder) => setup::resume(folder, |params| args.apply(params))?,
        None => {
            let mut params = train::presets::named(&args.preset).ok_or_else(|| unknown_preset(&args.preset))?;
            params.seed = args.preprocess.seed;
            args.apply(&mut params);
            let (Some(input), Some(out)) = (&args.input, &args.out) else {
                anyhow::bail!("give INPUT and --out FOLDER to start a run, or --resume RUN to continue one");
            };
            out_existed = out.exists();
            let started = setup::start(input, &read_options(&args.read), &args.preprocess.params()?, args.validation_fraction, params, &args.preset, out);
            if started.is_err() && !out_existed {
                // A full disk while writing config.json or data.json: leave no half run folder.
                setup::discard(&train::run::RunFolder::new(out), false);
            }
            started?
        }
    };
    let params = session.config.train.clone();
    let description = &session.description;
    eprintln!(
        "training {} on {} cells x {} genes ({} classes, {} validation cells), {} threads -> {}",
        match params.model { ModelChoice::Cscgan => "cscGAN", ModelChoice::Scgan => "scGAN" },
        description.n_train, description.genes.len(), description.classes.len(), description.n_validation,
        params.threads, session.run.path.display()
    );
    let bar = progress_bar(&params, session.state.step);
    let session_start = std::time::Instant::now();
    let first_step = session.state.step;
    let mut on_step = |entry: &train::LogEntry, params: &TrainParams| {
        let rate = (entry.step - first_step) as f64 / session_start.elapsed().as_secs_f64().max(1e-9);
        match params.time_limit_seconds {
            Some(_) => bar.set_position(session_start.elapsed().as_secs()),
            None => bar.set_position(entry.step),
        }
        bar.set_message(step_message(entry, rate));
    };
    let outcome = train::train(session.model.as_mut(), &session.data, &params, &session.run, session.state, &mut on_step);
    bar.finish_and_clear();
    if outcome.is_err() && args.resume.is_none() && !session.run.checkpoint().exists() {
        // A new run that failed before its first checkpoint has nothing worth keeping: leave no half run folder.
        setup::discard(&session.run, out_existed);
    }
    // The validation figure's PCA is fitted on the training cells, which know no file.
    let outcome = outcome.map_err(|e| e.in_file(&session.config.input))?;
    out!(
        "trained {} steps ({} this session, {:.1} steps/s); {} -> {}",
        outcome.steps, outcome.session_steps,
        outcome.session_steps as f64 / outcome.session_seconds.max(1e-9),
        outcome.kept_summary(),
        session.run.path.display()
    );
    Ok(())
}

fn step_message(entry: &train::LogEntry, rate: f64) -> String {
    format!(
        "step {} | {rate:.2} steps/s | critic {:.1} | W {:.1}{}",
        entry.step,
        entry.critic_loss,
        entry.wasserstein,
        entry.validation_knn_auroc.map(|v| format!(" | val kNN AUROC {v:.3}")).unwrap_or_default()
    )
}

fn progress_bar(params: &TrainParams, step: u64) -> indicatif::ProgressBar {
    let (length, position) = match params.time_limit_seconds {
        Some(seconds) => (seconds.ceil() as u64, 0),
        None => (params.steps, step),
    };
    let bar = indicatif::ProgressBar::new(length).with_position(position);
    let style = indicatif::ProgressStyle::with_template("{bar:30.cyan/blue} {percent:>3}% {msg} | ETA {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The error and its causes, `a: b: c`, leaving out a cause whose text the message already holds (scgan's
/// I/O errors show their operating-system error themselves, which would otherwise be printed twice).
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) makes the kernel send SIGXFSZ, whose default action kills the process
    // mid-write. Ignored, the write fails with EFBIG instead, and the error path removes the temporary file
    // and reports which file could not be written.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_IGN is a valid disposition.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    match run(Cli::parse_with_rules()) {
        Ok(()) => ExitCode::SUCCESS,
        // `scgan info x | head` closes the pipe early: that is the reader's choice, not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}
