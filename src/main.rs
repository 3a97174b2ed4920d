//! The `scgan` command line: parses arguments, calls the library, maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use scgan::cluster::ClusterParams;
use scgan::preprocess::{self, PreprocessParams, SplitParams, Summary};
use scgan::{demo, io};

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
    /// Run the whole story on the embedded PBMC data set (no arguments, no network).
    Demo {
        /// Folder for everything the demo writes.
        #[arg(long, default_value = "scgan-demo")]
        out: PathBuf,
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
    /// Seed of the split and of the clustering.
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
        Command::Demo { out } => {
            out!("scgan demo: embedded PBMC data (Zheng et al. 2017, CC BY 4.0) -> {}", out.display());
            let outcome = demo::run(&out)?;
            out!("{}", outcome.summary);
            out!("{}", outcome.report);
            out!("prepared data: {}", outcome.prepared.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // `scgan info x | head` closes the pipe early: that is the reader's choice, not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
