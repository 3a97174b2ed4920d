//! The page itself: one self-contained HTML file.
//!
//! Styles are inline and every picture is a `data:image/png;base64` URI, so the file has no external
//! reference at all (no CDN, no font server, no link to the `figures/` folder) and opens the same offline,
//! as an e-mail attachment or from an archive. Sections, in order: summary table, per-type table, t-SNE,
//! marker genes, cell statistics, training, other figures of the evaluation, glossary of `metrics.json`, and
//! a footer stating what was compared.

use base64::Engine;

use super::prepare::Prepared;
use super::tables;
use super::{Figure, ReportInput, Section};

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 30px; margin: 8px 0 4px; }
h2 { font-size: 23px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #ddd; }
p, li, dd { line-height: 1.45; font-size: 15px; }
.subtitle { color: #555; margin-top: 0; }
nav a { margin-right: 14px; font-size: 14px; color: #1f77b4; text-decoration: none; }
.key span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: -1px; }
table.metrics { border-collapse: collapse; width: 100%; font-size: 14px; margin: 8px 0 4px; }
table.metrics th { background: #f0f0f0; text-align: left; padding: 6px 8px; border-bottom: 2px solid #ccc; vertical-align: bottom; }
table.metrics td { padding: 6px 8px; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
table.metrics tr:hover td { background: #f7fbff; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.explain { color: #444; font-size: 13px; max-width: 460px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; color: #444; }
.na { color: #999; }
.note { color: #7a5b00; background: #fff8e1; padding: 6px 10px; border-left: 4px solid #f0c000; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 0; flex: 1 1 560px; max-width: calc(50% - 9px); }
figure.wide { flex: 1 1 100%; max-width: 100%; }
figure img { width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 14px; color: #444; margin-top: 4px; line-height: 1.4; }
figcaption .file { color: #888; font-size: 12px; }
dl.glossary dt { margin-top: 8px; }
dl.glossary dd { margin-left: 24px; color: #444; }
pre { background: #f6f6f6; padding: 8px; font-size: 12px; overflow-x: auto; }
footer { margin-top: 40px; padding-top: 12px; border-top: 2px solid #ddd; color: #555; font-size: 13px; }
footer li { font-size: 13px; }
"#;

/// The whole page.
pub(crate) fn page(input: &ReportInput, data: &Prepared, sections: &[Section]) -> String {
    let control = input.reference.is_some();
    let mut html = String::with_capacity(
        sections.iter().flat_map(|s| &s.figures).map(|f| f.png.len() * 4 / 3).sum::<usize>() + 64 * 1024,
    );
    html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    html += &format!("<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n", escape(input.title));
    html += &format!("<h1>{}</h1>\n", escape(input.title));
    html += &format!(
        "<p class=\"subtitle\">How realistic are the generated cells? Every figure compares real (held-out) cells \
         with generated cells{}.</p>\n",
        if control {
            ", next to the same figure for two sets of real cells (real vs reference): the floor no generator can beat"
        } else {
            ""
        }
    );
    html += "<p class=\"key\">Colours:";
    for side in &data.sides {
        let c = side.role.colour();
        html += &format!("<span style=\"background: rgb({}, {}, {})\"></span>{}", c.0, c.1, c.2, side.role.name());
    }
    html += "</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#per-type\">Per cell type</a>";
    for s in sections {
        html += &format!("<a href=\"#{}\">{}</a>", s.id, escape(&s.title));
    }
    html += "<a href=\"#details\">Other figures</a><a href=\"#glossary\">Glossary</a></nav>\n";

    html += "<section id=\"summary\">\n<h2>Summary</h2>\n";
    html += "<p>Each metric for real vs generated cells, next to real vs reference cells (the control, when \
             computed) and the ideal value. Judge a generator by its distance to the control, not to the ideal: \
             even two sets of real cells differ by sampling.</p>\n";
    html += &tables::headline(input.metrics);
    if !control {
        html += "<p class=\"note\">No reference data were given to this report: the control pictures are missing. \
                 Control numbers, when present, come from the evaluation.</p>\n";
    }
    for warning in tables::warnings(input.metrics) {
        html += &format!("<p class=\"note\">Evaluation warning: {}</p>\n", escape(&warning));
    }
    for note in &data.notes {
        html += &format!("<p class=\"note\">{}</p>\n", escape(note));
    }
    html += "</section>\n<section id=\"per-type\">\n<h2>Per cell type</h2>\n";
    html += "<p>The random-forest AUROC and MMD within every cell type with enough cells on both sides, for \
             generated cells and for the control.</p>\n";
    html += &tables::per_type(input.metrics)
        .unwrap_or_else(|| "<p class=\"note\">The metrics have no per_type entry.</p>\n".to_string());
    html += "</section>\n";

    for section in sections {
        html += &section_html(section);
    }

    html += "<section id=\"details\">\n<h2>Other figures of the evaluation</h2>\n";
    html += &tables::other_keys(input.metrics).unwrap_or_else(|| "<p>None.</p>\n".to_string());
    html += "</section>\n<section id=\"glossary\">\n<h2>Glossary of metrics.json</h2>\n";
    html += "<p>The numbers of this page are in <code>metrics.json</code> beside it; its keys:</p>\n";
    html += &tables::glossary(input.metrics);
    let raw = serde_json::to_string_pretty(input.metrics).unwrap_or_default();
    html += &format!("<details><summary>metrics.json as written</summary><pre>{}</pre></details>\n", escape(&raw));
    html += "</section>\n";
    html += &footer(input, data);
    html += "</main>\n</body>\n</html>\n";
    html
}

fn section_html(section: &Section) -> String {
    let mut html = format!("<section id=\"{}\">\n<h2>{}</h2>\n", section.id, escape(&section.title));
    html += &format!("<p>{}</p>\n", escape(&section.intro));
    for note in &section.notes {
        html += &format!("<p class=\"note\">{}</p>\n", escape(note));
    }
    if !section.figures.is_empty() {
        html += "<div class=\"figures\">\n";
        for figure in &section.figures {
            html += &figure_html(figure);
        }
        html += "</div>\n";
    }
    html + "</section>\n"
}

fn figure_html(figure: &Figure) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(&figure.png);
    format!(
        "<figure{}><img src=\"data:image/png;base64,{data}\" alt=\"{}\"><figcaption><b>{}.</b> {} \
         <span class=\"file\">(figures/{})</span></figcaption></figure>\n",
        if figure.wide { " class=\"wide\"" } else { "" },
        escape(&figure.title),
        escape(&figure.title),
        escape(&figure.caption),
        escape(&figure.file_name),
    )
}

fn footer(input: &ReportInput, data: &Prepared) -> String {
    let mut html = String::from("<footer>\n<ul>\n");
    html += &format!("<li>Written by scgan {} on {}, seed {}.</li>\n", crate::VERSION, utc_now(), input.seed);
    for side in &data.sides {
        html += &format!("<li>{}: {}</li>\n", side.role.name(), escape(&side.description));
    }
    html += &format!(
        "<li>Pictures use the {} genes the data sets share{}; t-SNE on up to {} cells per data set.</li>\n",
        data.genes.len(),
        data.label_key.as_deref().map_or(String::new(), |k| format!(", cell types from obs['{}']", escape(k))),
        super::embed::thousands(super::embed::MAX_CELLS)
    );
    if let Some(run) = input.run_folder {
        html += &format!("<li>Training run: {}</li>\n", escape(&run.display().to_string()));
    }
    html + "</ul>\n</footer>\n"
}

/// The current time as `YYYY-MM-DD HH:MM UTC` (from the system clock; no time-zone database needed).
fn utc_now() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
