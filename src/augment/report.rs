//! What `scgan augment` writes: `results.csv` (one row per rare type, fraction, seed and strategy),
//! `summary.csv` (mean and standard deviation over seeds), `index.html` (tables, verdict and the plot of F1
//! against fraction, embedded) and `figures/f1_<type>.png`. Every file is written atomically.
//!
//! ## The verdict
//! For every fraction at which cells were added, the paired difference `F1(augment) - F1(upsample)` over the
//! seeds (same downsampled cells, same components, same forest seed) gives its mean and standard deviation and
//! the number of seeds on which augmentation was better. Augmentation "beat" upsampling at a fraction when the
//! mean difference is positive; a difference no larger than its standard deviation is called within noise.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use plotters::prelude::*;

use super::{AugmentResults, RunRecord, STRATEGIES};
use crate::error::{Error, Result};
use crate::io::write_atomically;
use crate::report::canvas::{self, draw_legend, render, text, Area, DrawResult, LABEL_SIZE, TICK_SIZE};
use crate::report::html::{escape, STYLE};

/// Mean and sample standard deviation (0 for a single value).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (`n - 1`).
    pub sd: f64,
}

impl Spread {
    /// Of `values`.
    pub fn of(values: &[f64]) -> Spread {
        // of no values: zeros, as this always gave (mean_sd gives NaN)
        let (mean, sd) = if values.is_empty() { (0.0, 0.0) } else { crate::evaluate::stats::mean_sd(values) };
        Spread { mean, sd }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3}", self.mean, self.sd)
    }
}

/// One rare type and fraction, over the seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    /// The rare type.
    pub rare: String,
    /// Fraction kept.
    pub fraction: f64,
    /// Rare cells kept.
    pub n_rare_kept: usize,
    /// Cells added.
    pub n_added: usize,
    /// Seeds.
    pub n_seeds: usize,
    /// Rare-type F1 per strategy.
    pub f1: [Spread; 3],
    /// Rare-type precision per strategy.
    pub precision: [Spread; 3],
    /// Rare-type recall per strategy.
    pub recall: [Spread; 3],
    /// Macro-F1 per strategy.
    pub macro_f1: [Spread; 3],
    /// Paired `F1(augment) - F1(upsample)`.
    pub augment_minus_upsample: Spread,
    /// Paired macro-F1 difference, augment minus upsample.
    pub macro_augment_minus_upsample: Spread,
    /// Seeds on which augmentation's F1 was higher than upsampling's.
    pub augment_wins: usize,
    /// Fewest and most generator steps of the networks (0 when none was trained).
    pub gan_steps: (u64, u64),
}

/// The rows of `results`, grouped by rare type and fraction (in the order they were run).
pub fn summarize(results: &AugmentResults) -> Vec<SummaryRow> {
    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut keys: Vec<(String, f64)> = Vec::new();
    for r in &results.records {
        if !keys.iter().any(|(t, f)| t == &r.rare && *f == r.fraction) {
            keys.push((r.rare.clone(), r.fraction));
        }
    }
    for (rare, fraction) in keys {
        let group: Vec<&RunRecord> =
            results.records.iter().filter(|r| r.rare == rare && r.fraction == fraction).collect();
        let per = |f: fn(&super::Score) -> f64| -> [Spread; 3] {
            std::array::from_fn(|k| Spread::of(&group.iter().map(|r| f(&r.scores[k])).collect::<Vec<f64>>()))
        };
        let diff = |f: fn(&super::Score) -> f64| {
            Spread::of(&group.iter().map(|r| f(&r.scores[2]) - f(&r.scores[1])).collect::<Vec<f64>>())
        };
        rows.push(SummaryRow {
            rare,
            fraction,
            n_rare_kept: group[0].n_rare_kept,
            n_added: group.iter().map(|r| r.n_added).max().unwrap_or(0),
            n_seeds: group.len(),
            f1: per(|s| s.f1),
            precision: per(|s| s.precision),
            recall: per(|s| s.recall),
            macro_f1: per(|s| s.macro_f1),
            augment_minus_upsample: diff(|s| s.f1),
            macro_augment_minus_upsample: diff(|s| s.macro_f1),
            augment_wins: group.iter().filter(|r| r.scores[2].f1 > r.scores[1].f1).count(),
            gan_steps: (
                group.iter().map(|r| r.gan_steps).min().unwrap_or(0),
                group.iter().map(|r| r.gan_steps).max().unwrap_or(0),
            ),
        });
    }
    rows
}

/// The plain-text verdict for `rare`: whether augmentation beat upsampling, by how much, at which fractions.
pub fn verdict(rows: &[SummaryRow], rare: &str) -> String {
    let rows: Vec<&SummaryRow> = rows.iter().filter(|r| r.rare == rare).collect();
    let (added, nothing): (Vec<&SummaryRow>, Vec<&SummaryRow>) = rows.iter().partition(|r| r.n_added > 0);
    let describe = |r: &SummaryRow| {
        let d = r.augment_minus_upsample;
        let noise = if d.mean.abs() <= d.sd { ", within noise" } else { "" };
        format!(
            "{} ({:+.3} F1 ± {:.3}, better on {} of {} seeds{noise}; macro-F1 {:+.3})",
            r.fraction, d.mean, d.sd, r.augment_wins, r.n_seeds, r.macro_augment_minus_upsample.mean
        )
    };
    let mut text = String::new();
    let beat: Vec<String> = added.iter().filter(|r| r.augment_minus_upsample.mean > 0.0).map(|r| describe(r)).collect();
    let lost: Vec<String> =
        added.iter().filter(|r| r.augment_minus_upsample.mean <= 0.0).map(|r| describe(r)).collect();
    if added.is_empty() {
        text += &format!("{rare}: no cells were added at any fraction, so the three strategies coincide.");
    } else {
        let overall = Spread::of(&added.iter().map(|r| r.augment_minus_upsample.mean).collect::<Vec<f64>>());
        if lost.is_empty() {
            let _ = write!(
                text,
                "{rare}: augmentation beat upsampling at every fraction with added cells: {}.",
                beat.join("; ")
            );
        } else if beat.is_empty() {
            let _ = write!(text, "{rare}: augmentation did not beat upsampling at any fraction: {}.", lost.join("; "));
        } else {
            let _ = write!(
                text,
                "{rare}: augmentation beat upsampling at fraction {}; it did not at {}.",
                beat.join("; "),
                lost.join("; ")
            );
        }
        let _ = write!(text, " Mean F1 difference over these fractions: {:+.3}.", overall.mean);
    }
    if !nothing.is_empty() {
        let fractions: Vec<String> = nothing.iter().map(|r| r.fraction.to_string()).collect();
        let _ = write!(
            text,
            " At fraction {} nothing was added (the kept cells already reach the target), so all three strategies are \
             the same classifier.",
            fractions.join(", ")
        );
    }
    text
}

/// `results.csv`: one line per rare type, fraction, seed and strategy.
pub fn results_csv(results: &AugmentResults) -> String {
    let mut csv = String::from(
        "rare_type,fraction,seed,strategy,n_rare_train,n_rare_kept,n_added,precision,recall,f1,macro_f1,gan_steps,\
         gan_seconds,run_seconds\n",
    );
    for r in &results.records {
        for (k, strategy) in STRATEGIES.iter().enumerate() {
            let s = &r.scores[k];
            let added = if k == 0 { 0 } else { r.n_added };
            let (steps, seconds) = if k == 2 { (r.gan_steps, r.gan_seconds) } else { (0, 0.0) };
            let _ = writeln!(
                csv,
                "{},{},{},{strategy},{},{},{added},{:.6},{:.6},{:.6},{:.6},{steps},{seconds:.1},{:.1}",
                csv_field(&r.rare),
                r.fraction,
                r.seed,
                r.n_rare_train,
                r.n_rare_kept,
                s.precision,
                s.recall,
                s.f1,
                s.macro_f1,
                r.seconds
            );
        }
    }
    csv
}

/// `summary.csv`: mean and standard deviation over seeds, per rare type, fraction and strategy.
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut csv = String::from(
        "rare_type,fraction,strategy,n_rare_kept,n_added,n_seeds,f1_mean,f1_sd,precision_mean,precision_sd,\
         recall_mean,recall_sd,macro_f1_mean,macro_f1_sd\n",
    );
    for r in rows {
        for (k, strategy) in STRATEGIES.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{},{},{strategy},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                csv_field(&r.rare),
                r.fraction,
                r.n_rare_kept,
                if k == 0 { 0 } else { r.n_added },
                r.n_seeds,
                r.f1[k].mean,
                r.f1[k].sd,
                r.precision[k].mean,
                r.precision[k].sd,
                r.recall[k].mean,
                r.recall[k].sd,
                r.macro_f1[k].mean,
                r.macro_f1[k].sd
            );
        }
    }
    csv
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `results.csv`, `summary.csv`, `figures/f1_<type>.png` and `index.html` into `out`; `inputs`
/// describes the data (shown on the page). Returns the page's path.
pub fn write(out: &Path, results: &AugmentResults, inputs: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out.join("figures")).map_err(|e| Error::io(out, e))?;
    let save = |name: &str, bytes: &[u8]| write_atomically(&out.join(name), |f| std::io::Write::write_all(f, bytes));
    save("results.csv", results_csv(results).as_bytes())?;
    let rows = summarize(results);
    save("summary.csv", summary_csv(&rows).as_bytes())?;
    let mut rares: Vec<&str> = Vec::new();
    for r in &results.records {
        if !rares.contains(&r.rare.as_str()) {
            rares.push(&r.rare);
        }
    }
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>scgan augment</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>Does augmenting a rare cell type with cscGAN cells help \
         a classifier?</h1>\n<p class=\"subtitle\">{}</p>\n",
        escape(inputs)
    );
    html += "<p>The training cells of the rare type are downsampled to each fraction (seeded); a random forest on 50 \
             principal components of the log-normalised downsampled training cells is trained three ways \
             &mdash; <b>none</b>: as they are; <b>upsample</b>: plus repetitions of the kept rare cells; \
             <b>augment</b>: plus cells of the rare type generated by a cscGAN trained on the downsampled training \
             cells only &mdash; and scored on the untouched test split. Values are mean &plusmn; standard \
             deviation over seeds; the difference augment &minus; upsample is paired by seed.</p>\n";
    for rare in &rares {
        let group: Vec<&SummaryRow> = rows.iter().filter(|r| r.rare == *rare).collect();
        let _ = write!(html, "<h2>{}</h2>\n<p class=\"note\">{}</p>\n", escape(rare), escape(&verdict(&rows, rare)));
        html += "<table class=\"metrics\"><tr><th>fraction</th><th>rare cells kept</th><th>added</th>\
                 <th>F1 none</th><th>F1 upsample</th><th>F1 augment</th><th>augment &minus; upsample</th>\
                 <th>macro-F1 none</th><th>macro-F1 upsample</th><th>macro-F1 augment</th><th>cscGAN steps</th></tr>\n";
        for r in &group {
            let _ = write!(
                html,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
                r.fraction, r.n_rare_kept, r.n_added
            );
            for s in r.f1.iter().chain([&r.augment_minus_upsample]).chain(&r.macro_f1) {
                let _ = write!(html, "<td class=\"num\">{s}</td>");
            }
            let _ = writeln!(html, "<td class=\"num\">{}&ndash;{}</td></tr>", r.gan_steps.0, r.gan_steps.1);
        }
        html += "</table>\n<p>The cscGAN paper trains for hundreds of thousands of steps; a network of a few hundred \
                 steps has barely begun to learn the rare type, so judge the augment column by its steps.</p>\n<table class=\"metrics\"><tr><th>fraction</th><th>precision none</th>\
                 <th>precision upsample</th><th>precision augment</th><th>recall none</th><th>recall upsample</th>\
                 <th>recall augment</th></tr>\n";
        for r in &group {
            let _ = write!(html, "<tr><td class=\"num\">{}</td>", r.fraction);
            for s in r.precision.iter().chain(&r.recall) {
                let _ = write!(html, "<td class=\"num\">{s}</td>");
            }
            html += "</tr>\n";
        }
        html += "</table>\n";
        let name = format!("f1_{}.png", super::slug(rare));
        let png = plot(rare, &group, &name)?;
        save(&format!("figures/{name}"), &png)?;
        let data = base64::engine::general_purpose::STANDARD.encode(&png);
        let _ = writeln!(
            html,
            "<figure class=\"wide\"><img src=\"data:image/png;base64,{data}\" alt=\"F1 against fraction\">\
             <figcaption><b>F1 of {} and macro-F1 against the fraction of its training cells kept.</b> Points: \
             mean over seeds; bars: &plusmn; one standard deviation. <span class=\"file\">(figures/{name})</span>\
             </figcaption></figure>",
            escape(rare)
        );
    }
    let types: Vec<String> = results.train_types.iter().map(|(t, n)| format!("{t} ({n})")).collect();
    let _ = write!(
        html,
        "<h2>Settings</h2>\n<p>Training cells per type: {}. Test cells scored: {} ({} left out: type not in the \
         training data). Genes: {}. The whole experiment took {:.0} s.</p>\n<pre>{}</pre>\n\
         <p>Per-run numbers: <code>results.csv</code>; means and deviations: <code>summary.csv</code>.</p>\n\
         <footer>scgan {}</footer>\n</main>\n</body>\n</html>\n",
        escape(&types.join(", ")),
        results.n_test,
        results.n_test_excluded,
        results.n_genes,
        results.seconds,
        escape(&serde_json::to_string_pretty(&results.settings).unwrap_or_default()),
        crate::VERSION
    );
    let index = out.join("index.html");
    save("index.html", html.as_bytes())?;
    Ok(index)
}

/// A fraction with two significant digits: 0.32, 0.056, 0.01.
fn fraction_tick(x: f64) -> String {
    let digits = (1 - x.log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Colours of the strategies: grey, blue, orange.
const COLOURS: [RGBColor; 3] = [RGBColor(110, 110, 110), canvas::REAL, canvas::GENERATED];

/// Two panels, rare-type F1 and macro-F1 against the fraction (log axis), one line per strategy.
fn plot(rare: &str, rows: &[&SummaryRow], name: &str) -> Result<Vec<u8>> {
    canvas::register_fonts()?;
    render(name, 1600, 700, |root| {
        let (body, legend) = root.split_vertically(620);
        let panels = body.split_evenly((1, 2));
        let f1: Vec<[Spread; 3]> = rows.iter().map(|r| r.f1).collect();
        let macro_f1: Vec<[Spread; 3]> = rows.iter().map(|r| r.macro_f1).collect();
        let fractions: Vec<f64> = rows.iter().map(|r| r.fraction).collect();
        panel(&panels[0], &format!("F1 of {rare}"), "F1", &fractions, &f1)?;
        panel(&panels[1], "Macro-F1 over all types", "macro-F1", &fractions, &macro_f1)?;
        let entries: Vec<(String, RGBColor)> =
            STRATEGIES.iter().zip(COLOURS).map(|(s, c)| (s.to_string(), c)).collect();
        draw_legend(&legend, &entries, 3)
    })
}

fn panel(area: &Area, title: &str, y_desc: &str, fractions: &[f64], values: &[[Spread; 3]]) -> DrawResult {
    let area = area.margin(10, 10, 10, 20);
    let body = canvas::titled(&area, title)?;
    let logs: Vec<f64> = fractions.iter().map(|f| f.log10()).collect();
    let (lo, hi) = logs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.08).max(0.1);
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .margin_top(0)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..1.05)?;
    chart
        .configure_mesh()
        .max_light_lines(0)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("fraction of the rare type's training cells kept (log scale)")
        .y_desc(y_desc)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| fraction_tick(10f64.powf(*v)))
        .y_label_formatter(&|v| canvas::tick(*v))
        .axis_desc_style(text(LABEL_SIZE))
        .label_style(text(TICK_SIZE))
        .draw()?;
    // Strategies side by side around each fraction, so that equal values do not hide one another.
    for (k, colour) in COLOURS.iter().enumerate() {
        let shift = (k as f64 - 1.0) * 0.012 * (hi - lo + 2.0 * pad);
        let mut points: Vec<(f64, Spread)> = logs.iter().zip(values).map(|(&x, v)| (x + shift, v[k])).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart.draw_series(LineSeries::new(points.iter().map(|(x, s)| (*x, s.mean)), colour.stroke_width(3)))?;
        for (x, s) in &points {
            let (low, high) = ((s.mean - s.sd).max(0.0), (s.mean + s.sd).min(1.05));
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(*x, low), (*x, high)], colour.stroke_width(2))))?;
            chart.draw_series(std::iter::once(Circle::new((*x, s.mean), 6, colour.filled())))?;
        }
    }
    Ok(())
}
