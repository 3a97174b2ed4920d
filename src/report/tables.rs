//! The report's tables, built from the evaluation's JSON (`metrics.json`), plus the glossary of its keys.
//!
//! The JSON is read loosely, so that the report never breaks on a new field: `generated` and `control` are
//! objects of metrics (a number, `{mean, sd}`, or null); `per_type` maps a type to an object of figures;
//! every other top-level key is shown as it is. Metrics the report knows get a name, an explanation, the
//! ideal value and a comparison with the control: the ratio of biased MMDs (1 is ideal, EVALUATION.md), the
//! difference otherwise. Unknown metrics are listed after the known ones with the difference to the control.

use serde_json::{Map, Value};

use super::html::escape;

/// How a metric is compared with its control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// generated - control.
    Difference,
    /// generated / control.
    Ratio,
    /// Not compared (counts, per-fold lists).
    None,
}

/// What the report knows about a metric.
struct MetricInfo {
    key: &'static str,
    name: &'static str,
    ideal: &'static str,
    comparison: Comparison,
    explanation: &'static str,
}

const METRICS: &[MetricInfo] = &[
    MetricInfo {
        key: "n_cells",
        name: "Cells compared",
        ideal: "",
        comparison: Comparison::None,
        explanation: "Cells per side in this comparison (the same number on both sides, sampled with a fixed seed).",
    },
    MetricInfo {
        key: "rf_auroc",
        name: "Random-forest AUROC",
        ideal: "0.5",
        comparison: Comparison::Difference,
        explanation: "A random forest (1,000 trees) on 50 principal components tries to tell real from generated \
                      cells; 5-fold cross-validated area under the ROC curve, mean ± sd. 0.5: indistinguishable; \
                      1: always told apart.",
    },
    MetricInfo {
        key: "knn_auroc",
        name: "kNN AUROC",
        ideal: "0.5",
        comparison: Comparison::Difference,
        explanation: "The same test with a 15-nearest-neighbour classifier: sensitive to local differences.",
    },
    MetricInfo {
        key: "mmd",
        name: "MMD² (unbiased)",
        ideal: "about 0",
        comparison: Comparison::Difference,
        explanation: "Maximum mean discrepancy between the two sets of cells on 50 principal components, Gaussian \
                      kernels at 0.5, 1, 2 and 4 × the median distance; unbiased estimate, about 0 (can be \
                      negative) for equal distributions.",
    },
    MetricInfo {
        key: "mmd_biased",
        name: "MMD² (biased)",
        ideal: "ratio 1 to control",
        comparison: Comparison::Ratio,
        explanation: "The biased MMD estimate, always positive even for equal distributions: judge it as the \
                      ratio generated / control (1 is ideal).",
    },
    MetricInfo {
        key: "scc_gene_mean",
        name: "Spearman, gene means",
        ideal: "1",
        comparison: Comparison::Difference,
        explanation: "Spearman rank correlation, across genes, of the mean log-expression on the two sides.",
    },
    MetricInfo {
        key: "pcc_gene_mean",
        name: "Pearson, gene means",
        ideal: "1",
        comparison: Comparison::Difference,
        explanation: "Pearson correlation, across genes, of the mean log-expression.",
    },
    MetricInfo {
        key: "scc_gene_variance",
        name: "Spearman, gene variances",
        ideal: "1",
        comparison: Comparison::Difference,
        explanation: "Spearman correlation, across genes, of the variance of log-expression.",
    },
    MetricInfo {
        key: "pcc_gene_variance",
        name: "Pearson, gene variances",
        ideal: "1",
        comparison: Comparison::Difference,
        explanation: "Pearson correlation, across genes, of the variance of log-expression.",
    },
    MetricInfo {
        key: "gene_correlation_agreement",
        name: "Gene-gene correlations",
        ideal: "1",
        comparison: Comparison::Difference,
        explanation: "Correlation between the two sides' gene-gene correlation matrices (500 most variable genes, \
                      upper triangles): are co-expressed genes still co-expressed?",
    },
    MetricInfo {
        key: "ks_library_size",
        name: "KS, library size",
        ideal: "0",
        comparison: Comparison::Difference,
        explanation: "Kolmogorov-Smirnov statistic (largest gap between the cumulative distributions) of the total \
                      counts per cell.",
    },
    MetricInfo {
        key: "ks_zeros_per_cell",
        name: "KS, zeros per cell",
        ideal: "0",
        comparison: Comparison::Difference,
        explanation: "KS statistic of the fraction of zero entries per cell.",
    },
    MetricInfo {
        key: "ks_genes_per_cell",
        name: "KS, genes per cell",
        ideal: "0",
        comparison: Comparison::Difference,
        explanation: "KS statistic of the number of genes detected per cell.",
    },
    MetricInfo {
        key: "ks_zeros_per_gene",
        name: "KS, zeros per gene",
        ideal: "0",
        comparison: Comparison::Difference,
        explanation: "KS statistic of the fraction of cells in which each gene is zero.",
    },
];

/// Top-level keys of `metrics.json` and what they hold, for the glossary.
const TOP_LEVEL: &[(&str, &str)] = &[
    ("generated", "Metrics of real (test) vs generated cells: one entry per row of the summary table."),
    (
        "control",
        "The same metrics for real (test) vs reference (training) cells: the real-vs-real floor; null without a \
         reference.",
    ),
    ("mmd_biased_ratio", "Biased MMD² of generated cells divided by that of the control (1 is ideal)."),
    ("mmd_unbiased_excess", "Unbiased MMD² of generated cells minus that of the control (0 is ideal)."),
    (
        "per_type",
        "Per cell type (types with enough cells on each side): n_real, n_generated, n_reference, n_compared; \
         rf_auroc, mmd and mmd_biased for generated cells; control_rf_auroc, control_mmd and control_mmd_biased for \
         the control; null where a side has too few cells.",
    ),
    (
        "label_proportion_tvd",
        "Total variation distance between the cell-type proportions of the real and the generated cells, \
         ½ Σ |p − q| (0 is ideal).",
    ),
    ("control_label_proportion_tvd", "The same distance between the real and the reference cells."),
    ("n_cells", "Cells compared per side (at most 1,000, sampled with a fixed seed)."),
    ("n_control_cells", "Cells per side in the control comparison."),
    ("genes_used", "Genes shared by the data sets, on which everything was computed."),
    (
        "pca_fitted_on",
        "Which cells the principal components were fitted on: real cells held apart from the compared ones when \
         possible (fitting on the compared cells makes even real-vs-real cells separable).",
    ),
    ("pca_fit_cells", "How many cells the principal components were fitted on."),
    ("pca_components", "Number of principal components the classifiers and the MMD use."),
    ("pca_explained_variance", "Fraction of the fitted cells' variance those components explain."),
    ("median_distance", "Median distance among the compared real cells on the components: the MMD bandwidth unit."),
    ("files", "The real, generated and reference files compared."),
    ("warnings", "Anything that makes a figure less meaningful than usual (also shown under the summary)."),
    ("seconds", "Wall-clock time of the evaluation."),
    ("params", "The settings of the evaluation (cells, components, trees, folds, neighbours, seed...)."),
];

/// The `warnings` of the metrics (strings), for notes under the summary.
pub(crate) fn warnings(metrics: &Value) -> Vec<String> {
    metrics
        .get("warnings")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string)).collect())
        .unwrap_or_default()
}

/// Suffix of the per-fold values of a cross-validated metric.
const FOLDS: &str = "_folds";

/// The number behind a metric: itself, or the `mean` of a `{mean, sd}` object.
fn scalar(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.get("mean").and_then(Value::as_f64))
}

/// A number in 3 significant digits (metrics.json keeps them all), integers as they are.
pub(crate) fn number(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if x.fract() == 0.0 && a < 1e9 {
        format!("{x:.0}")
    } else if !(1e-3..1e4).contains(&a) {
        let text = format!("{x:.2e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
            None => text,
        }
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        trim_zeros(&format!("{x:.digits$}")).to_string()
    }
}

/// `0.5200` -> `0.52`, `3.000` -> `3`.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Any JSON value as (escaped) HTML: numbers formatted, `{mean, sd}` as `m ± sd`, null as n/a, small
/// objects inline, large ones folded.
pub(crate) fn value_html(v: &Value) -> String {
    match v {
        Value::Null => "<span class=\"na\">n/a</span>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::String(s) => escape(s),
        Value::Object(m) if m.contains_key("mean") && m.keys().all(|k| k == "mean" || k == "sd") => {
            let mean = m.get("mean").and_then(Value::as_f64).map_or("n/a".to_string(), number);
            match m.get("sd").and_then(Value::as_f64) {
                Some(sd) => format!("{mean} ± {}", number(sd)),
                None => mean,
            }
        }
        Value::Object(m) if m.len() <= 8 && m.values().all(|x| !x.is_object() && !x.is_array()) => m
            .iter()
            .map(|(k, x)| format!("<code>{}</code>: {}", escape(k), value_html(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(a) if a.len() <= 8 && a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            format!("[{}]", a.iter().map(value_html).collect::<Vec<_>>().join(", "))
        }
        other => {
            let text = serde_json::to_string_pretty(other).unwrap_or_default();
            format!("<details><summary>show</summary><pre>{}</pre></details>", escape(&text))
        }
    }
}

/// The summary table: every metric of `generated` (and `control`), known ones first.
pub(crate) fn headline(metrics: &Value) -> String {
    let empty = Map::new();
    let generated = metrics.get("generated").and_then(Value::as_object).unwrap_or(&empty);
    let control = metrics.get("control").and_then(Value::as_object);
    if generated.is_empty() && control.is_none_or(Map::is_empty) {
        return "<p class=\"note\">No metrics were given: the evaluation's figures are missing from metrics.json.</p>"
            .to_string();
    }
    let mut keys: Vec<&str> = METRICS.iter().map(|m| m.key).filter(|k| generated.contains_key(*k)).collect();
    let mut extra: Vec<&str> = generated.keys().map(String::as_str).filter(|k| !keys.contains(k)).collect();
    for k in control.into_iter().flat_map(|c| c.keys()) {
        if !keys.contains(&k.as_str()) && !extra.contains(&k.as_str()) {
            extra.push(k);
        }
    }
    extra.sort_unstable();
    keys.extend(extra);
    // `x_folds` (the per-fold values of a cross-validated `x`) is shown under `x`, not as a row of its own.
    let is_folds_of_shown = |k: &str| k.strip_suffix(FOLDS).is_some_and(|base| keys.contains(&base));
    let rows: Vec<&str> = keys.iter().copied().filter(|k| !is_folds_of_shown(k)).collect();
    let with_folds = |side: Option<&Map<String, Value>>, key: &str| -> String {
        let value = value_html(side.and_then(|m| m.get(key)).unwrap_or(&Value::Null));
        let folds_key = format!("{key}{FOLDS}");
        match side.and_then(|m| m.get(&folds_key)).and_then(Value::as_array) {
            Some(folds) => {
                let list: Vec<String> =
                    folds.iter().map(|v| v.as_f64().map_or("n/a".into(), |x| format!("{x:.2}"))).collect();
                format!("{value}<br><small><code>{folds_key}</code>: {}</small>", list.join(" "))
            }
            None => value,
        }
    };

    let mut html = String::from(
        "<table class=\"metrics\"><thead><tr><th>Metric</th><th>Real vs generated</th><th>Real vs reference \
         (control)</th><th>Ideal</th><th>Generated vs control</th><th>What it measures</th></tr></thead><tbody>\n",
    );
    for key in rows {
        let info = METRICS.iter().find(|m| m.key == key);
        let g = generated.get(key).unwrap_or(&Value::Null);
        let c = control.and_then(|c| c.get(key)).unwrap_or(&Value::Null);
        let comparison = info.map_or(Comparison::Difference, |i| i.comparison);
        let versus = match (scalar(g), scalar(c), comparison) {
            (_, _, Comparison::None) => String::new(),
            (Some(g), Some(c), Comparison::Ratio) if c > 0.0 => format!("× {}", number(g / c)),
            (Some(g), Some(c), Comparison::Difference) => {
                let d = g - c;
                format!("{}{}", if d >= 0.0 { "+" } else { "−" }, number(d.abs()))
            }
            _ => "<span class=\"na\">n/a</span>".to_string(),
        };
        let how = match comparison {
            Comparison::Ratio => "ratio",
            Comparison::Difference => "difference",
            Comparison::None => "",
        };
        html += &format!(
            "<tr><td><b>{}</b><br><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{versus}<br><small>{how}</small></td><td class=\"explain\">{}</td></tr>\n",
            escape(info.map_or(key, |i| i.name)),
            escape(key),
            with_folds(Some(generated), key),
            with_folds(control, key),
            info.map_or("", |i| i.ideal),
            info.map_or("Not described by this version of the report.", |i| i.explanation),
        );
    }
    html + "</tbody></table>\n"
}

/// The per-type table, largest types first; `None` without `per_type`.
pub(crate) fn per_type(metrics: &Value) -> Option<String> {
    let types = metrics.get("per_type")?.as_object()?;
    if types.is_empty() {
        return Some("<p class=\"note\">No cell type had enough cells on both sides for per-type figures.</p>".into());
    }
    let known = ["n_real", "n_generated", "rf_auroc", "control_rf_auroc", "mmd", "control_mmd"];
    let known_extra = ["n_reference", "n_compared", "mmd_biased", "control_mmd_biased"];
    let present = |k: &str| types.values().any(|t| t.get(k).is_some());
    let mut columns: Vec<String> =
        known.iter().chain(&known_extra).filter(|k| present(k)).map(|s| s.to_string()).collect();
    for entry in types.values().filter_map(Value::as_object) {
        for k in entry.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    fn header(k: &str) -> &str {
        match k {
            "n_real" => "real cells",
            "n_generated" => "generated cells",
            "rf_auroc" => "RF AUROC, generated",
            "control_rf_auroc" => "RF AUROC, control",
            "mmd" => "MMD², generated",
            "control_mmd" => "MMD², control",
            "n_reference" => "reference cells",
            "n_compared" => "cells compared",
            "mmd_biased" => "MMD² biased, generated",
            "control_mmd_biased" => "MMD² biased, control",
            other => other,
        }
    }
    let mut rows: Vec<(&String, &Value)> = types.iter().collect();
    rows.sort_by(|a, b| {
        let n = |v: &Value| v.get("n_real").and_then(Value::as_f64).unwrap_or(0.0);
        n(b.1).total_cmp(&n(a.1)).then_with(|| a.0.cmp(b.0))
    });
    let mut html = String::from("<table class=\"metrics\"><thead><tr><th>Cell type</th>");
    for k in &columns {
        html += &format!("<th>{}<br><code>{}</code></th>", escape(header(k)), escape(k));
    }
    html += "</tr></thead><tbody>\n";
    for (name, entry) in rows {
        html += &format!("<tr><td><b>{}</b></td>", escape(name));
        for k in &columns {
            html += &format!("<td class=\"num\">{}</td>", value_html(entry.get(k).unwrap_or(&Value::Null)));
        }
        html += "</tr>\n";
    }
    Some(html + "</tbody></table>\n")
}

/// The other top-level keys (everything but `generated`, `control` and `per_type`) as a table.
pub(crate) fn other_keys(metrics: &Value) -> Option<String> {
    let object = metrics.as_object()?;
    let rows: Vec<(&String, &Value)> =
        object.iter().filter(|(k, _)| !matches!(k.as_str(), "generated" | "control" | "per_type")).collect();
    if rows.is_empty() {
        return None;
    }
    let mut html = String::from(
        "<table class=\"metrics\"><thead><tr><th>Key</th><th>Value</th><th>Meaning</th></tr></thead><tbody>\n",
    );
    for (k, v) in rows {
        let meaning = TOP_LEVEL.iter().find(|(key, _)| key == k).map_or("", |(_, m)| m);
        html += &format!(
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"explain\">{}</td></tr>\n",
            escape(k),
            value_html(v),
            escape(meaning)
        );
    }
    Some(html + "</tbody></table>\n")
}

/// The glossary of `metrics.json`: top-level keys, the metric keys, and keys this version does not know.
pub(crate) fn glossary(metrics: &Value) -> String {
    let mut html = String::from("<dl class=\"glossary\">\n");
    for (key, meaning) in TOP_LEVEL {
        html += &format!("<dt><code>{key}</code></dt><dd>{}</dd>\n", escape(meaning));
    }
    html += "</dl>\n<p>Inside <code>generated</code> and <code>control</code>, values are a number, \
             <code>{mean, sd}</code> over cross-validation folds, or <code>null</code> when not computable:</p>\n\
             <dl class=\"glossary\">\n";
    for m in METRICS {
        html += &format!(
            "<dt><code>{}</code></dt><dd>{} (ideal: {}). {}</dd>\n",
            m.key,
            escape(m.name),
            escape(m.ideal),
            escape(m.explanation)
        );
    }
    html += "<dt><code>*_folds</code></dt><dd>The value of a cross-validated metric in every fold \
             (<code>rf_auroc_folds</code>, <code>knn_auroc_folds</code>), shown under the metric.</dd>\n</dl>\n";
    let unknown: Vec<String> = metrics
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| !TOP_LEVEL.iter().any(|(t, _)| t == k))
        .map(|k| format!("<code>{}</code>", escape(k)))
        .collect();
    if !unknown.is_empty() {
        html += &format!("<p>Also in this file, not described by this version: {}.</p>\n", unknown.join(", "));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.51234), "0.512");
        assert_eq!(number(0.52), "0.52");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(12.3456), "12.3");
        assert_eq!(number(0.00012), "1.2e-4");
        assert_eq!(number(123456.7), "1.23e5");
    }

    #[test]
    fn headline_compares_with_control() {
        let m = json!({
            "generated": {"rf_auroc": {"mean": 0.7, "sd": 0.02}, "rf_auroc_folds": [0.71, 0.69],
                          "mmd_biased": 0.3, "new_metric": 2.0},
            "control": {"rf_auroc": {"mean": 0.5, "sd": 0.01}, "mmd_biased": 0.1, "new_metric": 1.5}
        });
        let html = headline(&m);
        assert!(html.contains("0.7 ± 0.02"));
        assert!(html.contains("+0.2<"));
        assert!(html.contains("× 3<"));
        assert!(html.contains("new_metric"));
        assert!(html.contains("<code>rf_auroc_folds</code>: 0.71 0.69"));
        assert_eq!(html.matches("<tr>").count(), 1 + 3, "header and 3 metrics: folds are not a row of their own");
        assert!(headline(&json!({})).contains("No metrics"));
    }

    #[test]
    fn per_type_orders_by_size() {
        let m = json!({"per_type": {
            "small": {"n_real": 60, "n_generated": 55, "rf_auroc": null, "mmd": null},
            "big": {"n_real": 300, "n_generated": 280, "rf_auroc": {"mean": 0.6, "sd": 0.1}, "mmd": 0.01}
        }});
        let html = per_type(&m).unwrap();
        assert!(html.find("big").unwrap() < html.find("small").unwrap());
        assert!(per_type(&json!({})).is_none());
    }
}
