//! Violin plots of marker genes: does the generator reproduce what makes each cell type recognisable?
//!
//! ## Markers
//! For each of the [`MAX_TYPES`] largest cell types of the real data (with at least [`MIN_TYPE_CELLS`]
//! cells), the marker is the gene with the highest mean log-expression among the real cells of that type
//! minus its mean among the other real cells (NKG7 for NK cells in PBMCs, CD79A for B cells). A gene already
//! chosen for a larger type is skipped, so every panel shows a different gene. Without labels, the panels
//! show the [`MAX_TYPES`] genes of highest variance among all real cells instead.
//!
//! ## Violins
//! One small panel per (marker, type), titled "GENE in TYPE", with one violin per data set (real, generated,
//! reference) over the cells of that type. A violin is a Gaussian kernel density estimate of the
//! log-normalised expression, mirrored about its centre line; the bandwidth follows Silverman's rule,
//! `h = 0.9 min(sd, IQR / 1.34) n^(-1/5)` (`sd` alone when the IQR is 0, as with mostly-zero genes); the
//! density is evaluated only between the smallest and largest value (no tails beyond the data), and every
//! violin is scaled to the same maximum width, so shapes compare but areas do not. A black bar marks the
//! quartiles and a white dot the median; the number of cells is under each violin. Single-cell expression
//! is zero-inflated: the bulge at 0 is the share of cells in which the gene was not detected, and a good
//! generator reproduces it as well as the level of the expressing cells.

use std::collections::HashMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{self, draw_legend, render, text, Area, DrawResult, LABEL_SIZE, TICK_SIZE};
use super::font;
use super::prepare::{Prepared, Role, Side};
use super::{Figure, Section};
use crate::error::Result;

/// Largest number of panels (types).
pub(crate) const MAX_TYPES: usize = 8;
/// Fewest real cells a type needs for a panel.
pub(crate) const MIN_TYPE_CELLS: usize = 5;
/// Points at which each density is evaluated.
const GRID: usize = 120;
/// Panel size in pixels.
const PANEL: (u32, u32) = (420, 400);

/// One panel: a gene within a type (or within all cells), with its values on every side.
struct Panel {
    gene: String,
    cell_type: Option<String>,
    violins: Vec<(Role, Vec<f64>)>,
}

/// The marker-gene section.
pub(crate) fn section(data: &Prepared) -> Result<Section> {
    let mut section = Section {
        id: "markers",
        title: "Marker genes".to_string(),
        intro: format!(
            "For each of the largest cell types, the gene most specific to it among the real cells (highest \
             mean log-expression in the type minus the mean in the other cells), and its distribution within the \
             type on every side: violins are mirrored kernel densities of log(1 + counts per 20,000), scaled to \
             equal width; the black bar spans the quartiles, the white dot is the median, n is the number of \
             cells. The bulge at 0 is the share of cells where the gene was not detected. Without cell types, \
             the {MAX_TYPES} most variable genes over all cells are shown."
        ),
        figures: Vec::new(),
        notes: Vec::new(),
    };
    let chosen = choose_markers(data);
    if chosen.is_empty() {
        section.notes.push(format!("No marker panels: no cell type has {MIN_TYPE_CELLS} or more real cells."));
        return Ok(section);
    }
    let panels = collect_panels(data, &chosen);
    let columns = panels.len().min(4);
    let rows = panels.len().div_ceil(columns);
    let legend: Vec<(String, RGBColor)> =
        data.sides.iter().map(|s| (s.role.name().to_string(), s.role.colour())).collect();
    let (width, height) = (PANEL.0 * columns as u32, PANEL.1 * rows as u32 + 60);
    let png = render("violins.png", width, height, |root| {
        let (grid, bottom) = root.split_vertically(PANEL.1 * rows as u32);
        for (k, (panel, area)) in panels.iter().zip(grid.split_evenly((rows, columns))).enumerate() {
            draw_panel(&area, panel, k % columns == 0)?;
        }
        draw_legend(&bottom, &legend, legend.len())
    })?;
    section.figures.push(Figure {
        file_name: "violins.png".to_string(),
        title: "Marker genes per cell type".to_string(),
        caption: if data.label_key.is_some() {
            "Each panel: one marker gene within one cell type; the data sets side by side.".to_string()
        } else {
            format!(
                "The {} most variable genes of the real cells, in all cells; the data sets side by side.",
                panels.len()
            )
        },
        png,
        wide: true,
    });
    Ok(section)
}

/// `(gene index, type)` pairs to draw: markers of the largest types, or the most variable genes.
fn choose_markers(data: &Prepared) -> Vec<(usize, Option<String>)> {
    let real = data.real();
    let n_genes = data.genes.len();
    let types: Vec<(String, usize)> =
        data.types_by_size().into_iter().filter(|(_, n)| *n >= MIN_TYPE_CELLS).take(MAX_TYPES).collect();
    match &real.labels {
        Some(labels) if !types.is_empty() => {
            let slot: HashMap<&str, usize> = types.iter().enumerate().map(|(k, (t, _))| (t.as_str(), k)).collect();
            let mut sums = vec![vec![0f64; n_genes]; types.len()];
            let mut total = vec![0f64; n_genes];
            for (i, label) in labels.iter().enumerate() {
                let k = label.as_deref().and_then(|l| slot.get(l).copied());
                let (cols, values) = real.lognorm.row(i);
                for (&j, &v) in cols.iter().zip(values) {
                    total[j as usize] += v as f64;
                    if let Some(k) = k {
                        sums[k][j as usize] += v as f64;
                    }
                }
            }
            let n = real.n_cells() as f64;
            let mut used = vec![false; n_genes];
            let mut chosen = Vec::new();
            for (k, (name, count)) in types.iter().enumerate() {
                let (n_in, n_out) = (*count as f64, (n - *count as f64).max(1.0));
                let best = (0..n_genes)
                    .filter(|&j| !used[j])
                    .map(|j| (j, sums[k][j] / n_in - (total[j] - sums[k][j]) / n_out))
                    .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
                if let Some((j, _)) = best {
                    used[j] = true;
                    chosen.push((j, Some(name.clone())));
                }
            }
            chosen
        }
        Some(_) => Vec::new(),
        None => {
            let (sums, squares) = real.lognorm.col_sums_and_squares();
            let n = real.n_cells() as f64;
            let mut order: Vec<(usize, f64)> =
                sums.iter().zip(&squares).map(|(s, q)| q / n - (s / n) * (s / n)).enumerate().collect();
            order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            order.into_iter().take(MAX_TYPES).map(|(j, _)| (j, None)).collect()
        }
    }
}

/// The log-normalised values of `genes` in every cell of `side`: `out[g][cell]`.
fn gene_columns(side: &Side, genes: &[usize]) -> Vec<Vec<f64>> {
    let slot: HashMap<u32, usize> = genes.iter().enumerate().map(|(k, &j)| (j as u32, k)).collect();
    let mut out = vec![vec![0f64; side.n_cells()]; genes.len()];
    (0..side.n_cells()).for_each(|i| {
        let (cols, values) = side.lognorm.row(i);
        for (&j, &v) in cols.iter().zip(values) {
            if let Some(&k) = slot.get(&j) {
                out[k][i] = v as f64;
            }
        }
    });
    out
}

fn collect_panels(data: &Prepared, chosen: &[(usize, Option<String>)]) -> Vec<Panel> {
    let genes: Vec<usize> = chosen.iter().map(|(j, _)| *j).collect();
    let columns: Vec<Vec<Vec<f64>>> = data.sides.iter().map(|s| gene_columns(s, &genes)).collect();
    chosen
        .iter()
        .enumerate()
        .map(|(k, (j, cell_type))| {
            let violins = data
                .sides
                .iter()
                .zip(&columns)
                .filter_map(|(side, values)| {
                    let values = &values[k];
                    let picked: Vec<f64> = match (cell_type, &side.labels) {
                        (None, _) => values.clone(),
                        (Some(t), Some(labels)) => labels
                            .iter()
                            .zip(values)
                            .filter(|(l, _)| l.as_deref() == Some(t.as_str()))
                            .map(|(_, &v)| v)
                            .collect(),
                        (Some(_), None) => return None,
                    };
                    Some((side.role, picked))
                })
                .collect();
            Panel { gene: data.genes[*j].clone(), cell_type: cell_type.clone(), violins }
        })
        .collect()
}

/// Silverman's rule-of-thumb bandwidth; 0 when the values do not vary.
pub(crate) fn silverman_bandwidth(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n < 2 {
        return 0.0;
    }
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let sd = (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
    let iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    0.9 * spread * (n as f64).powf(-0.2)
}

/// Linear-interpolation quantile of sorted values (numpy's default).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Gaussian kernel density of `sorted` at `GRID` points from its minimum to its maximum: `(y, density)`.
/// Empty when the values do not vary (the caller draws a line).
pub(crate) fn density(sorted: &[f64]) -> Vec<(f64, f64)> {
    let h = silverman_bandwidth(sorted);
    let (Some(&low), Some(&high)) = (sorted.first(), sorted.last()) else {
        return Vec::new();
    };
    if h <= 0.0 || high <= low {
        return Vec::new();
    }
    let norm = 1.0 / (sorted.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt());
    (0..GRID)
        .map(|g| {
            let y = low + (high - low) * g as f64 / (GRID - 1) as f64;
            let sum: f64 =
                sorted.iter().map(|&v| (v - y) / h).filter(|u| u.abs() < 8.0).map(|u| (-0.5 * u * u).exp()).sum();
            (y, sum * norm)
        })
        .collect()
}

/// One panel: title, y axis, a violin per side with quartiles and median, `n` under each.
fn draw_panel(area: &Area, panel: &Panel, first_column: bool) -> DrawResult {
    let title = match &panel.cell_type {
        Some(t) => format!("{} in {t}", panel.gene),
        None => format!("{} in all cells", panel.gene),
    };
    let (title_area, body) = area.split_vertically(64);
    draw_title(&title_area, &panel.gene, &title)?;

    let k = panel.violins.len().max(1);
    let top = panel.violins.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0f64, f64::max).max(0.5) * 1.05;
    let y_max = top * 1.12; // headroom for the n= labels
    let mut chart = ChartBuilder::on(&body)
        .margin_left(8)
        .margin_right(14)
        .margin_bottom(14)
        .x_label_area_size(8)
        .y_label_area_size(if first_column { 76 } else { 52 })
        .build_cartesian_2d(-0.55f64..k as f64 - 0.45, 0f64..y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .max_light_lines(0)
        .bold_line_style(BLACK.mix(0.12))
        .y_labels(5)
        .y_label_formatter(&|v| canvas::tick(*v))
        .label_style(text(TICK_SIZE))
        .axis_desc_style(text(TICK_SIZE));
    if first_column {
        mesh.y_desc("log(1 + counts per 20k)");
    }
    mesh.draw()?;
    let n_style = text(TICK_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, (_, values)) in panel.violins.iter().enumerate() {
        let label = Text::new(format!("n={}", values.len()), (i as f64, y_max * 0.985), n_style.clone());
        chart.draw_series(std::iter::once(label))?;
    }

    for (i, (role, values)) in panel.violins.iter().enumerate() {
        if values.is_empty() {
            continue;
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let centre = i as f64;
        let colour = role.colour();
        let curve = density(&sorted);
        if curve.is_empty() {
            let v = sorted[0];
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(centre - 0.4, v), (centre + 0.4, v)],
                colour.stroke_width(4),
            )))?;
        } else {
            let peak = curve.iter().map(|p| p.1).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
            let half = |d: f64| 0.4 * d / peak;
            let mut outline: Vec<(f64, f64)> = curve.iter().map(|&(y, d)| (centre - half(d), y)).collect();
            outline.extend(curve.iter().rev().map(|&(y, d)| (centre + half(d), y)));
            chart.draw_series(std::iter::once(Polygon::new(outline.clone(), colour.mix(0.55).filled())))?;
            outline.push(outline[0]);
            chart.draw_series(std::iter::once(PathElement::new(outline, colour.stroke_width(2))))?;
        }
        let (q1, median, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.5), quantile(&sorted, 0.75));
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(centre, q1), (centre, q3)], BLACK.stroke_width(6))))?;
        chart.draw_series(std::iter::once(Circle::new((centre, median), 5, WHITE.filled())))?;
        chart.draw_series(std::iter::once(Circle::new((centre, median), 5, BLACK.stroke_width(1))))?;
    }
    Ok(())
}

/// The panel title "GENE in TYPE" on one line when it fits, else the gene on one line and "in TYPE" below,
/// shrinking the font (down to 15 px) and finally cutting the type name with an ellipsis.
fn draw_title(area: &Area, gene: &str, title: &str) -> DrawResult {
    let room = area.dim_in_pixel().0 as i32 - 16;
    let fits = |s: &str, size: u32| -> std::result::Result<bool, Box<dyn std::error::Error>> {
        Ok(font::width(area, s, size, true)? <= room)
    };
    for size in [LABEL_SIZE + 2, LABEL_SIZE] {
        if fits(title, size)? {
            return canvas::centred_lines(area, &[title.to_string()], size);
        }
    }
    let rest = title.strip_prefix(gene).unwrap_or(title).trim_start().to_string();
    for size in (15..=LABEL_SIZE).rev() {
        if fits(gene, size)? && fits(&rest, size)? {
            return canvas::centred_lines(area, &[gene.to_string(), rest], size);
        }
    }
    let mut cut: Vec<char> = rest.chars().collect();
    while cut.len() > 4 && !fits(&(cut.iter().collect::<String>() + "…"), 15)? {
        cut.pop();
    }
    canvas::centred_lines(area, &[gene.to_string(), cut.iter().collect::<String>() + "…"], 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn density_integrates_to_about_one_inside_the_range() {
        let sorted: Vec<f64> = (0..400).map(|i| (i as f64 / 399.0 - 0.5) * 6.0).collect();
        let curve = density(&sorted);
        let step = curve[1].0 - curve[0].0;
        let area: f64 = curve.iter().map(|p| p.1).sum::<f64>() * step;
        assert!((area - 1.0).abs() < 0.1, "area {area}");
        assert!(density(&[2.0, 2.0, 2.0]).is_empty());
    }
}
