//! Transitions: the frame shown when a transition starts is kept, and each new frame is
//! mixed with it by the transition's progress (`(time − started) / duration`) until it ends.
//!
//! Kinds: `wipe`/`wipe_right`, `wipe_left`, `wipe_down`, `wipe_up` reveal the new frame from
//! one edge; everything else (`dissolve`, `fade`, unknown kinds) cross-fades. Both renderers
//! share this step, so it never differs between them.

use super::list::{RenderList, TransitionState};

/// How far a transition has got, `0.0..=1.0`.
pub fn progress(t: &TransitionState, time_ms: u64) -> f64 {
    if t.duration_ms == 0 {
        return 1.0;
    }
    (time_ms.saturating_sub(t.started_ms) as f64 / f64::from(t.duration_ms)).clamp(0.0, 1.0)
}

/// Whether `list` shows a transition still in progress.
pub fn in_progress(list: &RenderList) -> bool {
    list.transition
        .as_ref()
        .is_some_and(|t| progress(t, list.time_ms) < 1.0)
}

#[derive(Debug)]
struct Running {
    key: TransitionState,
    /// The picture the transition starts from (straight RGBA, output size).
    from: Vec<u8>,
}

/// Mixes frames through the transition in progress.
#[derive(Debug, Default)]
pub struct TransitionMixer {
    running: Option<Running>,
}

impl TransitionMixer {
    /// Applies `list`'s transition to `frame` (the new picture, `width × height`, straight
    /// RGBA). `shown` is the picture shown before it (`None` at the start: the stage colour).
    pub fn apply(
        &mut self,
        list: &RenderList,
        frame: &mut [u8],
        width: u32,
        height: u32,
        shown: Option<&[u8]>,
    ) {
        let Some(t) = list.transition.as_ref() else {
            self.running = None;
            return;
        };
        let p = progress(t, list.time_ms);
        if p >= 1.0 {
            self.running = None;
            return;
        }
        let fresh = self.running.as_ref().is_none_or(|r| r.key != *t);
        if fresh
            || self
                .running
                .as_ref()
                .is_some_and(|r| r.from.len() != frame.len())
        {
            let from = match shown {
                Some(s) if s.len() == frame.len() => s.to_vec(),
                _ => {
                    let c = list.background;
                    [c.r, c.g, c.b, c.a].repeat(frame.len() / 4)
                }
            };
            self.running = Some(Running {
                key: t.clone(),
                from,
            });
        }
        if let Some(r) = &self.running {
            mix(&t.kind, &r.from, frame, width as usize, height as usize, p);
        }
    }
}

/// Mixes `from` into `to` in place: at `p = 0` all `from`, at `p = 1` all `to`.
fn mix(kind: &str, from: &[u8], to: &mut [u8], width: usize, height: usize, p: f64) {
    let row = width * 4;
    match kind {
        "wipe" | "wipe_right" | "wipe_left" => {
            let edge = (p * width as f64).round() as usize;
            let keep = if kind == "wipe_left" {
                0..width - edge
            } else {
                edge..width
            };
            for y in 0..height {
                let r = y * row;
                to[r + keep.start * 4..r + keep.end * 4]
                    .copy_from_slice(&from[r + keep.start * 4..r + keep.end * 4]);
            }
        }
        "wipe_down" | "wipe_up" => {
            let edge = (p * height as f64).round() as usize;
            let keep = if kind == "wipe_up" {
                0..height - edge
            } else {
                edge..height
            };
            to[keep.start * row..keep.end * row]
                .copy_from_slice(&from[keep.start * row..keep.end * row]);
        }
        _ => {
            let k = (p * 256.0).round() as i32;
            for (t, f) in to.iter_mut().zip(from) {
                let (fv, tv) = (i32::from(*f), i32::from(*t));
                *t = (fv + (((tv - fv) * k + 128) >> 8)) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::Color;

    fn list(kind: &str, time_ms: u64) -> RenderList {
        RenderList {
            frame: 1,
            width: 4,
            height: 1,
            background: Color::rgb(0, 0, 0),
            items: Vec::new(),
            transition: Some(TransitionState {
                kind: kind.into(),
                started_ms: 100,
                duration_ms: 200,
            }),
            time_ms,
            update_lock: false,
        }
    }

    #[test]
    fn a_cross_fade_mixes_from_the_picture_shown_before() {
        let mut mixer = TransitionMixer::default();
        let shown = vec![0u8; 16];
        let mut frame = vec![200u8; 16];
        mixer.apply(&list("dissolve", 200), &mut frame, 4, 1, Some(&shown));
        assert!(frame.iter().all(|v| *v == 100), "{frame:?}");
        // Later frames keep mixing from the same starting picture.
        let mut frame = vec![200u8; 16];
        mixer.apply(&list("dissolve", 250), &mut frame, 4, 1, Some(&[9; 16]));
        assert!(frame.iter().all(|v| *v == 150), "{frame:?}");
        let mut frame = vec![200u8; 16];
        mixer.apply(&list("dissolve", 300), &mut frame, 4, 1, None);
        assert!(frame.iter().all(|v| *v == 200), "done");
    }

    #[test]
    fn a_wipe_reveals_from_the_left() {
        let mut mixer = TransitionMixer::default();
        let mut frame = vec![200u8; 16];
        mixer.apply(&list("wipe", 200), &mut frame, 4, 1, Some(&[0; 16]));
        assert_eq!(&frame[..8], &[200; 8]);
        assert_eq!(&frame[8..], &[0; 8]);
    }
}
