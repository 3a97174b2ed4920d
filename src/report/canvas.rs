//! The drawing ground every figure shares: the embedded font, the colours, rendering into memory and PNG
//! encoding.
//!
//! plotters draws with its `ab_glyph` text backend, which has no system fonts: [`register_fonts`] registers
//! DejaVu Sans (bytes from the `dejavu` crate, compiled into the binary) under the family name `sans-serif`,
//! so figures look the same on every machine and need no font libraries. A figure is drawn into an in-memory
//! RGB buffer by [`render`] and encoded as PNG by [`encode_png`] (zlib from `flate2`, CRC-32 from
//! `flate2::Crc`), so each PNG can be both written to `figures/` and embedded in the page.

use std::io::Write;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::font;
use crate::error::{Error, Result};

/// The font family name figures use.
pub(crate) const FONT: &str = "sans-serif";

/// Font sizes (pixels), chosen to stay legible when a 900-pixel-wide figure is shown ~600 pixels wide.
pub(crate) const TITLE_SIZE: u32 = 28;
/// Axis descriptions and legend entries.
pub(crate) const LABEL_SIZE: u32 = 22;
/// Tick labels.
pub(crate) const TICK_SIZE: u32 = 18;

/// Colour of the real (test) cells in every figure.
pub(crate) const REAL: RGBColor = RGBColor(31, 119, 180);
/// Colour of the generated cells.
pub(crate) const GENERATED: RGBColor = RGBColor(230, 97, 1);
/// Colour of the reference cells (the real-vs-real control).
pub(crate) const REFERENCE: RGBColor = RGBColor(44, 160, 44);
/// Colour of cells without a label.
pub(crate) const UNLABELLED: RGBColor = RGBColor(170, 170, 170);

/// A 20-colour qualitative palette for cell types (Tableau 20 reordered: strong colours first).
const TYPE_PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
    RGBColor(57, 59, 121),
];

/// The colour of the `k`-th cell type (types beyond the palette share its last colour: callers merge them
/// into "other types" first).
pub(crate) fn type_colour(k: usize) -> RGBColor {
    TYPE_PALETTE[k.min(TYPE_PALETTE.len() - 1)]
}

/// How many distinct type colours there are.
pub(crate) const N_TYPE_COLOURS: usize = TYPE_PALETTE.len();

/// What drawing closures return: plotters' errors, boxed.
pub(crate) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The drawing area closures draw on.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Registers DejaVu Sans (regular and bold) as [`FONT`] with plotters, once per process.
pub(crate) fn register_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_data("report", "font", "the embedded DejaVu Sans font could not be loaded"))
    }
}

/// A text style of the figure font at `size` pixels, for the text plotters draws (ticks, axis names).
pub(crate) fn text(size: u32) -> TextStyle<'static> {
    font::style(size, false)
}

/// Draws `lines` of bold text centred horizontally and vertically in `area`.
pub(crate) fn centred_lines(area: &Area, lines: &[String], size: u32) -> DrawResult {
    let (width, height) = area.dim_in_pixel();
    let line = size as i32 + 8;
    // plotters puts the baseline `size / 2` below the given y; capitals reach ~0.73 size above the baseline.
    let ink = line * (lines.len() as i32 - 1) + size as i32;
    let top = (height as i32 - ink) / 2 + (size as f64 * 0.23) as i32;
    for (k, s) in lines.iter().enumerate() {
        let w = font::width(area, s, size, true)?;
        font::draw_text(area, s, ((width as i32 - w) / 2, top + k as i32 * line), size, true, BLACK)?;
    }
    Ok(())
}

/// Draws `title` centred at the top of `area` and returns the area below it, for the chart.
pub(crate) fn titled<'a>(area: &Area<'a>, title: &str) -> std::result::Result<Area<'a>, Box<dyn std::error::Error>> {
    let (top, body) = area.split_vertically(TITLE_SIZE + 24);
    centred_lines(&top, &[title.to_string()], TITLE_SIZE)?;
    Ok(body)
}

/// Draws a figure of `width` x `height` pixels on a white background and returns it as PNG bytes. `name` is
/// the figure's file name, for error messages.
pub(crate) fn render(name: &str, width: u32, height: u32, draw: impl FnOnce(&Area) -> DrawResult) -> Result<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| Error::invalid_data("report", format!("figure {name}"), e.to_string());
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let backend = BitMapBackend::with_buffer_and_format(&mut buffer, (width, height)).map_err(|e| failed(&e))?;
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        draw(&root).map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    encode_png(width, height, &buffer).map_err(|e| failed(&e))
}

/// Encodes 8-bit RGB pixels (row-major, `3 * width * height` bytes) as a PNG file.
///
/// Each scanline gets the PNG filter (None, Sub or Up) with the smallest sum of absolute filtered bytes, the
/// usual heuristic; plots are mostly flat colour, so this and zlib make them small.
///
/// # Errors
/// Only if the buffer is too short, as an I/O error of kind `InvalidInput`.
pub(crate) fn encode_png(width: u32, height: u32, rgb: &[u8]) -> std::io::Result<Vec<u8>> {
    let stride = width as usize * 3;
    if rgb.len() < stride * height as usize {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "pixel buffer shorter than the image"));
    }
    let mut raw = Vec::with_capacity((stride + 1) * height as usize);
    let zero_row = vec![0u8; stride];
    let mut candidates = [vec![0u8; stride], vec![0u8; stride], vec![0u8; stride]];
    for y in 0..height as usize {
        let row = &rgb[y * stride..(y + 1) * stride];
        let above = if y == 0 { &zero_row[..] } else { &rgb[(y - 1) * stride..y * stride] };
        for x in 0..stride {
            let left = if x >= 3 { row[x - 3] } else { 0 };
            candidates[0][x] = row[x];
            candidates[1][x] = row[x].wrapping_sub(left);
            candidates[2][x] = row[x].wrapping_sub(above[x]);
        }
        let cost = |c: &[u8]| c.iter().map(|&b| (b as i8).unsigned_abs() as u64).sum::<u64>();
        let best = (0..3).min_by_key(|&k| cost(&candidates[k])).unwrap_or(0);
        raw.push(best as u8);
        raw.extend_from_slice(&candidates[best]);
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    zlib.write_all(&raw)?;
    let idat = zlib.finish()?;

    let mut png = Vec::with_capacity(idat.len() + 64);
    png.extend_from_slice(&[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']);
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit depth, truecolour, deflate, adaptive filters, no interlace
    write_chunk(&mut png, b"IHDR", &header);
    write_chunk(&mut png, b"IDAT", &idat);
    write_chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn write_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.sum().to_be_bytes());
}

/// Draws a legend: a coloured square and a name per entry, laid out in a grid of `columns` columns and
/// centred in `area` (a strip the caller reserved beside or below a chart, so the legend hides no data).
pub(crate) fn draw_legend(area: &Area, entries: &[(String, RGBColor)], columns: usize) -> DrawResult {
    if entries.is_empty() {
        return Ok(());
    }
    let columns = columns.clamp(1, entries.len());
    let rows = entries.len().div_ceil(columns);
    let line = LABEL_SIZE as i32 + 12;
    let square = LABEL_SIZE as i32 - 4;
    let mut widest = 0;
    for (name, _) in entries {
        widest = widest.max(font::width(area, name, LABEL_SIZE, false)?);
    }
    let column_width = widest + square + 40;
    let (width, height) = area.dim_in_pixel();
    let x0 = ((width as i32 - column_width * columns as i32) / 2).max(0) + 10;
    let y0 = ((height as i32 - line * rows as i32) / 2).max(0);
    for (k, (name, colour)) in entries.iter().enumerate() {
        let (x, y) = (x0 + (k % columns) as i32 * column_width, y0 + (k / columns) as i32 * line);
        // Text ink spans about [y, y + 0.75 size] when drawn at y + 0.23 size; centre the square on the capitals.
        let text_top = y + (LABEL_SIZE as f64 * 0.23) as i32;
        let square_top = y + (LABEL_SIZE as f64 * 0.37) as i32 - square / 2;
        area.draw(&Rectangle::new([(x, square_top), (x + square, square_top + square)], colour.filled()))?;
        font::draw_text(area, name, (x + square + 10, text_top), LABEL_SIZE, false, BLACK)?;
    }
    Ok(())
}

/// A short tick label: `1.5k`, `3.4M`, `450`, `0.25`, `1e-4`.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 1e-3 {
        trim(format!("{v:.4}"))
    } else {
        // three significant digits: a slowly decaying learning rate (3e-4 to 2.94e-4) needs them
        scientific(v, 3)
    }
}

/// `v` in scientific notation with `digits` significant digits, trailing zeros of the mantissa dropped.
fn scientific(v: f64, digits: usize) -> String {
    let text = format!("{v:.*e}", digits.max(1) - 1);
    match text.split_once('e') {
        Some((mantissa, exponent)) => trim(mantissa.to_string()) + "e" + exponent,
        None => text,
    }
}

/// A tick label of `v` on an axis spanning `range`: [`tick`], unless the range is so narrow next to the values
/// (a learning rate decaying from 3e-4 to 2.999e-4) that short labels would all read the same; then as many
/// significant digits as tell the ticks apart.
pub(crate) fn tick_within(v: f64, range: f64) -> String {
    let a = v.abs();
    // a value a billionth of the axis from zero is zero on it (a learning rate that fell to zero in floating point
    // ends at -1.4e-20, which would otherwise be labelled so)
    if range > 0.0 && a < range * 1e-9 {
        return "0".to_string();
    }
    // short labels are enough when they tell apart values a tick apart (an axis has about six)
    if a == 0.0 || range <= 0.0 || tick(v) != tick(v + range / 6.0) {
        return tick(v);
    }
    scientific(v, ((a / range).log10().ceil() as usize + 1).min(12))
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_signature_and_chunks() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let png = encode_png(4, 3, &rgb).unwrap();
        assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        assert!(encode_png(4, 3, &rgb[..10]).is_err());
    }

    #[test]
    fn png_pixels_round_trip_through_zlib() {
        let (w, h) = (5u32, 4u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 31) % 251) as u8).collect();
        let png = encode_png(w, h, &rgb).unwrap();
        // IDAT starts after the signature (8) and the IHDR chunk (12 + 13).
        let at = 8 + 25;
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&png[at + 8..at + 8 + len]), &mut raw).unwrap();
        let stride = (w * 3) as usize;
        let mut out = vec![0u8; rgb.len()];
        for y in 0..h as usize {
            let filter = raw[y * (stride + 1)];
            for x in 0..stride {
                let v = raw[y * (stride + 1) + 1 + x];
                let left = if x >= 3 { out[y * stride + x - 3] } else { 0 };
                let up = if y > 0 { out[(y - 1) * stride + x] } else { 0 };
                out[y * stride + x] = match filter {
                    0 => v,
                    1 => v.wrapping_add(left),
                    _ => v.wrapping_add(up),
                };
            }
        }
        assert_eq!(out, rgb);
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(35000.0), "35k");
        assert_eq!(tick(1_300_000.0), "1.3M");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(450.0), "450");
        assert_eq!(tick(1500.0), "1.5k");
        assert_eq!(tick(-5000.0), "-5k");
        assert_eq!(tick(2.97e-4), "2.97e-4");
        assert_eq!(tick(2.9e-4), "2.9e-4");
        assert_eq!(tick(3e-5), "3e-5");
        // a narrow axis keeps the digits that tell its ticks apart
        assert_eq!(tick_within(2.9995e-4, 5e-8), "2.9995e-4");
        assert_ne!(tick_within(2.9995e-4, 5e-8), tick_within(2.9990e-4, 5e-8));
        assert_eq!(tick_within(0.25, 1.0), "0.25");
        // a validation MMD between 0.00820 and 0.00835: "0.0083" for every tick would not do
        assert_ne!(tick_within(0.00830, 1.7e-5), tick_within(0.00833, 1.7e-5));
        // rounding noise at zero reads as zero
        assert_eq!(tick_within(-1.36e-20, 3e-4), "0");
    }
}
