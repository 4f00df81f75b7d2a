//! Text: the viewer's layout (word wrap to the sprite's width, `font_size × 1.2` lines,
//! alignment, clipped to the sprite's height) drawn with an embedded 8×8 bitmap font
//! (`font8x8`'s public-domain basic Latin), scaled to the font size and anti-aliased by 4×4
//! supersampling.
//!
//! The font is monospaced with an advance of `0.55 × font_size` — about a sans-serif's
//! average — and its cap height spans `0.19..0.89 × font_size` below the line top, like a
//! sans-serif drawn with `textBaseline = "top"`, so wrapped lines break where the viewer's
//! usually do. Both renderers draw the image this produces, so text never differs between
//! them.

use std::sync::Arc;

use font8x8::legacy::BASIC_LEGACY;

use super::list::{ImageData, TextAlign, TextBlock, TextStyle};

/// Advance per character, in font sizes.
const ADVANCE: f32 = 0.55;
/// Line height, in font sizes (the viewer's).
const LINE_HEIGHT: f32 = 1.2;
/// Top of glyph row 0 below the line top, in font sizes.
const GLYPH_TOP: f32 = 0.19;
/// Height of one glyph row, in font sizes (8 rows: caps use 7, row 8 is the descender).
const ROW_HEIGHT: f32 = 0.1;
/// Supersamples per axis.
const SAMPLES: usize = 4;

/// A laid-out line: a byte range of the text and where it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub start: usize,
    pub end: usize,
    pub x: f32,
    pub y: f32,
}

fn advance(font_size: u32) -> f32 {
    font_size as f32 * ADVANCE
}

fn text_width(s: &str, font_size: u32) -> f32 {
    s.chars().count() as f32 * advance(font_size)
}

/// Lays `block` out as the viewer does: each paragraph word-wrapped to the width (a line
/// breaks before a word that would overflow it, trailing spaces trimmed, leading ones of the
/// next line dropped), lines `1.2 × font_size` apart, stopping after the paragraph that
/// passes the bottom.
pub fn layout(block: &TextBlock) -> Vec<Line> {
    let text = block.text.as_str();
    let w = block.width as f32;
    let h = block.height as f32;
    let fs = block.font_size;
    let line_h = fs as f32 * LINE_HEIGHT;
    let mut lines = Vec::new();
    let mut y = 0.0f32;
    let mut emit = |start: usize, end: usize, y: f32| {
        let width = text_width(&text[start..end], fs);
        let x = match block.alignment {
            TextAlign::Left => 0.0,
            TextAlign::Center => (w - width) / 2.0,
            TextAlign::Right => w - width,
        };
        lines.push(Line { start, end, x, y });
    };
    for (para_start, para_end) in paragraphs(text) {
        let mut line: Option<(usize, usize)> = None;
        for (ts, te) in tokens(&text[para_start..para_end]) {
            let (ts, te) = (para_start + ts, para_start + te);
            match line {
                None => line = Some((ts, te)),
                Some((ls, le)) => {
                    let candidate = text_width(&text[ls..te], fs);
                    if w > 0.0 && le > ls && candidate > w {
                        let trimmed = ls + text[ls..le].trim_end().len();
                        emit(ls, trimmed, y);
                        y += line_h;
                        let word = &text[ts..te];
                        let lead = word.len() - word.trim_start().len();
                        line = Some((ts + lead, te));
                    } else {
                        line = Some((ls, te));
                    }
                }
            }
        }
        let (ls, le) = line.unwrap_or((para_start, para_start));
        emit(ls, le, y);
        y += line_h;
        if h > 0.0 && y > h {
            break;
        }
    }
    lines
}

/// Paragraphs split at `\r\n`, `\r` or `\n`, as byte ranges.
fn paragraphs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.push((start, i));
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            b'\n' => {
                out.push((start, i));
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push((start, bytes.len()));
    out
}

/// Alternating runs of whitespace and non-whitespace (JavaScript's `split(/(\s+)/)`).
fn tokens(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut space: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let ws = c.is_whitespace();
        if space.is_some_and(|sp| sp != ws) {
            out.push((start, i));
            start = i;
        }
        space = Some(ws);
    }
    if start < s.len() {
        out.push((start, s.len()));
    }
    out
}

/// The resolved style of one character.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CharStyle {
    bold: bool,
    italic: bool,
    underline: bool,
    color: [u8; 4],
}

fn style_at(block: &TextBlock, byte: usize) -> CharStyle {
    let mut s = CharStyle {
        bold: false,
        italic: false,
        underline: false,
        color: block.color,
    };
    // Runs in the order they were first set; a later run wins where runs overlap.
    for run in &block.styles {
        if (run.start as usize) <= byte && byte < run.end as usize {
            match run.style {
                TextStyle::Bold(v) => s.bold = v,
                TextStyle::Italic(v) => s.italic = v,
                TextStyle::Underline(v) => s.underline = v,
                TextStyle::Color(c) => s.color = c,
            }
        }
    }
    s
}

fn glyph(c: char) -> [u8; 8] {
    let code = c as usize;
    if code < BASIC_LEGACY.len() {
        BASIC_LEGACY[code]
    } else {
        BASIC_LEGACY[b'?' as usize]
    }
}

/// Whether glyph `g` covers the point `(gx, gy)` in glyph cells (8×8).
fn covers(g: &[u8; 8], gx: f32, gy: f32, bold: bool, underline: bool) -> bool {
    if underline && (7.6..8.0).contains(&gy) && (0.0..8.0).contains(&gx) {
        return true;
    }
    if !(0.0..8.0).contains(&gy) || !(0.0..8.0).contains(&gx) {
        return false;
    }
    let row = g[gy as usize];
    let col = gx as usize;
    let bit = |c: usize| row >> c & 1 == 1;
    bit(col) || (bold && col > 0 && bit(col - 1))
}

/// Rasterises `block` into a straight-alpha RGBA image of `width × height` (at least 1×1).
pub fn rasterize(block: &TextBlock) -> ImageData {
    let w = block.width.max(1) as usize;
    let h = block.height.max(1) as usize;
    let background: [f32; 4] = if block.boxed { [1.0; 4] } else { [0.0; 4] };
    // Premultiplied while drawing.
    let mut px = vec![background; w * h];
    let fs = block.font_size as f32;
    let cell_w = advance(block.font_size) / 8.0;
    let cell_h = fs * ROW_HEIGHT;
    for line in layout(block) {
        let mut pen = line.x;
        for (offset, c) in block.text[line.start..line.end].char_indices() {
            let style = style_at(block, line.start + offset);
            let g = glyph(c);
            let top = line.y + fs * GLYPH_TOP;
            let x0 = (pen - cell_w * 2.0).floor().max(0.0) as usize;
            let x1 = ((pen + advance(block.font_size) + cell_w * 2.0).ceil() as usize).min(w);
            let y0 = top.floor().max(0.0) as usize;
            let y1 = ((top + cell_h * 8.0).ceil() as usize).min(h);
            let color = style.color.map(|v| f32::from(v) / 255.0);
            for y in y0..y1 {
                for x in x0..x1 {
                    let mut hits = 0u32;
                    for sy in 0..SAMPLES {
                        let py = y as f32 + (sy as f32 + 0.5) / SAMPLES as f32;
                        let gy = (py - top) / cell_h;
                        let slant = if style.italic { (7.0 - gy) * 0.22 } else { 0.0 };
                        for sx in 0..SAMPLES {
                            let pxs = x as f32 + (sx as f32 + 0.5) / SAMPLES as f32;
                            let gx = (pxs - pen) / cell_w - slant;
                            if covers(&g, gx, gy, style.bold, style.underline) {
                                hits += 1;
                            }
                        }
                    }
                    if hits == 0 {
                        continue;
                    }
                    let a = color[3] * hits as f32 / (SAMPLES * SAMPLES) as f32;
                    let d = &mut px[y * w + x];
                    for k in 0..3 {
                        d[k] = color[k] * a + d[k] * (1.0 - a);
                    }
                    d[3] = a + d[3] * (1.0 - a);
                }
            }
            pen += advance(block.font_size);
        }
    }
    let mut out = Vec::with_capacity(w * h * 4);
    for p in px {
        let a = p[3];
        let un = |v: f32| {
            if a > 0.0 {
                (v / a * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        };
        out.extend_from_slice(&[
            un(p[0]),
            un(p[1]),
            un(p[2]),
            (a * 255.0).round().clamp(0.0, 255.0) as u8,
        ]);
    }
    ImageData {
        width: w as u32,
        height: h as u32,
        pixels: Arc::new(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::list::TextStyleRun;

    fn block(text: &str, width: u32, alignment: TextAlign) -> TextBlock {
        TextBlock {
            text: text.into(),
            font_size: 10,
            color: [255, 0, 0, 255],
            alignment,
            width,
            height: 100,
            boxed: false,
            styles: Vec::new(),
        }
    }

    #[test]
    fn lines_wrap_before_the_word_that_overflows() {
        // 5.5 px a character: "aaa bbb" is 38.5 px, so a 30 px box breaks before "bbb".
        let b = block("aaa bbb\nc", 30, TextAlign::Left);
        let lines = layout(&b);
        let texts: Vec<&str> = lines.iter().map(|l| &b.text[l.start..l.end]).collect();
        assert_eq!(texts, ["aaa", "bbb", "c"]);
        assert_eq!(lines[1].y, 12.0);
        assert_eq!(lines[2].y, 24.0);
    }

    #[test]
    fn alignment_centres_and_right_aligns() {
        let centred = layout(&block("ab", 100, TextAlign::Center));
        assert!((centred[0].x - (100.0 - 11.0) / 2.0).abs() < 1e-4);
        let right = layout(&block("ab", 100, TextAlign::Right));
        assert!((right[0].x - 89.0).abs() < 1e-4);
    }

    #[test]
    fn glyphs_draw_in_the_text_colour_and_a_box_only_when_asked() {
        let b = block("H", 12, TextAlign::Left);
        let img = rasterize(&b);
        let opaque: Vec<&[u8]> = img.pixels.chunks(4).filter(|p| p[3] == 255).collect();
        assert!(!opaque.is_empty());
        assert!(opaque.iter().all(|p| p[0] == 255 && p[1] == 0));
        assert_eq!(&img.pixels[0..4], &[0, 0, 0, 0], "no box");
        let boxed = rasterize(&TextBlock {
            boxed: true,
            ..b.clone()
        });
        assert_eq!(&boxed.pixels[0..4], &[255, 255, 255, 255]);
        let styled = rasterize(&TextBlock {
            styles: vec![TextStyleRun {
                start: 0,
                end: 1,
                style: TextStyle::Bold(true),
            }],
            ..b
        });
        let ink = |i: &ImageData| i.pixels.chunks(4).filter(|p| p[3] > 0).count();
        assert!(ink(&styled) > ink(&img), "bold adds ink");
    }
}
