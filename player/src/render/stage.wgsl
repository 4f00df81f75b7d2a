// The stage shader: one instanced quad per item over its pixel bounding box; the fragment
// stage evaluates the item at the pixel centre. This is `raster::shade` (raster.rs) in WGSL,
// line for line, so the GPU and CPU renderers agree to rounding. Output is premultiplied and
// blended `src + dst * (1 - src.a)`.

struct Item {
    inv: vec4<f32>,
    inv_t_size: vec4<f32>,
    bbox: vec4<f32>,
    color: vec4<f32>,
    params: vec4<f32>,
    kind: vec4<u32>,
    image: vec4<u32>,
};

struct Frame {
    size: vec4<f32>,
};

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> items: array<Item>;
@group(0) @binding(2) var<storage, read> pixels: array<u32>;

const KIND_OVAL: u32 = 1u;
const KIND_ROUND_RECT: u32 = 2u;
const KIND_LINE: u32 = 3u;
const KIND_IMAGE: u32 = 4u;
const FLAG_FILLED: u32 = 1u;
const FLAG_KEYED: u32 = 1u;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) @interpolate(flat) index: u32,
};

@vertex
fn vs_main(@builtin(vertex_index) v: u32, @builtin(instance_index) i: u32) -> VsOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let b = items[i].bbox;
    let c = corners[v];
    let p = vec2<f32>(mix(b.x, b.z, c.x), mix(b.y, b.w, c.y));
    var out: VsOut;
    out.pos = vec4<f32>(p.x / frame.size.x * 2.0 - 1.0, 1.0 - p.y / frame.size.y * 2.0, 0.0, 1.0);
    out.index = i;
    return out;
}

fn sd_box(q: vec2<f32>, h: vec2<f32>) -> f32 {
    let d = abs(q) - h;
    return length(max(d, vec2<f32>(0.0))) + min(max(d.x, d.y), 0.0);
}

fn sd_round_box(q: vec2<f32>, h: vec2<f32>, r: f32) -> f32 {
    let d = abs(q) - h + vec2<f32>(r);
    return length(max(d, vec2<f32>(0.0))) + min(max(d.x, d.y), 0.0) - r;
}

fn sd_ellipse(q: vec2<f32>, ab: vec2<f32>) -> f32 {
    let k0 = length(q / ab);
    let k1 = length(q / (ab * ab));
    if (k1 <= 0.0) {
        return -min(ab.x, ab.y);
    }
    return k0 * (k0 - 1.0) / k1;
}

fn texel(offset: u32, iw: u32, x: i32, y: i32, keyed: bool) -> vec4<f32> {
    let v = pixels[offset + u32(y) * iw + u32(x)];
    let c = unpack4x8unorm(v);
    var a = c.a;
    if (keyed && (v & 0x00ffffffu) == 0x00ffffffu) {
        a = 0.0;
    }
    return vec4<f32>(c.rgb * a, a);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let item = items[in.index];
    let p = in.pos.xy;
    let u = vec2<f32>(
        item.inv.x * p.x + item.inv.y * p.y + item.inv_t_size.x,
        item.inv.z * p.x + item.inv.w * p.y + item.inv_t_size.y,
    );
    let size = item.inv_t_size.zw;
    let lw = item.params.x;
    let s = item.params.y;
    let alpha = item.params.z;
    let kind = item.kind.x;
    let flags = item.kind.y;
    let half = size * 0.5;
    let q = u - half;

    if (kind == KIND_IMAGE) {
        let cov = clamp(0.5 - sd_box(q, half) * s, 0.0, 1.0);
        if (cov <= 0.0) {
            return vec4<f32>(0.0);
        }
        let iw = item.kind.w;
        let ih = item.image.x;
        let offset = item.kind.z;
        let f = vec2<f32>(u.x * f32(iw) / size.x - 0.5, u.y * f32(ih) / size.y - 0.5);
        let f0 = floor(f);
        let t = f - f0;
        let max_x = i32(iw) - 1;
        let max_y = i32(ih) - 1;
        let x0 = clamp(i32(f0.x), 0, max_x);
        let x1 = clamp(i32(f0.x) + 1, 0, max_x);
        let y0 = clamp(i32(f0.y), 0, max_y);
        let y1 = clamp(i32(f0.y) + 1, 0, max_y);
        let keyed = (flags & FLAG_KEYED) != 0u;
        let top = mix(texel(offset, iw, x0, y0, keyed), texel(offset, iw, x1, y0, keyed), t.x);
        let bottom = mix(texel(offset, iw, x0, y1, keyed), texel(offset, iw, x1, y1, keyed), t.x);
        let c = mix(top, bottom, t.y);
        let k = item.color.a * alpha * cov;
        return vec4<f32>(c.rgb * item.color.rgb * k, c.a * k);
    }

    var cov = 0.0;
    if (kind == KIND_LINE) {
        let len = length(size);
        if (len > 0.0) {
            let dir = size / len;
            let along = u.x * dir.x + u.y * dir.y;
            let across = abs(u.x * dir.y - u.y * dir.x);
            cov = clamp(0.5 * lw * s + 0.5 - across * s, 0.0, 1.0)
                * clamp(0.5 + along * s, 0.0, 1.0)
                * clamp(0.5 + (len - along) * s, 0.0, 1.0);
        }
    } else {
        var d = 0.0;
        if (kind == KIND_OVAL) {
            if (half.x > 0.0 && half.y > 0.0) {
                d = sd_ellipse(q, half);
            } else {
                d = 1.0e9;
            }
        } else if (kind == KIND_ROUND_RECT) {
            d = sd_round_box(q, half, item.params.w);
        } else {
            d = sd_box(q, half);
        }
        if ((flags & FLAG_FILLED) != 0u) {
            cov = clamp(0.5 - d * s, 0.0, 1.0);
        } else {
            cov = clamp(0.5 * lw * s + 0.5 - abs(d) * s, 0.0, 1.0);
        }
    }
    let a = item.color.a * alpha * cov;
    return vec4<f32>(item.color.rgb * a, a);
}
