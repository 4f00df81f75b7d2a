//! The per-pixel rules both renderers follow, and the preparation that turns a render list
//! into flat items for them.
//!
//! Every item is drawn by evaluating, at each pixel centre of its bounding box, the point in
//! the item's local space (through the inverse transform) and what the member shows there:
//! a shape's coverage from its signed distance (anti-aliased over one pixel), or a bitmap
//! sampled bilinearly by hand (white keyed out first for ink 36/8, then premultiplied). The
//! result is premultiplied and blended `src + dst × (1 − src.a)` into an 8-bit target.
//!
//! [`shade`] is the reference; `stage.wgsl` is the same function for the GPU, line for line
//! and in `f32`, and the CPU renderer calls [`shade`] — so the two agree to rounding.

use bytemuck::{Pod, Zeroable};

use super::list::{Affine, Content, DrawItem, ImageData, RenderList, Rgba};
use crate::member::ShapeType;

/// Item kinds (`kind[0]`).
pub const KIND_RECT: u32 = 0;
pub const KIND_OVAL: u32 = 1;
pub const KIND_ROUND_RECT: u32 = 2;
pub const KIND_LINE: u32 = 3;
pub const KIND_IMAGE: u32 = 4;
/// `kind[1]` flags: a filled shape, or a keyed (white-transparent) image.
pub const FLAG_FILLED: u32 = 1;
pub const FLAG_KEYED: u32 = 1;

/// One item as both renderers read it. `#[repr(C)]` and laid out as the WGSL `Item`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuItem {
    /// Output pixel → local: `local.x = m[0]·x + m[1]·y + t[0]`, `local.y = m[2]·x + m[3]·y + t[1]`.
    pub inv: [f32; 4],
    /// `[t.x, t.y, width, height]`.
    pub inv_t_size: [f32; 4],
    /// Pixel bounds `[x0, y0, x1, y1)` in the output.
    pub bbox: [f32; 4],
    /// Shapes: the colour (straight alpha). Images: the tint.
    pub color: [f32; 4],
    /// `[line width (local), output pixels per local unit, opacity, corner radius (local)]`.
    pub params: [f32; 4],
    /// `[kind, flags, image offset (pixels, GPU) or slot (CPU), image width]`.
    pub kind: [u32; 4],
    /// `[image height, 0, 0, 0]`.
    pub image: [u32; 4],
}

/// A render list made flat for an output size: items with their images in slots.
#[derive(Debug, Default)]
pub struct Prepared {
    pub width: u32,
    pub height: u32,
    /// The stage colour, straight alpha.
    pub background: Rgba,
    /// `kind[2]` of an image item is an index into `images`.
    pub items: Vec<GpuItem>,
    pub images: Vec<ImageData>,
}

/// Resolves text to images (through `text_image`) and flattens `list` for a `width × height`
/// output (the stage is scaled to fill it).
pub fn prepare(
    list: &RenderList,
    width: u32,
    height: u32,
    mut text_image: impl FnMut(&super::list::TextBlock) -> ImageData,
) -> Prepared {
    let mut out = Prepared {
        width,
        height,
        background: super::list::rgba(list.background),
        items: Vec::with_capacity(list.items.len()),
        images: Vec::new(),
    };
    let to_output = Affine::scale(
        f64::from(width) / f64::from(list.width.max(1)),
        f64::from(height) / f64::from(list.height.max(1)),
    );
    for item in &list.items {
        let image = match &item.content {
            Content::Image { image, .. } => Some(image.clone()),
            Content::Text(block) => Some(text_image(block)),
            Content::Shape { .. } => None,
        };
        let slot = image.map(|img| {
            // Consecutive items often share a bitmap (the demo's orbiters do).
            match out.images.iter().position(|i| *i == img) {
                Some(i) => i,
                None => {
                    out.images.push(img);
                    out.images.len() - 1
                }
            }
        });
        if let Some(g) = flatten(item, &to_output, width, height, slot, &out.images) {
            out.items.push(g);
        }
    }
    out
}

fn flatten(
    item: &DrawItem,
    to_output: &Affine,
    width: u32,
    height: u32,
    slot: Option<usize>,
    images: &[ImageData],
) -> Option<GpuItem> {
    let m = to_output.then(&item.to_stage);
    let inv = m.invert()?;
    let px_scale = m.determinant().abs().sqrt();
    let (kind, flags, color, line_width) = match &item.content {
        Content::Shape {
            shape,
            color,
            filled,
            line_width,
        } => {
            let kind = match shape {
                ShapeType::Rect => KIND_RECT,
                ShapeType::Oval => KIND_OVAL,
                ShapeType::RoundRect => KIND_ROUND_RECT,
                ShapeType::Line => KIND_LINE,
            };
            let flags = if *filled { FLAG_FILLED } else { 0 };
            (kind, flags, *color, *line_width)
        }
        Content::Image { keyed, .. } => (
            KIND_IMAGE,
            if *keyed { FLAG_KEYED } else { 0 },
            item.tint,
            0.0,
        ),
        Content::Text(_) => (KIND_IMAGE, 0, item.tint, 0.0),
    };
    if item.alpha <= 0.0 || color[3] <= 0.0 {
        return None;
    }
    let stroked = kind == KIND_LINE || (kind != KIND_IMAGE && flags & FLAG_FILLED == 0);
    // One output pixel of anti-aliasing, plus half the stroke, around the local rectangle.
    let margin = if stroked {
        f64::from(line_width) / 2.0
    } else {
        0.0
    } + 1.5 / px_scale;
    let (w, h) = (item.width, item.height);
    let corners = [
        (-margin, -margin),
        (w + margin, -margin),
        (w + margin, h + margin),
        (-margin, h + margin),
    ];
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in corners {
        let (px, py) = m.apply(x, y);
        x0 = x0.min(px);
        y0 = y0.min(py);
        x1 = x1.max(px);
        y1 = y1.max(py);
    }
    let clamp_x = |v: f64| v.clamp(0.0, f64::from(width));
    let clamp_y = |v: f64| v.clamp(0.0, f64::from(height));
    let bbox = [
        clamp_x(x0.floor()),
        clamp_y(y0.floor()),
        clamp_x(x1.ceil()),
        clamp_y(y1.ceil()),
    ];
    if !bbox.iter().all(|v| v.is_finite()) || bbox[2] <= bbox[0] || bbox[3] <= bbox[1] {
        return None;
    }
    let (slot, iw, ih) = match slot {
        Some(s) => (s as u32, images[s].width, images[s].height),
        None => (0, 0, 0),
    };
    Some(GpuItem {
        inv: [inv.a as f32, inv.c as f32, inv.b as f32, inv.d as f32],
        inv_t_size: [inv.e as f32, inv.f as f32, w as f32, h as f32],
        bbox: bbox.map(|v| v as f32),
        color,
        params: [
            line_width,
            px_scale as f32,
            item.alpha,
            (w.min(h) * 0.2) as f32,
        ],
        kind: [kind, flags, slot, iw],
        image: [ih, 0, 0, 0],
    })
}

fn clamp01(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

/// Signed distance to a box of half-size `(hx, hy)` centred at the origin.
fn sd_box(qx: f32, qy: f32, hx: f32, hy: f32) -> f32 {
    let dx = qx.abs() - hx;
    let dy = qy.abs() - hy;
    length(dx.max(0.0), dy.max(0.0)) + dx.max(dy).min(0.0)
}

/// Signed distance to a rounded box (corner radius `r`).
fn sd_round_box(qx: f32, qy: f32, hx: f32, hy: f32, r: f32) -> f32 {
    let dx = qx.abs() - hx + r;
    let dy = qy.abs() - hy + r;
    length(dx.max(0.0), dy.max(0.0)) + dx.max(dy).min(0.0) - r
}

/// Approximate signed distance to an ellipse of radii `(a, b)` (first-order, exact on the
/// outline).
fn sd_ellipse(qx: f32, qy: f32, a: f32, b: f32) -> f32 {
    let k0 = length(qx / a, qy / b);
    let k1 = length(qx / (a * a), qy / (b * b));
    if k1 <= 0.0 {
        return -a.min(b);
    }
    k0 * (k0 - 1.0) / k1
}

/// Where [`shade`] reads an image's texels: premultiplied floats, white keyed out when the
/// item asks for it.
pub trait Texels {
    /// Texel `(x, y)`, both in range.
    fn texel(&self, x: i32, y: i32) -> [f32; 4];
}

/// Texels read straight from an image's RGBA8 bytes (the reference; the GPU does this).
#[derive(Debug, Clone, Copy)]
pub struct ImageTexels<'a> {
    pub pixels: &'a [u8],
    pub width: u32,
    pub keyed: bool,
}

impl Texels for ImageTexels<'_> {
    fn texel(&self, x: i32, y: i32) -> [f32; 4] {
        texel(self.pixels, self.width, x, y, self.keyed)
    }
}

/// Texels converted once ahead of time ([`premultiply`]); the same values, cheaper to read.
#[derive(Debug, Clone, Copy)]
pub struct PremultipliedTexels<'a> {
    pub texels: &'a [[f32; 4]],
    pub width: u32,
}

impl Texels for PremultipliedTexels<'_> {
    #[inline]
    fn texel(&self, x: i32, y: i32) -> [f32; 4] {
        self.texels[y as usize * self.width as usize + x as usize]
    }
}

/// Every texel of `image` as [`Texels`] reads it.
pub fn premultiply(image: &ImageData, keyed: bool) -> Vec<[f32; 4]> {
    let w = image.width as i32;
    let h = image.height as i32;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h {
        for x in 0..w {
            out.push(texel(&image.pixels, image.width, x, y, keyed));
        }
    }
    out
}

/// Reads texel `(x, y)` of `pixels` as premultiplied floats, keying out white when asked.
#[inline]
fn texel(pixels: &[u8], iw: u32, x: i32, y: i32, keyed: bool) -> [f32; 4] {
    let i = (y as usize * iw as usize + x as usize) * 4;
    let p = &pixels[i..i + 4];
    let mut a = f32::from(p[3]) / 255.0;
    if keyed && p[0] == 255 && p[1] == 255 && p[2] == 255 {
        a = 0.0;
    }
    [
        f32::from(p[0]) / 255.0 * a,
        f32::from(p[1]) / 255.0 * a,
        f32::from(p[2]) / 255.0 * a,
        a,
    ]
}

fn mix4(a: [f32; 4], b: [f32; 4], t: f32) -> [f32; 4] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
        a[3] + (b[3] - a[3]) * t,
    ]
}

/// What `item` contributes at output pixel centre `(px, py)`: a premultiplied colour.
/// `image` is the item's image (`None` for shapes).
pub fn shade(item: &GpuItem, image: Option<&ImageData>, px: f32, py: f32) -> [f32; 4] {
    let texels = image.map(|img| ImageTexels {
        pixels: &img.pixels,
        width: img.width,
        keyed: item.kind[1] & FLAG_KEYED != 0,
    });
    shade_with(item, texels.as_ref(), px, py)
}

/// [`shade`] reading the image through `texels`.
#[inline]
pub fn shade_with<T: Texels>(item: &GpuItem, texels: Option<&T>, px: f32, py: f32) -> [f32; 4] {
    let ux = item.inv[0] * px + item.inv[1] * py + item.inv_t_size[0];
    let uy = item.inv[2] * px + item.inv[3] * py + item.inv_t_size[1];
    let w = item.inv_t_size[2];
    let h = item.inv_t_size[3];
    let lw = item.params[0];
    let s = item.params[1];
    let alpha = item.params[2];
    let kind = item.kind[0];
    let flags = item.kind[1];
    let hx = w * 0.5;
    let hy = h * 0.5;
    let qx = ux - hx;
    let qy = uy - hy;

    if kind == KIND_IMAGE {
        let cov = clamp01(0.5 - sd_box(qx, qy, hx, hy) * s);
        let Some(img) = texels else {
            return [0.0; 4];
        };
        if cov <= 0.0 {
            return [0.0; 4];
        }
        let iw = item.kind[3];
        let ih = item.image[0];
        let fx = ux * iw as f32 / w - 0.5;
        let fy = uy * ih as f32 / h - 0.5;
        let x0f = fx.floor();
        let y0f = fy.floor();
        let tx = fx - x0f;
        let ty = fy - y0f;
        let max_x = iw as i32 - 1;
        let max_y = ih as i32 - 1;
        let x0 = (x0f as i32).clamp(0, max_x);
        let x1 = (x0f as i32 + 1).clamp(0, max_x);
        let y0 = (y0f as i32).clamp(0, max_y);
        let y1 = (y0f as i32 + 1).clamp(0, max_y);
        let top = mix4(img.texel(x0, y0), img.texel(x1, y0), tx);
        let bottom = mix4(img.texel(x0, y1), img.texel(x1, y1), tx);
        let c = mix4(top, bottom, ty);
        let k = item.color[3] * alpha * cov;
        return [
            c[0] * item.color[0] * k,
            c[1] * item.color[1] * k,
            c[2] * item.color[2] * k,
            c[3] * k,
        ];
    }

    let cov = if kind == KIND_LINE {
        let len = length(w, h);
        if len <= 0.0 {
            0.0
        } else {
            let dx = w / len;
            let dy = h / len;
            let along = ux * dx + uy * dy;
            let across = (ux * dy - uy * dx).abs();
            clamp01(0.5 * lw * s + 0.5 - across * s)
                * clamp01(0.5 + along * s)
                * clamp01(0.5 + (len - along) * s)
        }
    } else {
        let d = if kind == KIND_OVAL {
            if hx > 0.0 && hy > 0.0 {
                sd_ellipse(qx, qy, hx, hy)
            } else {
                1.0e9
            }
        } else if kind == KIND_ROUND_RECT {
            sd_round_box(qx, qy, hx, hy, item.params[3])
        } else {
            sd_box(qx, qy, hx, hy)
        };
        if flags & FLAG_FILLED != 0 {
            clamp01(0.5 - d * s)
        } else {
            clamp01(0.5 * lw * s + 0.5 - d.abs() * s)
        }
    };
    let a = item.color[3] * alpha * cov;
    [item.color[0] * a, item.color[1] * a, item.color[2] * a, a]
}

/// Blends a premultiplied colour over a premultiplied 8-bit pixel, rounding as a unorm
/// target does.
#[inline]
pub fn blend_over(dst: &mut [u8], src: [f32; 4]) {
    let keep = 1.0 - src[3];
    for k in 0..4 {
        let v = src[k] + f32::from(dst[k]) / 255.0 * keep;
        dst[k] = (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    }
}

/// Premultiplied 8-bit pixels back to straight alpha, in place.
pub fn unpremultiply(rgba: &mut [u8]) {
    for p in rgba.chunks_exact_mut(4) {
        let a = p[3];
        if a == 255 {
            continue;
        }
        if a == 0 {
            p[0] = 0;
            p[1] = 0;
            p[2] = 0;
            continue;
        }
        for v in &mut p[..3] {
            *v = ((u32::from(*v) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
        }
    }
}

/// The stage colour as a premultiplied 8-bit pixel.
pub fn background_pixel(bg: Rgba) -> [u8; 4] {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    [
        q(bg[0] * bg[3]),
        q(bg[1] * bg[3]),
        q(bg[2] * bg[3]),
        q(bg[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect_item(filled: bool) -> GpuItem {
        GpuItem {
            inv: [1.0, 0.0, 0.0, 1.0],
            inv_t_size: [-10.0, -10.0, 20.0, 10.0],
            bbox: [0.0; 4],
            color: [1.0, 0.0, 0.0, 1.0],
            params: [2.0, 1.0, 1.0, 2.0],
            kind: [KIND_RECT, if filled { FLAG_FILLED } else { 0 }, 0, 0],
            image: [0; 4],
        }
    }

    #[test]
    fn a_filled_rect_covers_whole_pixels_inside_and_none_outside() {
        let item = rect_item(true);
        assert_eq!(shade(&item, None, 10.5, 10.5)[3], 1.0);
        assert_eq!(shade(&item, None, 29.5, 19.5)[3], 1.0);
        assert_eq!(shade(&item, None, 30.5, 15.5)[3], 0.0);
        assert_eq!(shade(&item, None, 9.5, 15.5)[3], 0.0);
        assert_eq!(
            shade(&item, None, 20.0, 10.0)[3],
            0.5,
            "an edge half covers"
        );
    }

    #[test]
    fn an_outline_is_drawn_along_the_edge_only() {
        let item = rect_item(false);
        assert!(shade(&item, None, 20.5, 10.5)[3] > 0.9);
        assert_eq!(shade(&item, None, 20.5, 15.5)[3], 0.0);
    }

    #[test]
    fn keyed_images_drop_white_and_blending_rounds_like_a_unorm_target() {
        let img = ImageData {
            width: 2,
            height: 1,
            pixels: std::sync::Arc::new(vec![255, 255, 255, 255, 0, 0, 255, 255]),
        };
        let mut item = rect_item(true);
        item.inv_t_size = [0.0, 0.0, 2.0, 1.0];
        item.color = [1.0; 4];
        item.kind = [KIND_IMAGE, FLAG_KEYED, 0, 2];
        item.image = [1, 0, 0, 0];
        assert_eq!(shade(&item, Some(&img), 0.5, 0.5), [0.0; 4]);
        assert_eq!(shade(&item, Some(&img), 1.5, 0.5), [0.0, 0.0, 1.0, 1.0]);
        item.kind[1] = 0;
        assert_eq!(shade(&item, Some(&img), 0.5, 0.5), [1.0; 4]);
        let mut px = [0u8, 0, 0, 255];
        blend_over(&mut px, [0.5, 0.0, 0.0, 0.5]);
        assert_eq!(px, [128, 0, 0, 255]);
        let mut half = [100u8, 50, 0, 128];
        unpremultiply(&mut half);
        assert_eq!(half, [199, 100, 0, 128]);
    }
}
