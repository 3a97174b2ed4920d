//! The t-SNE pictures: one map of real, generated and reference cells together.
//!
//! ## How the map is made
//! 1. Up to [`MAX_CELLS`] cells of every data set are sampled (seeded, without replacement).
//! 2. Their log-normalised values are projected on [`N_PCS`] principal components fitted on the real cells
//!    (all of them, or a seeded sample of [`PCA_FIT_CELLS`]); the exact covariance solver is used for up to
//!    4,000 genes, the randomized one beyond.
//! 3. All sampled cells are embedded together by Barnes-Hut t-SNE (`bhtsne`, theta 0.5, perplexity
//!    [`PERPLEXITY`], 1,000 iterations), started from the first two components scaled to a standard deviation
//!    of 1e-4 (scikit-learn's `init="pca"`), so that the map is reproducible and its global layout follows
//!    the main axes of variation.
//!
//! One joint embedding gives every panel the same coordinates: the control panel (real vs reference) can be
//! compared with the generated one point for point. The optimisation runs on one thread of its own, so that
//! the same data and seed give the same map on every run and machine.
//!
//! ## How to read it
//! Points are drawn in a random order, so that no side hides the other. Generated cells that are realistic
//! mix with the real cells in every cluster, in the same proportions as the control panel; a cluster of
//! only generated cells is something the generator invented, a real cluster without generated cells is
//! something it missed (mode collapse).

use faer::Mat;
use plotters::prelude::*;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::canvas::{self, draw_legend, render, text, Area, DrawResult, LABEL_SIZE, TICK_SIZE};
use super::prepare::{Prepared, Role};
use super::{Figure, Section};
use crate::error::{Error, Result};
use crate::pca::{Pca, PcaParams, PcaSolver};

/// Cells drawn from each data set.
pub(crate) const MAX_CELLS: usize = 1000;
/// Principal components the t-SNE starts from.
pub(crate) const N_PCS: usize = 50;
/// t-SNE perplexity (lowered for tiny data sets, which cannot support it).
pub(crate) const PERPLEXITY: usize = 30;
/// Real cells the principal components are fitted on, at most.
pub(crate) const PCA_FIT_CELLS: usize = 5000;
/// Above this many genes the randomized PCA is used.
const EXACT_PCA_MAX_GENES: usize = 4000;
/// Fewest cells in total for a t-SNE.
const MIN_CELLS: usize = 12;

/// The embedded cells of one data set.
struct Embedded {
    role: Role,
    /// Rows of the side's matrices that were sampled.
    cells: Vec<usize>,
    /// Their 2-D coordinates.
    points: Vec<(f64, f64)>,
}

/// The t-SNE section: the map coloured by origin, its control, and coloured by cell type.
pub(crate) fn section(data: &Prepared, seed: u64) -> Result<Section> {
    let mut section = Section {
        id: "tsne",
        title: "t-SNE map".to_string(),
        intro: format!(
            "Up to {} cells of each data set, log-normalised (20,000 counts per cell, then log1p), \
             projected on {N_PCS} principal components fitted on the real cells and embedded together by \
             t-SNE (perplexity {PERPLEXITY}). All panels share one embedding. Realistic generated cells mix \
             with the real cells in every cluster, as the reference cells do in the control panel; clusters of \
             one colour only are cells without a counterpart on the other side.",
            thousands(MAX_CELLS)
        ),
        figures: Vec::new(),
        notes: Vec::new(),
    };
    let Some(embedded) = embed(data, seed, &mut section.notes)? else {
        return Ok(section);
    };
    let bounds = bounds(embedded.iter().flat_map(|e| e.points.iter().copied()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);

    let pairs: &[(Role, &str, &str)] = &[
        (Role::Generated, "tsne_origin.png", "Real vs generated"),
        (Role::Reference, "tsne_control.png", "Control: real vs reference"),
    ];
    for &(other, file_name, title) in pairs {
        let Some(other_cells) = embedded.iter().find(|e| e.role == other) else {
            continue;
        };
        let sides = [&embedded[0], other_cells];
        let mut points: Vec<(f64, f64, RGBColor)> =
            sides.iter().flat_map(|e| e.points.iter().map(move |&(x, y)| (x, y, e.role.colour()))).collect();
        shuffle(&mut points, &mut rng);
        let legend: Vec<(String, RGBColor)> =
            sides.iter().map(|e| (format!("{} ({} cells)", e.role.name(), e.cells.len()), e.role.colour())).collect();
        let png = render(file_name, 900, 820, |root| {
            let (top, bottom) = root.split_vertically(760);
            scatter(&top, title, &points, bounds)?;
            draw_legend(&bottom, &legend, 2)
        })?;
        let caption = if other == Role::Generated {
            "Generated cells should cover the same clusters as the real cells, in the same proportions."
        } else {
            "The floor: two sets of real cells. Compare the mixing here with the panel before."
        };
        section.figures.push(Figure {
            file_name: file_name.to_string(),
            title: title.to_string(),
            caption: caption.to_string(),
            png,
            wide: false,
        });
    }
    if data.label_key.is_some() {
        section.figures.push(types_figure(data, &embedded, bounds, &mut rng)?);
    }
    Ok(section)
}

/// Samples, projects and embeds the cells; `None` (with a note) when there are too few.
fn embed(data: &Prepared, seed: u64, notes: &mut Vec<String>) -> Result<Option<Vec<Embedded>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let real = data.real();
    let total: usize = data.sides.iter().map(|s| s.n_cells().min(MAX_CELLS)).sum();
    if total < MIN_CELLS || real.n_cells() < 3 || data.genes.len() < 3 {
        notes.push(format!(
            "No t-SNE: it needs at least {MIN_CELLS} cells in all, 3 real cells and 3 shared genes \
             (there are {total} cells, {} real, {} genes).",
            real.n_cells(),
            data.genes.len()
        ));
        return Ok(None);
    }
    let mut fit_rows = sample(&mut rng, real.n_cells(), real.n_cells().min(PCA_FIT_CELLS)).into_vec();
    fit_rows.sort_unstable();
    let params = PcaParams {
        n_components: N_PCS,
        seed,
        solver: if data.genes.len() <= EXACT_PCA_MAX_GENES { PcaSolver::Covariance } else { PcaSolver::Randomized },
        ..PcaParams::default()
    };
    let pca = Pca::fit(&real.lognorm.select_rows(&fit_rows), &params)?;
    let k = pca.n_components();

    let mut embedded = Vec::new();
    let mut rows: Vec<f32> = Vec::with_capacity(total * k);
    let mut init: Vec<f32> = Vec::with_capacity(total * 2);
    for side in &data.sides {
        let mut cells = sample(&mut rng, side.n_cells(), side.n_cells().min(MAX_CELLS)).into_vec();
        cells.sort_unstable();
        let scores: Mat<f64> = pca.transform(&side.lognorm.select_rows(&cells));
        for i in 0..cells.len() {
            rows.extend((0..k).map(|c| scores[(i, c)] as f32));
            init.push(scores[(i, 0)] as f32);
            init.push(if k > 1 { scores[(i, 1)] as f32 } else { 0.0 });
        }
        embedded.push(Embedded { role: side.role, cells, points: Vec::new() });
    }
    // scikit-learn's PCA initialisation: the first two components, scaled to sd 1e-4 along the first.
    let n = init.len() / 2;
    let mean0 = init.iter().step_by(2).map(|&v| v as f64).sum::<f64>() / n as f64;
    let sd0 = (init.iter().step_by(2).map(|&v| (v as f64 - mean0).powi(2)).sum::<f64>() / n as f64).sqrt();
    let factor = if sd0 > 0.0 { (1e-4 / sd0) as f32 } else { 1.0 };
    init.iter_mut().for_each(|v| *v *= factor);
    if sd0 == 0.0 {
        // Degenerate data: spread the start a little, deterministically, so that t-SNE can move.
        init.iter_mut().enumerate().for_each(|(i, v)| *v = ((i * 7919 % 1000) as f32 - 500.0) * 1e-7);
    }

    let samples: Vec<&[f32]> = rows.chunks(k.max(1)).collect();
    let perplexity = PERPLEXITY.min((n - 1) / 3 - 1).max(2) as f32;
    // bhtsne's multi-threaded gradient sums in a varying order, so the map would change from run to run; one
    // thread of its own makes it reproducible (the other figures are drawn meanwhile on the global pool).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::invalid_data("report", "t-SNE", format!("cannot start its thread: {e}")))?;
    let coordinates = pool.install(|| {
        let mut tsne = bhtsne::tSNE::<f32, &[f32]>::new(&samples);
        tsne.perplexity(perplexity)
            .epochs(1000)
            .initial_embedding(init)
            .barnes_hut(0.5, |a, b| a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt());
        tsne.embedding()
    });
    let mut offset = 0;
    for e in &mut embedded {
        e.points = (0..e.cells.len())
            .map(|i| (coordinates[2 * (offset + i)] as f64, coordinates[2 * (offset + i) + 1] as f64))
            .collect();
        offset += e.cells.len();
    }
    if (perplexity as usize) < PERPLEXITY {
        notes.push(format!("Few cells: the t-SNE perplexity was lowered from {PERPLEXITY} to {perplexity}."));
    }
    Ok(Some(embedded))
}

/// The real and the generated cells, each panel coloured by cell type.
fn types_figure(data: &Prepared, embedded: &[Embedded], bounds: Bounds, rng: &mut ChaCha8Rng) -> Result<Figure> {
    let types = data.types_by_size();
    let n_named = if types.len() > canvas::N_TYPE_COLOURS { canvas::N_TYPE_COLOURS - 1 } else { types.len() };
    let colour_of = |label: Option<&String>| -> RGBColor {
        match label {
            None => canvas::UNLABELLED,
            Some(l) => match types.iter().position(|(t, _)| t == l) {
                Some(k) if k < n_named => canvas::type_colour(k),
                _ => canvas::type_colour(canvas::N_TYPE_COLOURS - 1),
            },
        }
    };
    let mut legend: Vec<(String, RGBColor)> =
        types.iter().take(n_named).enumerate().map(|(k, (t, _))| (t.clone(), canvas::type_colour(k))).collect();
    if types.len() > n_named {
        legend.push(("other types".to_string(), canvas::type_colour(canvas::N_TYPE_COLOURS - 1)));
    }
    let panels: Vec<(String, Points)> = embedded
        .iter()
        .filter(|e| e.role != Role::Reference)
        .map(|e| {
            let labels = data.side(e.role).and_then(|s| s.labels.as_ref());
            let mut points: Points = e
                .cells
                .iter()
                .zip(&e.points)
                .map(|(&cell, &(x, y))| (x, y, colour_of(labels.and_then(|l| l[cell].as_ref()))))
                .collect();
            shuffle(&mut points, rng);
            (format!("{} cells by type", capitalise(e.role.name())), points)
        })
        .collect();
    if panels
        .iter()
        .any(|(title, points)| title.starts_with("Generated") && points.iter().all(|p| p.2 == canvas::UNLABELLED))
    {
        legend.push(("no label".to_string(), canvas::UNLABELLED));
    }
    let columns = 3;
    let legend_rows = legend.len().div_ceil(columns) as u32;
    let legend_height = legend_rows * (LABEL_SIZE + 12) + 30;
    let png = render("tsne_types.png", 1600, 760 + legend_height, |root| {
        let (top, bottom) = root.split_vertically(760);
        let areas = top.split_evenly((1, panels.len().max(1)));
        for ((title, points), area) in panels.iter().zip(&areas) {
            scatter(area, title, points, bounds)?;
        }
        draw_legend(&bottom, &legend, columns)
    })?;
    Ok(Figure {
        file_name: "tsne_types.png".to_string(),
        title: "Cell types".to_string(),
        caption: format!(
            "The same map, real and generated cells in separate panels, coloured by obs['{}']. Generated cells \
             of a type should fall where the real cells of that type are.",
            data.label_key.as_deref().unwrap_or("")
        ),
        png,
        wide: true,
    })
}

/// Points of a panel: coordinates and colour.
type Points = Vec<(f64, f64, RGBColor)>;

/// `(x_min, x_max, y_min, y_max)` of the map, with a margin.
type Bounds = (f64, f64, f64, f64);

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> Bounds {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let spread = x0 < x1 && y0 < y1;
    if !spread {
        return (-1.0, 1.0, -1.0, 1.0);
    }
    let (mx, my) = ((x1 - x0) * 0.04, (y1 - y0) * 0.04);
    (x0 - mx, x1 + mx, y0 - my, y1 + my)
}

/// One t-SNE panel: coloured points, axis names, no tick numbers (t-SNE coordinates have no units).
fn scatter(area: &Area, title: &str, points: &[(f64, f64, RGBColor)], (x0, x1, y0, y1): Bounds) -> DrawResult {
    let body = canvas::titled(area, title)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(15)
        .margin_top(0)
        .x_label_area_size(40)
        .y_label_area_size(40)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc("t-SNE 1")
        .y_desc("t-SNE 2")
        .axis_desc_style(text(LABEL_SIZE))
        .label_style(text(TICK_SIZE))
        .draw()?;
    let radius = if points.len() > 2500 { 2 } else { 3 };
    chart.draw_series(points.iter().map(|&(x, y, c)| Circle::new((x, y), radius, c.mix(0.75).filled())))?;
    Ok(())
}

fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    use rand::RngExt;
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// `1000` -> `1,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
