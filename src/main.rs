//! The `scgan` command line: parses arguments, calls the library, maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use scgan::cluster::ClusterParams;
use scgan::generate::{self, CellCounts, CountSampling, GenerateParams, Generator};
use scgan::model::{ConditionalCritic, CriticInput};
use scgan::preprocess::{self, PreprocessParams, SplitParams, Summary};
use scgan::train::{self, setup, ModelChoice, TrainParams};
use scgan::{augment, demo, evaluate, io};

/// Realistic synthetic single-cell RNA-seq data with scGAN / cscGAN, on a CPU.
#[derive(Parser)]
#[command(name = "scgan", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Summarise a count matrix: cells, genes, sparsity, library sizes, label counts.
    #[command(after_help = "Examples:\n  scgan info data/pbmc_facs_2k.h5ad\n  scgan info filtered_feature_bc_matrix.h5\n  \
                            scgan info sample/outs/filtered_feature_bc_matrix/ --json")]
    Info {
        /// Input: .h5ad, 10x .h5, a 10x Matrix Market folder, or a .csv/.tsv table.
        input: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Preprocess raw counts as the paper does and write an h5ad (X = counts, layers['normalized']).
    #[command(after_help = "Examples:\n  scgan preprocess data/pbmc_facs_2k.h5ad --label-key cell_type --out prepared.h5ad\n  \
                            scgan preprocess raw.h5ad --layer counts --hvg 2000 --split 0.1,0.2 --seed 0 --out prepared.h5ad\n  \
                            scgan preprocess filtered_feature_bc_matrix.h5 --resolution 0.3 --out clustered.h5ad")]
    Preprocess(PreprocessArgs),
    /// Train scGAN or cscGAN (raw counts are preprocessed with the same flags as `scgan preprocess`).
    #[command(after_help = "Examples:\n  scgan train data.h5ad --label-key cell_type --out runs/pbmc --time 20m\n  \
                            scgan train data.h5ad --model scgan --steps 5000 --seed 1 --out runs/uncond\n  \
                            scgan train --resume runs/pbmc --steps 20000")]
    Train(Box<TrainArgs>),
    /// Generate cells from a trained run, as integer counts (X) and normalised values (layers['normalized']).
    #[command(after_help = "Examples:\n  scgan generate runs/pbmc --n 5000 --out generated.h5ad\n  \
                            scgan generate runs/pbmc --cell-type \"CD56+ NK=2000\" --cell-type \"CD19+ B=500\" --out nk_b.h5ad")]
    Generate(GenerateArgs),
    /// Measure how realistic generated cells are (EVALUATION.md) and write an HTML report with pictures.
    #[command(after_help = "Examples:\n  scgan evaluate --real test.h5ad --generated generated.h5ad --reference train.h5ad \\\n      \
                            --label-key cell_type --run runs/pbmc --out report/")]
    Evaluate(EvaluateArgs),
    /// Measure whether cscGAN cells of a rare type help a classifier more than repeating its real cells.
    #[command(after_help = "Examples:\n  scgan augment data.h5ad --label-key cell_type --rare \"CD56+ NK\" --time 100s --out augment/\n  \
                            scgan augment pbmc.train.h5ad --test pbmc.test.h5ad --label-key cell_type --rare \"CD56+ NK\" \\\n      \
                            --rare \"CD34+\" --fractions 0.1,0.01 --seeds 3 --steps 500 --out augment/")]
    Augment(Box<AugmentArgs>),
    /// Run the whole story on the embedded PBMC data set (no arguments, no network).
    Demo {
        /// Folder for everything the demo writes.
        #[arg(long, default_value = "scgan-demo")]
        out: PathBuf,
        /// Training time, e.g. 3m or 90s.
        #[arg(long, default_value = "3m", value_parser = parse_duration)]
        time: f64,
        /// Threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Args)]
struct ReadArgs {
    /// Read this h5ad layer (e.g. `counts`) instead of X.
    #[arg(long)]
    layer: Option<String>,
    /// CSV/TSV tables only: rows are genes and columns are cells.
    #[arg(long)]
    transpose: bool,
}

#[derive(Args)]
struct PreprocessArgs {
    /// Input: .h5ad, 10x .h5, a 10x Matrix Market folder, or a .csv/.tsv table.
    input: PathBuf,
    /// Output .h5ad file.
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    preprocess: PreprocessFlags,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModelArg {
    Cscgan,
    Scgan,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CriticArg {
    /// One output layer per class (the reference's default).
    PerClass,
    /// Miyato & Koyama's projection critic.
    Projection,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CountsArg {
    /// Scale the profile to the library size and round each value up or down at random.
    Rescale,
    /// Draw the library size's counts multinomially from the profile.
    Multinomial,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CriticInputArg {
    /// The library-size-normalised values (the paper).
    Normalized,
    /// ln(1 + x) of the normalised values, for real cells and fakes alike.
    Log1p,
}

#[derive(Args)]
struct TrainArgs {
    /// Input counts (any format `scgan info` reads) or a file written by `scgan preprocess`.
    #[arg(required_unless_present = "resume")]
    input: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long, short, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["input", "out"])]
    resume: Option<PathBuf>,
    /// Settings to start from: `default` (the paper's network, trained with a log-scale critic and a higher
    /// learning rate: more realistic cells per CPU minute, see BENCHMARKS.md) or `paper` (the published settings).
    #[arg(long, default_value = "default")]
    preset: String,
    /// Network: conditional cscGAN (needs labels) or unconditional scGAN.
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// cscGAN's critic output layer.
    #[arg(long, value_enum)]
    critic: Option<CriticArg>,
    /// Stop after this many generator steps in total (paper: 1,000,000).
    #[arg(long)]
    steps: Option<u64>,
    /// Stop after this much training time in this session, e.g. 20m, 90s, 1h30m.
    #[arg(long, value_parser = parse_duration)]
    time: Option<f64>,
    /// Cells per minibatch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Critic updates per generator update.
    #[arg(long)]
    critic_steps: Option<usize>,
    /// Initial learning rate.
    #[arg(long)]
    learning_rate: Option<f32>,
    /// Learning rate reached after --decay-steps.
    #[arg(long)]
    learning_rate_final: Option<f32>,
    /// Steps of the exponential learning-rate decay.
    #[arg(long)]
    decay_steps: Option<u64>,
    /// AMSGrad beta1.
    #[arg(long)]
    beta1: Option<f32>,
    /// AMSGrad beta2.
    #[arg(long)]
    beta2: Option<f32>,
    /// What the critic sees: the normalised values (paper) or their log1p.
    #[arg(long, value_enum)]
    critic_input: Option<CriticInputArg>,
    /// Generate with a moving average of the generator's weights with this decay, e.g. 0.999 (0: none, the paper).
    #[arg(long, value_name = "DECAY")]
    generator_average: Option<f32>,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Steps between validation figures (0: none).
    #[arg(long)]
    validation_every: Option<u64>,
    /// Steps between checkpoints.
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Steps between lines of log.jsonl.
    #[arg(long)]
    log_every: Option<u64>,
    /// Fraction of cells held out for validation when the input has no obs['split'].
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Testing aid: make the loss of this step NaN, to exercise divergence handling.
    #[arg(long, hide = true)]
    inject_nan_at: Option<u64>,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    preprocess: PreprocessFlags,
}

impl TrainArgs {
    /// Applies the flags given on top of `params` (a preset, or a resumed run's settings).
    fn apply(&self, params: &mut TrainParams) {
        if let Some(model) = self.model {
            params.model = match model { ModelArg::Cscgan => ModelChoice::Cscgan, ModelArg::Scgan => ModelChoice::Scgan };
        }
        if let Some(critic) = self.critic {
            params.conditional_critic = match critic {
                CriticArg::PerClass => ConditionalCritic::PerClassOutput,
                CriticArg::Projection => ConditionalCritic::Projection,
            };
        }
        if let Some(input) = self.critic_input {
            params.critic_input = match input {
                CriticInputArg::Normalized => CriticInput::Normalized,
                CriticInputArg::Log1p => CriticInput::Log1p,
            };
        }
        if let Some(decay) = self.generator_average {
            params.generator_average = (decay > 0.0).then_some(decay);
        }
        macro_rules! set {
            ($($flag:ident => $field:expr),*) => { $( if let Some(v) = self.$flag { $field = v; } )* };
        }
        set!(steps => params.steps, batch_size => params.batch_size, critic_steps => params.critic_steps,
             learning_rate => params.learning_rate, learning_rate_final => params.learning_rate_final,
             decay_steps => params.decay_steps, beta1 => params.optimizer.beta1, beta2 => params.optimizer.beta2,
             validation_every => params.validation_every, checkpoint_every => params.checkpoint_every,
             log_every => params.log_every);
        params.time_limit_seconds = self.time;
        params.threads = self.threads.unwrap_or_else(default_threads);
        params.inject_nan_at = self.inject_nan_at;
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// A run folder written by `scgan train`.
    run: PathBuf,
    /// Number of cells, types in the training proportions.
    #[arg(long, conflicts_with = "cell_type")]
    n: Option<usize>,
    /// NAME=N cells of one type (repeatable; NAME may contain spaces, +, / and =).
    #[arg(long = "cell-type", value_name = "NAME=N")]
    cell_type: Vec<String>,
    /// Output .h5ad file.
    #[arg(long, short)]
    out: PathBuf,
    /// Seed of the latent vectors, library sizes and counts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the normalised values as X and skip count sampling.
    #[arg(long)]
    normalized_only: bool,
    /// How counts are made from a generated profile and a library size drawn from the type's real ones:
    /// `rescale` (scale and round at random) or `multinomial` (sample L counts from the profile).
    #[arg(long, value_enum, default_value = "rescale", conflicts_with = "normalized_only")]
    counts: CountsArg,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct EvaluateArgs {
    /// Held-out real cells (e.g. the test split).
    #[arg(long)]
    real: PathBuf,
    /// Generated cells.
    #[arg(long)]
    generated: PathBuf,
    /// Other real cells for the real-vs-real control (e.g. the training split).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// obs column with the cell types, for the per-type figures.
    #[arg(long)]
    label_key: Option<String>,
    /// A run folder: its loss curves go into the report.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Folder for index.html, metrics.json and the figures.
    #[arg(long, short)]
    out: PathBuf,
    /// Cells compared per side.
    #[arg(long, default_value_t = 1000)]
    cells: usize,
    /// Trees of the random forest.
    #[arg(long, default_value_t = 1000)]
    trees: usize,
    /// Seed of the sampling, the forest and the pictures.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct AugmentArgs {
    /// Labelled raw counts: the training cells when --test is given, otherwise all cells (split here, or by
    /// their obs['split'] from `scgan preprocess --split`).
    input: PathBuf,
    /// A fixed test split (raw counts, same genes); without it, a stratified test split is held out of the input.
    #[arg(long)]
    test: Option<PathBuf>,
    /// obs column with the cell types.
    #[arg(long)]
    label_key: String,
    /// The rare cell type to study (repeat the flag for several).
    #[arg(long, required = true)]
    rare: Vec<String>,
    /// Fractions of the rare type's training cells kept.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.1,0.05,0.01")]
    fractions: Vec<f64>,
    /// Number of seeds (0, 1, ..): downsampling, components, forests, networks.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Cells added by upsampling and by augmentation (default: bring the rare type to the median type size).
    #[arg(long)]
    add: Option<usize>,
    /// Trees of every random forest.
    #[arg(long, default_value_t = 500)]
    trees: usize,
    /// Training budget of every cscGAN: generator steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Training budget of every cscGAN: time, e.g. 100s or 2m.
    #[arg(long, value_parser = parse_duration)]
    time: Option<f64>,
    /// Fraction of the input held out as the test split when --test is not given.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of that split.
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Folder for index.html, results.csv, summary.csv, figures/ and work/ (the training runs).
    #[arg(long, short)]
    out: PathBuf,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Parses durations such as `20m`, `90s`, `1h30m`, `1.5h` or plain seconds into seconds.
fn parse_duration(text: &str) -> Result<f64, String> {
    let bad = || format!("'{text}' is not a duration such as 20m, 90s, 1h30m");
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(seconds);
    }
    let (mut total, mut number) = (0.0, String::new());
    for c in text.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'h' | 'm' | 's' => {
                let value: f64 = number.parse().map_err(|_| bad())?;
                total += value * match c { 'h' => 3600.0, 'm' => 60.0, _ => 1.0 };
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() || total <= 0.0 {
        return Err(bad());
    }
    Ok(total)
}

/// The preprocessing flags, shared by every command that preprocesses.
#[derive(Args)]
struct PreprocessFlags {
    /// obs column with the cell types; without it the cells are clustered (Leiden) into obs['cluster'].
    #[arg(long)]
    label_key: Option<String>,
    /// Remove cells with fewer expressed genes.
    #[arg(long, default_value_t = 10)]
    min_genes: usize,
    /// Remove genes expressed in fewer cells.
    #[arg(long, default_value_t = 3)]
    min_cells: usize,
    /// Library size every cell is normalised to (no log).
    #[arg(long, default_value_t = preprocess::TARGET_SUM)]
    target_sum: f64,
    /// Keep only the N most variable genes (Seurat v3 on counts); default: keep all, as the paper.
    #[arg(long, value_name = "N")]
    hvg: Option<usize>,
    /// Stratified split: validation fraction, optionally followed by a test fraction (e.g. 0.1,0.2).
    #[arg(long, value_name = "VAL[,TEST]")]
    split: Option<String>,
    /// Seed of the split and the clustering (and, for `train`, of initialisation and sampling).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Leiden resolution when clustering (the paper's Louvain used 0.15).
    #[arg(long, default_value_t = 0.15)]
    resolution: f64,
    /// Do not cluster when there is no --label-key.
    #[arg(long)]
    no_cluster: bool,
    /// Refuse non-integer values instead of warning.
    #[arg(long)]
    require_counts: bool,
}

impl PreprocessFlags {
    fn params(&self) -> anyhow::Result<PreprocessParams> {
        let split = match &self.split {
            None => None,
            Some(text) => {
                let parts: Vec<&str> = text.split(',').collect();
                let parse = |s: &str| {
                    s.trim().parse::<f64>().with_context(|| format!("--split {text}: '{s}' is not a number"))
                };
                let (validation, test) = match parts.as_slice() {
                    [v] => (parse(v)?, 0.0),
                    [v, t] => (parse(v)?, parse(t)?),
                    _ => anyhow::bail!("--split {text}: expected VAL or VAL,TEST (fractions, e.g. 0.1,0.2)"),
                };
                Some(SplitParams { validation, test, seed: self.seed })
            }
        };
        let cluster = (!self.no_cluster)
            .then(|| ClusterParams { resolution: self.resolution, seed: self.seed, ..Default::default() });
        Ok(PreprocessParams {
            min_genes: self.min_genes,
            min_cells: self.min_cells,
            target_sum: self.target_sum,
            n_top_genes: self.hvg,
            label_key: self.label_key.clone(),
            cluster,
            split,
            require_counts: self.require_counts,
        })
    }
}

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
            let counts = match (args.normalized_only, args.counts) {
                (true, _) => CountSampling::NormalizedOnly,
                (false, CountsArg::Rescale) => CountSampling::Rescale,
                (false, CountsArg::Multinomial) => CountSampling::Multinomial,
            };
            let mut generator = Generator::load(&args.run, args.threads.unwrap_or_else(default_threads))?;
            let params = GenerateParams { cells, seed: args.seed, counts, threads: args.threads.unwrap_or_else(default_threads) };
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
                "trained cscGAN:  {} steps in {:.0} s ({:.2} steps/s); best validation kNN AUROC {} -> {}",
                outcome.training.steps, outcome.training.session_seconds,
                outcome.training.session_steps as f64 / outcome.training.session_seconds.max(1e-9),
                outcome.training.best.map(|(v, s)| format!("{v:.4} at step {s}")).unwrap_or_else(|| "(none)".into()),
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
    params.fractions = args.fractions.clone();
    params.seeds = (0..args.seeds).collect();
    params.n_added = args.add;
    params.n_trees = args.trees;
    if let Some(steps) = args.steps {
        params.train.steps = steps;
    }
    params.train.time_limit_seconds = args.time;
    params.train.threads = args.threads.unwrap_or_else(default_threads);
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
            let mut params = train::presets::named(&args.preset)
                .ok_or_else(|| anyhow::anyhow!("unknown --preset {}; the presets are: {}", args.preset, train::presets::NAMES.join(", ")))?;
            params.seed = args.preprocess.seed;
            args.apply(&mut params);
            let (input, out) = (args.input.as_ref().expect("required by clap"), args.out.as_ref().expect("required by clap"));
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
    let outcome = outcome?;
    out!(
        "trained {} steps ({} this session, {:.1} steps/s); best validation kNN AUROC {} -> {}",
        outcome.steps, outcome.session_steps,
        outcome.session_steps as f64 / outcome.session_seconds.max(1e-9),
        outcome.best.map(|(v, s)| format!("{v:.4} at step {s}")).unwrap_or_else(|| "(none)".into()),
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
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // `scgan info x | head` closes the pipe early: that is the reader's choice, not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}
