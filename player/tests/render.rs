//! The renderer: golden images of demo frames and of a scene that uses every drawing feature,
//! the same goldens for the CPU and the GPU renderer, the drawing conventions checked pixel by
//! pixel, and the render thread publishing tiles a viewer can put back together.
//!
//! Goldens are written by the CPU renderer with `STAGELINK_BLESS=1`. The GPU checks need a
//! wgpu adapter (Mesa's lavapipe will do): without one they are skipped with a note, unless
//! `STAGELINK_REQUIRE_GPU=1` (as `scripts/test` sets after installing lavapipe), which makes
//! a missing adapter a failure.

use serde_json::json;
use stagelink_contracts::pixels::decode_tile;
use stagelink_contracts::{Color, MemberRef, PropValue};
use stagelink_player::demo;
use stagelink_player::engine::Engine;
use stagelink_player::member::{
    Alignment, Bitmap, FilmLoop, Member, MemberKind, Shape, ShapeType, Text,
};
use stagelink_player::movie::{Cast, Movie, Stage};
use stagelink_player::render::{RenderList, RenderThread, StageRenderer};
use stagelink_player::score::{Score, SpriteSpan, SpriteState};
use stagelink_publisher::{ConnectionInfo, Flow, Hub, HubConfig, Outgoing, Session};
use std::path::PathBuf;

/// A channel may differ by this much between a render and its golden...
const CHANNEL_TOLERANCE: u8 = 3;
/// ...and at most this share of pixels (per mille) may differ by more.
const BAD_PIXELS_PER_MILLE: usize = 2;

/// Demo frames with goldens: a fade in progress, the middle of act one, a dissolve in
/// progress (from frame 120's picture), act two.
const DEMO_FRAMES: [u32; 4] = [5, 60, 130, 200];
/// Every frame rendered, in order (frame 120 is the picture the dissolve at 121 starts from).
const DEMO_SEQUENCE: [u32; 5] = [5, 60, 120, 130, 200];

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.png"))
}

fn blessing() -> bool {
    std::env::var("STAGELINK_BLESS").is_ok_and(|v| v == "1")
}

fn write_png(path: &PathBuf, width: u32, height: u32, rgba: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(rgba).unwrap();
    writer.finish().unwrap();
}

fn read_png(path: &PathBuf) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "golden {} missing ({e}); write it with STAGELINK_BLESS=1",
            path.display()
        )
    });
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// How many pixels differ by more than the tolerance, and the largest difference.
fn difference(a: &[u8], b: &[u8]) -> (usize, u8) {
    let mut bad = 0;
    let mut worst = 0;
    for (p, q) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        let d = p
            .iter()
            .zip(q)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        worst = worst.max(d);
        if d > CHANNEL_TOLERANCE {
            bad += 1;
        }
    }
    (bad, worst)
}

/// Compares a render with its golden (or writes the golden when blessing and `may_bless`).
fn check_golden(name: &str, who: &str, width: u32, height: u32, rgba: &[u8], may_bless: bool) {
    let path = golden_path(name);
    if blessing() && may_bless {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_png(&path, width, height, rgba);
        eprintln!("blessed {}", path.display());
        return;
    }
    let (w, h, golden) = read_png(&path);
    assert_eq!((w, h), (width, height), "{name}: size");
    let (bad, worst) = difference(rgba, &golden);
    let allowed = (width * height) as usize * BAD_PIXELS_PER_MILLE / 1000;
    if bad > allowed {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{who}.png"));
        write_png(&out, width, height, rgba);
        panic!(
            "{who} render of {name}: {bad} pixels differ by more than {CHANNEL_TOLERANCE} \
             (allowed {allowed}; worst {worst}); the render is at {}",
            out.display()
        );
    }
    eprintln!("{who} {name}: {bad} pixels over tolerance (allowed {allowed}), worst {worst}");
}

/// The GPU renderer, or `None` (with a note) when there is no adapter and none is required.
fn gpu_or_skip() -> Option<StageRenderer> {
    match StageRenderer::gpu() {
        Ok(r) => {
            eprintln!("adapter: {}", r.name());
            Some(r)
        }
        Err(e) => {
            let required = std::env::var("STAGELINK_REQUIRE_GPU").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "STAGELINK_REQUIRE_GPU=1 but the GPU renderer is unavailable: {e}"
            );
            eprintln!(
                "note: GPU renderer check skipped: {e} (set STAGELINK_REQUIRE_GPU=1 to fail)"
            );
            None
        }
    }
}

/// The demo's render lists for `frames` (ascending), ticking from the start.
fn demo_lists(frames: &[u32]) -> Vec<RenderList> {
    let mut engine = demo::demo_engine();
    let mut out = Vec::new();
    for &f in frames {
        loop {
            let tick = engine.tick([]);
            if tick.frame == f {
                break;
            }
            assert!(tick.frame < f, "the demo skipped frame {f}");
        }
        out.push(RenderList::from_state(engine.state()));
    }
    out
}

fn render_demo(renderer: &mut StageRenderer, who: &str, may_bless: bool) {
    for list in demo_lists(&DEMO_SEQUENCE) {
        let rgba = renderer.render(&list).unwrap().to_vec();
        assert_eq!(rgba.len(), 640 * 480 * 4);
        if DEMO_FRAMES.contains(&list.frame) {
            let name = format!("demo_{:03}", list.frame);
            check_golden(&name, who, list.width, list.height, &rgba, may_bless);
        }
    }
}

#[test]
fn cpu_renders_the_demo_frames_as_the_goldens() {
    render_demo(&mut StageRenderer::cpu(), "cpu", true);
}

#[test]
fn gpu_renders_the_demo_frames_as_the_goldens() {
    if let Some(mut gpu) = gpu_or_skip() {
        render_demo(&mut gpu, "gpu", false);
    }
}

// ---------------------------------------------------------------- a scene of every feature

const fn m(member_num: u32) -> MemberRef {
    MemberRef {
        cast_lib: 1,
        member_num,
    }
}

fn sprite(channel: u32, member: MemberRef, at: (f64, f64), size: (f64, f64)) -> SpriteState {
    SpriteState {
        sprite_num: channel,
        begin_frame: 1,
        end_frame: 1,
        member,
        loc_h: at.0,
        loc_v: at.1,
        loc_z: 0,
        width: size.0,
        height: size.1,
        rotation: 0.0,
        skew: 0.0,
        blend: 100,
        ink: 0,
        visible: true,
        color: Color::rgb(255, 255, 255),
    }
}

fn shape(shape_type: ShapeType, fore: Color, filled: bool, line_size: u32) -> MemberKind {
    MemberKind::Shape(Shape {
        shape_type,
        fore_color: fore,
        back_color: Color::rgb(0, 0, 0),
        filled,
        line_size,
        width: 40,
        height: 30,
    })
}

/// A 4×4 bitmap: white left half, blue right half; registration point top-left.
fn white_and_blue() -> Bitmap {
    let mut px = Vec::new();
    for _y in 0..4 {
        for x in 0..4 {
            px.extend_from_slice(if x < 2 {
                &[255, 255, 255, 255]
            } else {
                &[0, 0, 255, 255]
            });
        }
    }
    let mut b = Bitmap::new(4, 4, px);
    b.reg_point = [0.0, 0.0];
    b
}

fn movie(sprites: Vec<SpriteState>, extra_members: Vec<(u32, Member)>) -> Movie {
    let mut cast = Cast::new("scene");
    let members = [
        (
            1,
            Member::new("bitmap", MemberKind::Bitmap(white_and_blue())),
        ),
        (
            2,
            Member::new(
                "rect",
                shape(ShapeType::Rect, Color::rgb(255, 0, 0), true, 1),
            ),
        ),
        (
            3,
            Member::new(
                "green",
                shape(ShapeType::Rect, Color::rgb(0, 255, 0), true, 1),
            ),
        ),
        (
            4,
            Member::new(
                "text",
                MemberKind::Text(Text {
                    text: "Hi there, stage".into(),
                    font: "sans-serif".into(),
                    font_size: 12,
                    color: Color::rgb(0, 0, 0),
                    alignment: Alignment::Center,
                    width: 60,
                    height: 40,
                    styles: Vec::new(),
                }),
            ),
        ),
        (
            5,
            Member::new(
                "oval",
                shape(ShapeType::Oval, Color::rgb(255, 200, 0), true, 1),
            ),
        ),
        (
            6,
            Member::new(
                "outline",
                shape(ShapeType::RoundRect, Color::rgb(0, 200, 255), false, 3),
            ),
        ),
        (
            7,
            Member::new(
                "line",
                shape(ShapeType::Line, Color::rgb(255, 255, 255), true, 4),
            ),
        ),
    ];
    for (n, member) in members.into_iter().chain(extra_members) {
        cast.members.insert(n, member);
    }
    let mut score = Score::new(1);
    for s in sprites {
        score.insert_span(SpriteSpan::new(s)).unwrap();
    }
    let movie = Movie {
        name: "scene".into(),
        stage: Stage {
            width: 200,
            height: 150,
            bg_color: Color::rgb(20, 20, 40),
            title: "scene".into(),
        },
        tempo: 30,
        looped: false,
        update_lock: false,
        casts: vec![cast],
        score,
    };
    movie.validate().unwrap();
    movie
}

fn render_cpu(movie: Movie) -> (RenderList, Vec<u8>) {
    let mut engine = Engine::new(movie);
    engine.tick([]);
    let list = RenderList::from_state(engine.state());
    let rgba = StageRenderer::cpu().render(&list).unwrap().to_vec();
    (list, rgba)
}

fn px(rgba: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * width + x) * 4) as usize;
    [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]]
}

fn close(a: [u8; 4], b: [u8; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2)
}

const BG: [u8; 4] = [20, 20, 40, 255];

#[test]
fn inks_key_out_white_and_blend_and_colour_modulate() {
    // Three copies of the bitmap, 40×40 each: ink 0, ink 36, ink 8 + half blend + red tint.
    let mut copy = sprite(1, m(1), (10.0, 10.0), (40.0, 40.0));
    let mut keyed = sprite(2, m(1), (60.0, 10.0), (40.0, 40.0));
    keyed.ink = 36;
    let mut matte = sprite(3, m(1), (110.0, 10.0), (40.0, 40.0));
    matte.ink = 8;
    matte.blend = 50;
    matte.color = Color::rgb(255, 0, 0);
    copy.loc_z = 1;
    let (_, rgba) = render_cpu(movie(vec![copy, keyed, matte], Vec::new()));
    let at = |x, y| px(&rgba, 200, x, y);
    assert_eq!(at(15, 30), [255, 255, 255, 255], "ink 0 keeps white");
    assert_eq!(at(45, 30), [0, 0, 255, 255]);
    assert_eq!(at(65, 30), BG, "ink 36: white is transparent");
    assert_eq!(at(95, 30), [0, 0, 255, 255]);
    assert_eq!(at(115, 30), BG, "ink 8: white is transparent");
    // Blue × red tint is black, at 50 % over the background.
    assert!(close(at(145, 30), [10, 10, 20, 255]), "{:?}", at(145, 30));
    assert_eq!(at(5, 30), BG, "registered at its top-left reg_point");
}

#[test]
fn shapes_and_text_register_at_their_centre_and_paint_by_loc_z_then_channel() {
    // Red over green though green is in a later channel: loc_z decides.
    let mut red = sprite(1, m(2), (50.0, 50.0), (40.0, 40.0));
    red.loc_z = 5;
    let green = sprite(2, m(3), (60.0, 60.0), (40.0, 40.0));
    // Same loc_z: the later channel paints on top.
    let a = sprite(3, m(2), (150.0, 50.0), (20.0, 20.0));
    let b = sprite(4, m(3), (155.0, 50.0), (20.0, 20.0));
    // Text with ink 0 sits on a white box, centred on its loc.
    let text = sprite(5, m(4), (100.0, 120.0), (60.0, 30.0));
    let (list, rgba) = render_cpu(movie(vec![red, green, a, b, text], Vec::new()));
    let at = |x, y| px(&rgba, 200, x, y);
    assert_eq!(
        at(31, 31),
        [255, 0, 0, 255],
        "a centred rect starts at loc − size/2"
    );
    assert_eq!(at(29, 31), BG);
    assert_eq!(at(65, 65), [255, 0, 0, 255], "loc_z 5 paints over loc_z 0");
    assert_eq!(at(75, 75), [0, 255, 0, 255]);
    assert_eq!(at(155, 50), [0, 255, 0, 255], "the later channel on top");
    assert_eq!(at(71, 106), [255, 255, 255, 255], "the text box");
    assert_eq!(at(68, 106), BG);
    let order: Vec<u32> = list.items.iter().map(|i| i.key.0).collect();
    assert_eq!(order, [2, 3, 4, 5, 1], "by loc_z, then channel");
}

/// The scene with everything: rotation, skew, blend, tint, inks, outlines, round corners,
/// lines, text on and off a box with a style run, and a film loop.
fn feature_scene() -> Movie {
    let mut film_score = Score::new(1);
    let dot = |ch, x, y| {
        let mut s = sprite(ch, m(5), (x, y), (10.0, 10.0));
        s.color = Color::rgb(255, 64, 64);
        s
    };
    film_score
        .insert_span(SpriteSpan::new(dot(1, 8.0, 8.0)))
        .unwrap();
    film_score
        .insert_span(SpriteSpan::new(dot(2, 24.0, 24.0)))
        .unwrap();
    let film = Member::new(
        "film",
        MemberKind::FilmLoop(FilmLoop {
            looped: true,
            width: 32,
            height: 32,
            reg_point: [16.0, 16.0],
            score: film_score,
        }),
    );
    let mut styled_text = match MemberKind::default_of("text") {
        Some(MemberKind::Text(t)) => t,
        _ => unreachable!(),
    };
    styled_text.text = "Bold word\nnext".into();
    styled_text.font_size = 14;
    styled_text.color = Color::rgb(255, 255, 255);
    styled_text
        .set_style(0, 4, "bold", PropValue::Bool(true))
        .unwrap();
    styled_text
        .set_style(5, 9, "color", PropValue::Color(Color::rgb(255, 80, 80)))
        .unwrap();

    let mut rotated = sprite(1, m(1), (40.0, 40.0), (36.0, 36.0));
    rotated.rotation = 30.0;
    rotated.ink = 36;
    rotated.color = Color::rgb(128, 255, 128);
    let mut skewed = sprite(2, m(6), (110.0, 40.0), (50.0, 30.0));
    skewed.skew = 20.0;
    let mut faded = sprite(3, m(5), (160.0, 40.0), (40.0, 50.0));
    faded.blend = 60;
    faded.rotation = -15.0;
    let line = sprite(4, m(7), (40.0, 110.0), (50.0, 30.0));
    let boxed = sprite(5, m(4), (100.0, 110.0), (60.0, 40.0));
    let mut plain = sprite(6, m(8), (100.0, 20.0), (80.0, 36.0));
    plain.ink = 36;
    let mut looped = sprite(7, m(9), (165.0, 115.0), (48.0, 48.0));
    looped.rotation = 45.0;
    movie(
        vec![rotated, skewed, faded, line, boxed, plain, looped],
        vec![
            (8, Member::new("styled", MemberKind::Text(styled_text))),
            (9, film),
        ],
    )
}

fn scene_list() -> RenderList {
    let mut engine = Engine::new(feature_scene());
    engine.tick([]);
    RenderList::from_state(engine.state())
}

#[test]
fn cpu_renders_the_feature_scene_as_its_golden() {
    let list = scene_list();
    let rgba = StageRenderer::cpu().render(&list).unwrap().to_vec();
    check_golden("features", "cpu", 200, 150, &rgba, true);
}

#[test]
fn gpu_renders_the_feature_scene_as_its_golden_and_agrees_with_the_cpu() {
    let Some(mut gpu) = gpu_or_skip() else {
        return;
    };
    let list = scene_list();
    let on_gpu = gpu.render(&list).unwrap().to_vec();
    check_golden("features", "gpu", 200, 150, &on_gpu, false);
    // Scaled to a non-square output as well (the pixel benchmark's 1280×720).
    let cpu = StageRenderer::cpu()
        .render_scaled(&list, 320, 180)
        .unwrap()
        .to_vec();
    let gpu = gpu.render_scaled(&list, 320, 180).unwrap().to_vec();
    let (bad, worst) = difference(&cpu, &gpu);
    assert!(
        bad <= 320 * 180 * BAD_PIXELS_PER_MILLE / 1000,
        "{bad} pixels differ, worst {worst}"
    );
}

#[test]
fn a_film_loop_draws_its_own_score_inside_its_sprite() {
    let list = scene_list();
    let film_items: Vec<_> = list.items.iter().filter(|i| i.key == (7, 1)).collect();
    assert_eq!(film_items.len(), 2, "the two dots of its score");
}

#[test]
fn scaled_renders_fill_the_requested_size() {
    let list = &demo_lists(&[60])[0];
    let mut cpu = StageRenderer::cpu();
    let rgba = cpu.render_scaled(list, 1280, 720).unwrap();
    assert_eq!(rgba.len(), 1280 * 720 * 4);
    // The background bitmap's top-left grid line scales to the top-left pixels.
    assert_ne!(px(rgba, 1280, 1279, 719), [0, 0, 0, 0]);
}

// ---------------------------------------------------------------- the render thread

fn now_or_never<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    match f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[tokio::test]
async fn the_render_thread_publishes_the_newest_frame_as_tiles() {
    let hub = Hub::new(HubConfig::default());
    let mut session = Session::new(&hub, ConnectionInfo::default());
    let hello = json!({"type":"hello","protocol":1,"subscribe":["pixels"]});
    assert_eq!(
        session.handle_message(hello.to_string().as_bytes()),
        Flow::Continue
    );
    let welcome = now_or_never(session.next_outgoing()).expect("welcome");
    assert!(matches!(welcome, Outgoing::Text(_)));

    let lists = demo_lists(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 40, 41, 42]);
    let newest = lists.last().unwrap().clone();
    let thread = RenderThread::spawn(StageRenderer::cpu(), hub.clone()).unwrap();
    for list in lists {
        thread.post(list); // never waits for the renderer
    }
    let stats = thread.stats();
    // Shutting down still draws what is in the mailbox: the newest list.
    thread.shutdown();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(count(&stats.posted), 13);
    assert!(count(&stats.rendered) >= 1);
    assert_eq!(
        count(&stats.rendered) + count(&stats.skipped) + count(&stats.unchanged),
        13,
        "every list is drawn, replaced by a newer one, or found unchanged"
    );

    // The session's first pixel frame is a keyframe of the newest picture.
    let mut canvas = vec![0u8; 640 * 480 * 4];
    let mut tiles = 0;
    while let Some(o) = now_or_never(session.next_outgoing()) {
        let Outgoing::Binary(bytes) = o else {
            continue;
        };
        let tile = decode_tile(&bytes).unwrap();
        let h = tile.header;
        assert!(h.is_keyframe());
        assert_eq!(h.frame, 42);
        for row in 0..h.h as usize {
            let src = &tile.rgba[row * h.w as usize * 4..(row + 1) * h.w as usize * 4];
            let at = ((h.y as usize + row) * 640 + h.x as usize) * 4;
            canvas[at..at + src.len()].copy_from_slice(src);
        }
        tiles += 1;
        if h.is_last() {
            break;
        }
    }
    assert_eq!(tiles, 10 * 8, "every 64×64 tile of 640×480");
    let mut reference = StageRenderer::cpu();
    // The reference draws the newest list straight away; the transition (frame 1's fade)
    // is long over by frame 42, so history does not matter.
    assert_eq!(canvas, reference.render(&newest).unwrap());
}

#[test]
fn renderer_kinds_parse_and_off_makes_none() {
    use stagelink_player::render::{RendererKind, open};
    for name in RendererKind::NAMES {
        assert_eq!(name.parse::<RendererKind>().unwrap().as_str(), name);
    }
    assert!("vulkan".parse::<RendererKind>().is_err());
    assert!(open(RendererKind::Off).unwrap().is_none());
    assert_eq!(open(RendererKind::Cpu).unwrap().unwrap().kind(), "cpu");
}
