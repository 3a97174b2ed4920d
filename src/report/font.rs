//! Text placement that corrects a glyph-spacing flaw of plotters' `ab_glyph` text backend.
//!
//! plotters 0.3.7 draws each glyph's bitmap at the pen position but ignores the glyph's left side bearing
//! (the `min.x` of its pixel bounds), so a letter with a wide bearing (`H`, `B`, `1`, `b`) sits up to two pixels
//! too far left: "T Helper" renders as "THelper". Titles, legends and labels drawn by the report go through
//! [`draw_text`], which draws one character at a time at `pen + bearing`, taking the bearings from the
//! embedded DejaVu Sans (`hmtx`, `cmap` format 4 and `hhea` tables, parsed once). Text plotters draws itself
//! (tick numbers, axis names) keeps the flaw, which is below a pixel for digits.

use std::collections::HashMap;
use std::sync::OnceLock;

use plotters::prelude::*;

use super::canvas::{Area, DrawResult, FONT};

/// What the report needs of a font: the scale `ab_glyph` uses and every character's left side bearing.
struct Metrics {
    /// `ascender - descender` in font units (`ab_glyph`'s pixel scale is `size / height`).
    height: f64,
    /// Left side bearing of each character of the font's `cmap`, in font units.
    bearings: HashMap<char, i16>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// The bytes of table `tag` of a TrueType file.
fn table<'a>(font: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
    let n = u16_at(font, 4)? as usize;
    (0..n).find_map(|k| {
        let record = 12 + 16 * k;
        if font.get(record..record + 4)? != tag {
            return None;
        }
        let (offset, length) = (u32_at(font, record + 8)? as usize, u32_at(font, record + 12)? as usize);
        font.get(offset..offset + length)
    })
}

/// Parses the metrics of a TrueType font; `None` if a table is missing or malformed.
fn parse(font: &[u8]) -> Option<Metrics> {
    let hhea = table(font, b"hhea")?;
    let ascender = u16_at(hhea, 4)? as i16 as f64;
    let descender = u16_at(hhea, 6)? as i16 as f64;
    let n_long = u16_at(hhea, 34)? as usize;
    let hmtx = table(font, b"hmtx")?;
    let bearing = |glyph: usize| -> Option<i16> {
        let at = if glyph < n_long { 4 * glyph + 2 } else { 4 * n_long + 2 * (glyph - n_long) };
        Some(u16_at(hmtx, at)? as i16)
    };
    // cmap: the Windows Unicode BMP subtable (platform 3, encoding 1), format 4.
    let cmap = table(font, b"cmap")?;
    let sub = (0..u16_at(cmap, 2)? as usize).find_map(|k| {
        let record = 4 + 8 * k;
        let ok = u16_at(cmap, record)? == 3 && u16_at(cmap, record + 2)? == 1;
        if ok {
            cmap.get(u32_at(cmap, record + 4)? as usize..)
        } else {
            None
        }
    })?;
    if u16_at(sub, 0)? != 4 {
        return None;
    }
    let segments = u16_at(sub, 6)? as usize / 2;
    let (ends, starts) = (14, 16 + 2 * segments);
    let (deltas, ranges) = (starts + 2 * segments, starts + 4 * segments);
    let mut bearings = HashMap::new();
    for s in 0..segments {
        let (start, end) = (u16_at(sub, starts + 2 * s)?, u16_at(sub, ends + 2 * s)?);
        let delta = u16_at(sub, deltas + 2 * s)?;
        let range = u16_at(sub, ranges + 2 * s)? as usize;
        for code in start..=end.min(0xFFFE) {
            let glyph = if range == 0 {
                code.wrapping_add(delta)
            } else {
                let at = ranges + 2 * s + range + 2 * (code - start) as usize;
                match u16_at(sub, at)? {
                    0 => 0,
                    g => g.wrapping_add(delta),
                }
            };
            if let (Some(c), true) = (char::from_u32(code as u32), glyph != 0) {
                if let Some(b) = bearing(glyph as usize) {
                    bearings.insert(c, b);
                }
            }
        }
    }
    Some(Metrics { height: (ascender - descender).max(1.0), bearings })
}

fn metrics(bold: bool) -> Option<&'static Metrics> {
    static REGULAR: OnceLock<Option<Metrics>> = OnceLock::new();
    static BOLD: OnceLock<Option<Metrics>> = OnceLock::new();
    if bold {
        BOLD.get_or_init(|| parse(dejavu::sans::bold())).as_ref()
    } else {
        REGULAR.get_or_init(|| parse(dejavu::sans::regular())).as_ref()
    }
}

/// The left side bearing plotters omits for `c`, in pixels at `size`.
fn bearing_px(c: char, size: u32, bold: bool) -> i32 {
    metrics(bold)
        .and_then(|m| m.bearings.get(&c).map(|&b| (b as f64 * size as f64 / m.height).floor() as i32))
        .unwrap_or(0)
}

/// A text style of the report font.
pub(crate) fn style(size: u32, bold: bool) -> TextStyle<'static> {
    let weight = if bold { FontStyle::Bold } else { FontStyle::Normal };
    FontDesc::new(FontFamily::Name(FONT), size as f64, weight).into()
}

/// The width in pixels of `text` as plotters lays it out.
pub(crate) fn width(area: &Area, text: &str, size: u32, bold: bool) -> Result<i32, Box<dyn std::error::Error>> {
    Ok(area.estimate_text_size(text, &style(size, bold))?.0 as i32)
}

/// Draws `text` with its top-left corner at `(x, y)` pixels of `area` (plotters' `Text` convention: the
/// baseline lies `size / 2` below `y`), one character at a time at its corrected position.
pub(crate) fn draw_text(
    area: &Area,
    text: &str,
    (x, y): (i32, i32),
    size: u32,
    bold: bool,
    colour: RGBColor,
) -> DrawResult {
    let style = style(size, bold).color(&colour);
    for (at, c) in text.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        let pen = if at == 0 { 0 } else { area.estimate_text_size(&text[..at], &style)?.0 as i32 };
        area.draw(&Text::new(c.to_string(), (x + pen + bearing_px(c, size, bold), y), style.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dejavu_metrics_parse() {
        let m = metrics(false).expect("DejaVu Sans parses");
        assert_eq!(m.height, 2384.0);
        // Stems have wide bearings, round letters narrow ones, T none.
        assert!(m.bearings[&'H'] > 150, "{}", m.bearings[&'H']);
        assert!(m.bearings[&'T'].abs() < 20);
        assert!(m.bearings.contains_key(&'é') && m.bearings.contains_key(&'²'));
        assert!(metrics(true).is_some());
    }
}
