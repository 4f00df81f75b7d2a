//! Pixel tiles through a session (protocol §11): a keyframe first, then only changed tiles,
//! a window of 2 unacknowledged frames, `pixels_ack` to free it, latest per tile meanwhile.

mod common;

use common::*;
use serde_json::json;
use stagelink_contracts::pixels::{Tile, decode_tile};
use stagelink_publisher::*;

const W: u32 = 200;
const H: u32 = 100;

/// A test card; `mark` paints a 10×10 square at `(x, y)` in a colour of its own.
fn image(marks: &[(u32, u32, u8)]) -> Vec<u8> {
    let mut v = Vec::with_capacity((W * H * 4) as usize);
    for y in 0..H {
        for x in 0..W {
            let mut px = [(x * 7 % 256) as u8, (y * 3 % 256) as u8, 40, 255];
            for &(mx, my, c) in marks {
                if (mx..mx + 10).contains(&x) && (my..my + 10).contains(&y) {
                    px = [c, c, 255 - c, 255];
                }
            }
            v.extend_from_slice(&px);
        }
    }
    v
}

fn tiles(session: &mut Session) -> Vec<Tile> {
    drain(session)
        .into_iter()
        .map(|o| match o {
            Outgoing::Binary(b) => decode_tile(&b).expect("a valid tile"),
            other => panic!("expected a tile, got {other:?}"),
        })
        .collect()
}

/// Paints tiles onto a canvas the way a viewer does.
fn paint(canvas: &mut [u8], tiles: &[Tile]) {
    for t in tiles {
        let h = t.header;
        assert_eq!((u32::from(h.stage_w), u32::from(h.stage_h)), (W, H));
        for row in 0..h.h as usize {
            let src = &t.rgba[row * h.w as usize * 4..(row + 1) * h.w as usize * 4];
            let at = ((h.y as usize + row) * W as usize + h.x as usize) * 4;
            canvas[at..at + src.len()].copy_from_slice(src);
        }
    }
}

/// Checks a pixel frame's flags: keyframe on all or none, the last flag only on the last tile,
/// one frame number.
fn frame_of(tiles: &[Tile], keyframe: bool) -> u32 {
    assert!(!tiles.is_empty());
    let frame = tiles[0].header.frame;
    for (i, t) in tiles.iter().enumerate() {
        assert_eq!(t.header.frame, frame);
        assert_eq!(t.header.is_keyframe(), keyframe, "tile {i}");
        assert_eq!(t.header.is_last(), i == tiles.len() - 1, "tile {i}");
    }
    frame
}

#[tokio::test]
async fn keyframe_then_changed_tiles_within_a_window_of_two() {
    let hub = Hub::new(HubConfig::default());
    let mut s = connect(&hub, json!({"subscribe": ["pixels"]}));
    let mut bystander = connect(&hub, json!({"subscribe": ["frames"]}));
    let mut canvas = vec![0u8; (W * H * 4) as usize];

    let img1 = image(&[]);
    let stats = hub.publish_pixels(1, W, H, &img1);
    assert_eq!((stats.tiles_total, stats.tiles_changed), (8, 8));
    let t = tiles(&mut s);
    assert_eq!(t.len(), 8, "a keyframe has every tile");
    assert_eq!(frame_of(&t, true), 1);
    paint(&mut canvas, &t);
    assert_eq!(canvas, img1);
    assert!(drain(&mut bystander).is_empty(), "not subscribed to pixels");

    // Only the tile holding the change goes out (frame 1 is still unacknowledged).
    let img2 = image(&[(70, 70, 200)]);
    assert_eq!(hub.publish_pixels(2, W, H, &img2).tiles_changed, 1);
    let t = tiles(&mut s);
    assert_eq!(t.len(), 1);
    assert_eq!(frame_of(&t, false), 2);
    assert_eq!((t[0].header.x, t[0].header.y), (64, 64));
    paint(&mut canvas, &t);
    assert_eq!(canvas, img2);

    // The window (2) is full: newer frames wait, replacing each other per tile.
    let img3 = image(&[(70, 70, 200), (5, 5, 90)]);
    hub.publish_pixels(3, W, H, &img3);
    assert!(tiles(&mut s).is_empty(), "window full");
    let img4 = image(&[(70, 70, 200), (5, 5, 91), (195, 90, 10)]);
    hub.publish_pixels(4, W, H, &img4);
    assert!(tiles(&mut s).is_empty(), "window full");
    // An unchanged image is no new frame.
    assert_eq!(hub.publish_pixels(5, W, H, &img4).tiles_changed, 0);

    // Acking frame 1 frees one slot: one frame with the newest version of each changed tile.
    send(&mut s, json!({"type":"pixels_ack","frame":1}));
    let t = tiles(&mut s);
    assert_eq!(t.len(), 2, "tile (0,0) once, not twice, and tile (192,64)");
    assert_eq!(frame_of(&t, false), 5, "labelled with the newest frame");
    paint(&mut canvas, &t);
    assert_eq!(canvas, img4);
    assert!(tiles(&mut s).is_empty());

    // An ack matching nothing outstanding is ignored (§11.2): the window stays full.
    let img6 = image(&[(120, 10, 1)]);
    hub.publish_pixels(6, W, H, &img6);
    send(&mut s, json!({"type":"pixels_ack","frame":99}));
    assert!(tiles(&mut s).is_empty(), "a stray ack frees nothing");
    // Acks retire frames in order: acking 5 retires 2 and 5.
    send(&mut s, json!({"type":"pixels_ack","frame":5}));
    let t = tiles(&mut s);
    assert_eq!(frame_of(&t, false), 6);
    paint(&mut canvas, &t);
    assert_eq!(canvas, img6);
    send(&mut s, json!({"type":"pixels_ack","frame":6}));

    // Re-subscribing asks for a keyframe (§5.3, §11.2).
    send(&mut s, json!({"type":"subscribe","streams":["pixels"]}));
    let img7 = image(&[(120, 10, 2)]);
    hub.publish_pixels(7, W, H, &img7);
    let t = tiles(&mut s);
    assert_eq!(t.len(), 8);
    assert_eq!(frame_of(&t, true), 7);

    // Unsubscribed: nothing more, even with tiles pending.
    send(&mut s, json!({"type":"unsubscribe","streams":["pixels"]}));
    hub.publish_pixels(8, W, H, &image(&[]));
    assert!(drain(&mut s).is_empty());
}

#[tokio::test]
async fn a_late_subscriber_gets_a_keyframe_of_the_current_image() {
    let hub = Hub::new(HubConfig::default());
    let mut early = connect(&hub, json!({"subscribe": ["pixels"]}));
    hub.publish_pixels(1, W, H, &image(&[]));
    let img2 = image(&[(0, 0, 3)]);
    hub.publish_pixels(2, W, H, &img2);
    assert_eq!(tiles(&mut early).len(), 8);
    let mut late = connect(&hub, json!({"subscribe": ["*"]}));
    let t = tiles(&mut late);
    assert_eq!(frame_of(&t, true), 2);
    let mut canvas = vec![0u8; (W * H * 4) as usize];
    paint(&mut canvas, &t);
    assert_eq!(canvas, img2);
    // A stage size change makes the next frame a keyframe for everyone.
    send(&mut late, json!({"type":"pixels_ack","frame":2}));
    let small: Vec<u8> = vec![9; 64 * 32 * 4];
    hub.publish_pixels(3, 64, 32, &small);
    let t: Vec<Tile> = drain(&mut late)
        .into_iter()
        .map(|o| match o {
            Outgoing::Binary(b) => decode_tile(&b).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(t.len(), 1);
    assert!(t[0].header.is_keyframe() && t[0].header.is_last());
    assert_eq!((t[0].header.stage_w, t[0].header.stage_h), (64, 32));
    // A frame of the wrong size is ignored.
    assert_eq!(hub.publish_pixels(4, 64, 32, &[0; 5]).tiles_total, 0);
}
