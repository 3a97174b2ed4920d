//! Histograms of per-cell statistics, and the training curves of a run.
//!
//! ## Cell statistics
//! `library_size.png` and `genes_detected.png` overlay, for every data set, the distribution of the total
//! counts per cell and of the number of genes detected (non-zero) per cell, over the shared genes. Bins are
//! common to all sides (40 bins from 0 to the 99.5th percentile of all values pooled; the rare larger values
//! are left out) and heights are fractions of each side's cells, so sides of different sizes compare. These
//! are the distributions whose Kolmogorov-Smirnov statistics the evaluation reports (`ks_library_size`,
//! `ks_genes_per_cell`); they matter for generators that output counts.
//!
//! ## Training
//! `training.png` draws the run's `log.jsonl` ([`crate::train::LogEntry`]) over the generator steps: the
//! critic loss, the Wasserstein estimate (mean critic score of real minus generated cells: it shrinks as
//! the generator improves), the generator loss, the validation kNN AUROC (lower is better; the saved model is
//! chosen by it), the validation MMD² and the learning rate. Raw values are drawn light and a running mean dark;
//! y axes span the 1st-99th percentiles, so that the first steps' transients do not flatten the rest.

use std::path::Path;

use plotters::prelude::*;
use serde_json::Value;

use super::canvas::{self, draw_legend, render, text, Area, DrawResult, LABEL_SIZE, TICK_SIZE};
use super::prepare::{Prepared, Role};
use super::violin::quantile;
use super::{Figure, Section};
use crate::error::{Error, Result};
use crate::train::LogEntry;

/// Histogram bins.
const BINS: usize = 40;

/// The cell-statistics section: library size and genes detected, every side overlaid.
pub(crate) fn cell_statistics_section(data: &Prepared, metrics: &Value) -> Result<Section> {
    let library: Vec<(Role, Vec<f64>)> = data.sides.iter().map(|s| (s.role, s.counts.row_sums())).collect();
    let genes: Vec<(Role, Vec<f64>)> = data
        .sides
        .iter()
        .map(|s| (s.role, s.counts.row_positive_counts().into_iter().map(f64::from).collect()))
        .collect();
    let figures = vec![
        histogram(
            "library_size.png",
            "Library size",
            "total counts per cell",
            &library,
            ks_caption(metrics, "ks_library_size"),
        )?,
        histogram(
            "genes_detected.png",
            "Genes detected per cell",
            "genes with non-zero counts",
            &genes,
            ks_caption(metrics, "ks_genes_per_cell"),
        )?,
    ];
    Ok(Section {
        id: "cells",
        title: "Cell statistics".to_string(),
        intro: format!(
            "Distributions of the total counts per cell and of the number of genes detected per cell, over the \
             {} shared genes, every data set overlaid (common bins; heights are fractions of each set's cells; \
             the x axis ends at the 99.5th percentile). Meaningful for generators that output counts.",
            data.genes.len()
        ),
        figures,
        notes: Vec::new(),
    })
}

/// "KS statistic: generated 0.12, control 0.03." from the metrics, when they have it.
fn ks_caption(metrics: &Value, key: &str) -> String {
    let get = |side: &str| metrics.get(side).and_then(|s| s.get(key)).and_then(Value::as_f64);
    let mut parts = Vec::new();
    if let Some(g) = get("generated") {
        parts.push(format!("generated {g:.3}"));
    }
    if let Some(c) = get("control") {
        parts.push(format!("control {c:.3}"));
    }
    if parts.is_empty() {
        "Overlapping histograms mean matching distributions.".to_string()
    } else {
        format!("Kolmogorov-Smirnov statistic ({key}, 0 is ideal): {}.", parts.join(", "))
    }
}

fn histogram(
    file_name: &str,
    title: &str,
    x_desc: &str,
    series: &[(Role, Vec<f64>)],
    caption: String,
) -> Result<Figure> {
    let mut pooled: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite()).collect();
    pooled.sort_by(f64::total_cmp);
    let upper = if pooled.is_empty() { 1.0 } else { quantile(&pooled, 0.995).max(1.0) };
    let width = upper / BINS as f64;
    let fractions: Vec<(Role, Vec<f64>)> = series
        .iter()
        .map(|(role, values)| {
            let mut counts = vec![0f64; BINS];
            for &v in values.iter().filter(|v| v.is_finite() && **v >= 0.0 && **v <= upper) {
                counts[((v / width) as usize).min(BINS - 1)] += 1.0;
            }
            let n = values.len().max(1) as f64;
            (*role, counts.into_iter().map(|c| c / n).collect())
        })
        .collect();
    let y_max = fractions.iter().flat_map(|(_, f)| f.iter().copied()).fold(0.0f64, f64::max).max(1e-3) * 1.1;
    let legend: Vec<(String, RGBColor)> =
        series.iter().map(|(r, v)| (format!("{} ({} cells)", r.name(), v.len()), r.colour())).collect();
    let png = render(file_name, 900, 700, |root| {
        let (top, bottom) = root.split_vertically(640);
        let body = canvas::titled(&top, title)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(15)
            .margin_top(0)
            .margin_right(30)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..upper, 0f64..y_max)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(BLACK.mix(0.12))
            .x_desc(x_desc)
            .y_desc("fraction of cells")
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|v| canvas::tick(*v))
            .y_label_formatter(&|v| canvas::tick(*v))
            .axis_desc_style(text(LABEL_SIZE))
            .label_style(text(TICK_SIZE))
            .draw()?;
        // Real cells filled, the reference dashed, generated cells last (on top): equal heights stay readable.
        let order = [Role::Real, Role::Reference, Role::Generated];
        for role in order {
            let Some((_, f)) = fractions.iter().find(|(r, _)| *r == role) else { continue };
            let mut outline = vec![(0.0, 0.0)];
            for (b, &h) in f.iter().enumerate() {
                outline.push((b as f64 * width, h));
                outline.push(((b + 1) as f64 * width, h));
            }
            outline.push((upper, 0.0));
            let colour = role.colour();
            match role {
                Role::Real => {
                    chart.draw_series(std::iter::once(Polygon::new(outline.clone(), colour.mix(0.2).filled())))?;
                    chart.draw_series(std::iter::once(PathElement::new(outline, colour.stroke_width(3))))?;
                }
                Role::Reference => {
                    chart.draw_series(DashedLineSeries::new(outline, 10, 6, colour.stroke_width(3)))?;
                }
                Role::Generated => {
                    chart.draw_series(std::iter::once(PathElement::new(outline, colour.stroke_width(3))))?;
                }
            }
        }
        draw_legend(&bottom, &legend, legend.len())
    })?;
    Ok(Figure { file_name: file_name.to_string(), title: title.to_string(), caption, png, wide: false })
}

/// The training section from `run/log.jsonl`; a note instead of a figure when the log is missing or empty.
pub(crate) fn training_section(run: &Path) -> Result<Section> {
    let mut section = Section {
        id: "training",
        title: "Training".to_string(),
        intro: "The run's log.jsonl over the generator steps: critic loss, Wasserstein estimate (mean critic \
                score of real minus generated cells; it shrinks as the generator improves), generator loss, the \
                validation kNN AUROC of held-out vs generated cells (0.5: indistinguishable; the saved model is the \
                latest within one standard error of its lowest), the validation MMD² (lower is better) and the \
                learning rate. Light: every logged step; dark: running mean. The y axes span the 1st-99th \
                percentiles."
            .to_string(),
        figures: Vec::new(),
        notes: Vec::new(),
    };
    let path = run.join("log.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            section.notes.push(format!("No training curves: {} does not exist.", path.display()));
            return Ok(section);
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut entries: Vec<LogEntry> = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<LogEntry>(line) {
            Ok(entry) => entries.push(entry),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        let lines = if unreadable == 1 { "line" } else { "lines" };
        section.notes.push(format!("{unreadable} {lines} of {} could not be read and were skipped.", path.display()));
    }
    // A resumed run may log a step twice: keep the last line of every step.
    entries.reverse();
    entries.sort_by_key(|e| e.step);
    entries.dedup_by_key(|e| e.step);
    if entries.is_empty() {
        section.notes.push(format!("No training curves: {} has no entries.", path.display()));
        return Ok(section);
    }
    let series = |f: fn(&LogEntry) -> Option<f64>| -> Vec<(f64, f64)> {
        entries.iter().filter_map(|e| f(e).filter(|v| v.is_finite()).map(|v| (e.step as f64, v))).collect()
    };
    let panels: [CurvePanel; 6] = [
        ("Critic loss", "critic loss", RGBColor(90, 90, 90), series(|e| Some(e.critic_loss as f64))),
        (
            "Wasserstein estimate",
            "D(real) - D(generated)",
            RGBColor(120, 60, 160),
            series(|e| Some(e.wasserstein as f64)),
        ),
        ("Generator loss", "generator loss", canvas::GENERATED, series(|e| Some(e.generator_loss as f64))),
        ("Validation kNN AUROC", "kNN AUROC, held-out vs generated", canvas::REAL, series(|e| e.validation_knn_auroc)),
        ("Validation MMD", "MMD² on held-out cells", canvas::REAL, series(|e| e.validation_mmd)),
        ("Learning rate", "learning rate", RGBColor(40, 120, 120), series(|e| Some(e.learning_rate as f64))),
    ];
    // every panel spans the logged steps, so that a validation figure computed once or twice sits where it was
    // computed instead of on an axis of its own
    let steps = (entries[0].step as f64, entries[entries.len() - 1].step as f64);
    let png = render("training.png", 2100, 1000, |root| {
        for ((title, y_desc, colour, points), area) in panels.iter().zip(root.split_evenly((2, 3))) {
            curve_panel(&area, title, y_desc, *colour, points, steps, title.starts_with("Validation"))?;
        }
        Ok(())
    })?;
    let last = entries.last().map_or(0, |e| e.step);
    section.figures.push(Figure {
        file_name: "training.png".to_string(),
        title: "Losses and validation figures".to_string(),
        caption: format!("{} logged steps, up to step {last}.", entries.len()),
        png,
        wide: true,
    });
    Ok(section)
}

/// A training panel: title, y axis name, colour, `(step, value)` points.
type CurvePanel<'a> = (&'a str, &'a str, RGBColor, Vec<(f64, f64)>);

/// One training curve over the steps `steps` (first, last): light raw values, a dark running mean, robust y range.
fn curve_panel(
    area: &Area,
    title: &str,
    y_desc: &str,
    colour: RGBColor,
    points: &[(f64, f64)],
    steps: (f64, f64),
    markers: bool,
) -> DrawResult {
    let area = area.margin(10, 10, 10, 20);
    if points.is_empty() {
        let style = text(LABEL_SIZE);
        area.draw(&Text::new(format!("{title}: not in the log"), (40, 200), style))?;
        return Ok(());
    }
    let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
    values.sort_by(f64::total_cmp);
    let (mut low, mut high) = if values.len() >= 20 {
        (quantile(&values, 0.01), quantile(&values, 0.99))
    } else {
        (values[0], values[values.len() - 1])
    };
    if high <= low {
        // one value (a validation figure computed once): a range a tenth of it either side, not a unit (an AUROC
        // of 0.78 drawn between -0.2 and 1.8)
        let half = if low != 0.0 { low.abs() * 0.1 } else { 1.0 };
        (low, high) = (low - half, high + half);
    }
    let pad = (high - low) * 0.08;
    let x0 = steps.0.min(points[0].0);
    let x1 = steps.1.max(points[points.len() - 1].0);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let body = canvas::titled(&area, title)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .margin_top(0)
        .x_label_area_size(55)
        .y_label_area_size(120)
        .build_cartesian_2d(x0..x1, (low - pad)..(high + pad))?;
    chart
        .configure_mesh()
        .max_light_lines(0)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("step")
        .y_desc(y_desc)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| canvas::tick(*v))
        .y_label_formatter(&|v| canvas::tick_within(*v, high - low + 2.0 * pad))
        .axis_desc_style(text(LABEL_SIZE))
        .label_style(text(TICK_SIZE))
        .draw()?;
    let clamp = |(x, y): (f64, f64)| (x, y.clamp(low - pad, high + pad));
    let smooth = points.len() > 50;
    let raw_style = if smooth { colour.mix(0.3).stroke_width(1) } else { colour.stroke_width(3) };
    chart.draw_series(LineSeries::new(points.iter().copied().map(clamp), raw_style))?;
    if (markers && points.len() <= 80) || points.len() <= 50 {
        chart.draw_series(points.iter().copied().map(clamp).map(|p| Circle::new(p, 4, colour.filled())))?;
    }
    if smooth {
        // Centred running mean over about 2% of the points (a trailing mean would lag behind the curve).
        let half = (points.len() / 100).max(1);
        let mut prefix = vec![0.0];
        for &(_, y) in points {
            prefix.push(prefix[prefix.len() - 1] + y);
        }
        let running: Vec<(f64, f64)> = (0..points.len())
            .map(|i| {
                let (a, b) = (i.saturating_sub(half), (i + half + 1).min(points.len()));
                (points[i].0, (prefix[b] - prefix[a]) / (b - a) as f64)
            })
            .collect();
        chart.draw_series(LineSeries::new(running.into_iter().map(clamp), colour.stroke_width(3)))?;
    }
    Ok(())
}
