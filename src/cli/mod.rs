//! The `scgan` command line's arguments (clap definitions) and their translation into the library's settings.
//! Part of the binary, not of the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use scgan::cluster::ClusterParams;
use scgan::preprocess::{self, PreprocessParams, SplitParams};

mod train;
pub(crate) use train::{PrecisionArg, TrainArgs};

/// Realistic synthetic single-cell RNA-seq data with scGAN / cscGAN, on a CPU.
#[derive(Parser)]
#[command(name = "scgan", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `scgan train`'s flags that choose and prepare its data (clap ids): a resumed run reads its input again with
/// the settings in its config.json, so these may not be given with `--resume`.
const FIXED_ON_RESUME: [&str; 13] = [
    "layer", "transpose", "label_key", "min_genes", "min_cells", "target_sum", "hvg", "split", "seed", "resolution",
    "no_cluster", "require_counts", "validation_fraction",
];

impl Cli {
    /// Parses the command line (exiting with clap's message on bad usage), with the rule derive cannot state
    /// because the preprocessing flags are shared with commands that have no `--resume`: `scgan train --resume`
    /// refuses the flags that would prepare other data than the run was trained on, rather than ignore them.
    pub(crate) fn parse_with_rules() -> Cli {
        let mut command = Cli::command_with_rules();
        let matches = command.get_matches_mut();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.format(&mut command).exit())
    }

    fn command_with_rules() -> clap::Command {
        Cli::command().mut_subcommand("train", |train| {
            FIXED_ON_RESUME.iter().fold(train, |train, id| train.mut_arg(*id, |arg| arg.conflicts_with("resume")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap checks the definition (every id in FIXED_ON_RESUME exists) only when asked or when parsing.
    #[test]
    fn the_command_line_with_its_rules_is_well_formed() {
        Cli::command_with_rules().debug_assert();
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) struct ReadArgs {
    /// Read this h5ad layer (e.g. `counts`) instead of X.
    #[arg(long)]
    pub(crate) layer: Option<String>,
    /// CSV/TSV tables only: rows are genes and columns are cells.
    #[arg(long)]
    pub(crate) transpose: bool,
}

#[derive(Args)]
pub(crate) struct PreprocessArgs {
    /// Input: .h5ad, 10x .h5, a 10x Matrix Market folder, or a .csv/.tsv table.
    pub(crate) input: PathBuf,
    /// Output .h5ad file.
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) read: ReadArgs,
    #[command(flatten)]
    pub(crate) preprocess: PreprocessFlags,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CountsArg {
    /// Scale the profile to the library size and round each value up or down at random.
    Rescale,
    /// Draw the library size's counts multinomially from the profile.
    Multinomial,
    /// Rescale, with every gene the generator expressed given at least one count (the library size kept).
    Detected,
    /// Round each value's first count at random and draw the counts beyond it (Poisson).
    RoundedPoisson,
}

#[derive(Args)]
pub(crate) struct GenerateArgs {
    /// A run folder written by `scgan train`.
    pub(crate) run: PathBuf,
    /// Number of cells, types in the training proportions.
    #[arg(long, conflicts_with = "cell_type")]
    pub(crate) n: Option<usize>,
    /// NAME=N cells of one type (repeatable; NAME may contain spaces, +, / and =).
    #[arg(long = "cell-type", value_name = "NAME=N")]
    pub(crate) cell_type: Vec<String>,
    /// Output .h5ad file.
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    /// Seed of the latent vectors, library sizes and counts.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Write the normalised values as X and skip count sampling.
    #[arg(long)]
    pub(crate) normalized_only: bool,
    /// How counts are made from a generated profile and a library size drawn from the type's real ones:
    /// `detected` (rescale, every expressed gene at least one count), `rescale` (scale and round at random, with
    /// the run's count noise: see --count-noise),
    /// `multinomial` (sample L counts from the profile) or `rounded-poisson` (first count rounded, the rest
    /// drawn). Default: what the run was trained for (`multinomial` after `--critic-counts sampled`, `rescale`
    /// after `rounded` (the default preset), `rounded-poisson` after `rounded-poisson`, else `detected`).
    #[arg(long, value_enum, conflicts_with = "normalized_only")]
    pub(crate) counts: Option<CountsArg>,
    /// With rescaled counts, the fraction of each expected count drawn as Poisson (0: plain rescaling; 1:
    /// Poisson counts). Default: the run's own, chosen in training on validation cells (0 for older runs).
    #[arg(long, value_name = "FRACTION", conflicts_with = "normalized_only")]
    pub(crate) count_noise: Option<f64>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// Held-out real cells (e.g. the test split).
    #[arg(long)]
    pub(crate) real: PathBuf,
    /// Generated cells.
    #[arg(long)]
    pub(crate) generated: PathBuf,
    /// Other real cells for the real-vs-real control (e.g. the training split).
    #[arg(long)]
    pub(crate) reference: Option<PathBuf>,
    /// obs column with the cell types, for the per-type figures.
    #[arg(long)]
    pub(crate) label_key: Option<String>,
    /// A run folder: its loss curves go into the report.
    #[arg(long)]
    pub(crate) run: Option<PathBuf>,
    /// Folder for index.html, metrics.json and the figures.
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    /// Cells compared per side.
    #[arg(long, default_value_t = 1000)]
    pub(crate) cells: usize,
    /// Trees of the random forest.
    #[arg(long, default_value_t = 1000)]
    pub(crate) trees: usize,
    /// Seed of the sampling, the forest and the pictures.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct AugmentArgs {
    /// Labelled raw counts: the training cells when --test is given, otherwise all cells (split here, or by
    /// their obs['split'] from `scgan preprocess --split`).
    pub(crate) input: PathBuf,
    /// A fixed test split (raw counts, same genes); without it, a stratified test split is held out of the input.
    #[arg(long)]
    pub(crate) test: Option<PathBuf>,
    /// obs column with the cell types.
    #[arg(long)]
    pub(crate) label_key: String,
    /// The rare cell type to study (repeat the flag for several).
    #[arg(long, required = true)]
    pub(crate) rare: Vec<String>,
    /// Fractions of the rare type's training cells kept.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.1,0.05,0.01")]
    pub(crate) fractions: Vec<f64>,
    /// Number of seeds (0, 1, ..): downsampling, components, forests, networks.
    #[arg(long, default_value_t = 3)]
    pub(crate) seeds: u64,
    /// Cells added by upsampling and by augmentation (default: bring the rare type to the median type size).
    #[arg(long)]
    pub(crate) add: Option<usize>,
    /// Trees of every random forest.
    #[arg(long, default_value_t = 500)]
    pub(crate) trees: usize,
    /// Training budget of every cscGAN: generator steps.
    #[arg(long)]
    pub(crate) steps: Option<u64>,
    /// Training budget of every cscGAN: time, e.g. 100s or 2m.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) time: Option<f64>,
    /// Training settings of every cscGAN, as `scgan train --preset`: `default` or `paper`.
    #[arg(long, default_value = "default")]
    pub(crate) preset: String,
    /// The arithmetic of every cscGAN's matrix products, as `scgan train --precision` (default: the preset's).
    #[arg(long, value_enum)]
    pub(crate) precision: Option<PrecisionArg>,
    /// Fraction of the input held out as the test split when --test is not given.
    #[arg(long, default_value_t = 0.2)]
    pub(crate) test_fraction: f64,
    /// Seed of that split.
    #[arg(long, default_value_t = 0)]
    pub(crate) split_seed: u64,
    /// Folder for index.html, results.csv, summary.csv, figures/ and work/ (the training runs).
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    /// Threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Parses durations such as `20m`, `90s`, `1h30m`, `1.5h` or plain seconds into seconds.
pub(crate) fn parse_duration(text: &str) -> Result<f64, String> {
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
pub(crate) struct PreprocessFlags {
    /// obs column with the cell types; without it the cells are clustered (Leiden) into obs['cluster'].
    #[arg(long)]
    pub(crate) label_key: Option<String>,
    /// Remove cells with fewer expressed genes.
    #[arg(long, default_value_t = 10)]
    pub(crate) min_genes: usize,
    /// Remove genes expressed in fewer cells.
    #[arg(long, default_value_t = 3)]
    pub(crate) min_cells: usize,
    /// Library size every cell is normalised to (no log).
    #[arg(long, default_value_t = preprocess::TARGET_SUM)]
    pub(crate) target_sum: f64,
    /// Keep only the N most variable genes (Seurat v3 on counts); default: keep all, as the paper.
    #[arg(long, value_name = "N")]
    pub(crate) hvg: Option<usize>,
    /// Stratified split: validation fraction, optionally followed by a test fraction (e.g. 0.1,0.2).
    #[arg(long, value_name = "VAL[,TEST]")]
    pub(crate) split: Option<String>,
    /// Seed of the split and the clustering (and, for `train`, of initialisation and sampling).
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Leiden resolution when clustering (the paper's Louvain used 0.15).
    #[arg(long, default_value_t = 0.15)]
    pub(crate) resolution: f64,
    /// Do not cluster when there is no --label-key.
    #[arg(long)]
    pub(crate) no_cluster: bool,
    /// Refuse non-integer values instead of warning.
    #[arg(long)]
    pub(crate) require_counts: bool,
}

impl PreprocessFlags {
    pub(crate) fn params(&self) -> anyhow::Result<PreprocessParams> {
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
