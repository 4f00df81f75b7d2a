//! [`ScoreModel`]: the whole score — every sprite span of every channel with its keyframes — and
//! [`ScoreViewport`], the part of it the score panel shows.
//!
//! The live model ([`ClientState`]) holds only the spans on the current frame (that is what a
//! snapshot and the `sprites` stream describe), so the score's structure comes from the `project`
//! request (protocol §8: each score sprite with its `keyframes`), and is kept up to date from the
//! live state (spans added by `sprite_events`, `end_frame` changes) and the `keyframes` stream.

use std::collections::{BTreeMap, BTreeSet};

use ratatui::layout::Rect;
use serde::Deserialize;
use stagelink_client::ClientState;
use stagelink_contracts::{Color, Keyframe, MemberRef};

/// One sprite span as the score shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanInfo {
    /// Last frame (inclusive).
    pub end_frame: u32,
    /// The member it shows.
    pub member: Option<MemberRef>,
    /// The sprite colour, to tint the span's cells.
    pub color: Option<Color>,
    /// Frames with a keyframe on any property.
    pub keyframes: BTreeSet<u32>,
}

/// Every span of the score, by `(sprite_num, begin_frame)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreModel {
    /// Frames in the movie (the ruler's length).
    pub frame_count: u32,
    /// Every span.
    pub spans: BTreeMap<(u32, u32), SpanInfo>,
}

#[derive(Deserialize)]
struct ProjectDoc {
    #[serde(default)]
    frame_count: u32,
    #[serde(default)]
    score: ScoreDoc,
}

#[derive(Deserialize, Default)]
struct ScoreDoc {
    #[serde(default)]
    sprites: Vec<SpriteDoc>,
}

#[derive(Deserialize)]
struct SpriteDoc {
    sprite_num: u32,
    begin_frame: u32,
    end_frame: u32,
    #[serde(default)]
    member: Option<MemberRef>,
    #[serde(default)]
    color: Option<Color>,
    #[serde(default)]
    keyframes: Vec<KeyframeDoc>,
}

#[derive(Deserialize)]
struct KeyframeDoc {
    frame: u32,
}

impl ScoreModel {
    /// An empty score.
    pub fn new() -> Self {
        Self::default()
    }

    /// The score of a `project` document (only the fields the score panel needs are read, so a
    /// host with a richer document still works).
    ///
    /// # Errors
    /// serde's explanation when the document has no readable score.
    pub fn from_project(doc: &serde_json::Value) -> Result<Self, String> {
        let doc = ProjectDoc::deserialize(doc).map_err(|e| e.to_string())?;
        let spans = doc
            .score
            .sprites
            .into_iter()
            .map(|s| {
                (
                    (s.sprite_num, s.begin_frame),
                    SpanInfo {
                        end_frame: s.end_frame.max(s.begin_frame),
                        member: s.member,
                        color: s.color,
                        keyframes: s.keyframes.into_iter().map(|k| k.frame).collect(),
                    },
                )
            })
            .collect();
        Ok(Self {
            frame_count: doc.frame_count,
            spans,
        })
    }

    /// Brings in what the live model knows: the frame count, spans the document did not have,
    /// and current `end_frame`, member and colour of the spans on stage.
    pub fn merge_live(&mut self, state: &ClientState) {
        if let Some(movie) = state.movie {
            self.frame_count = self.frame_count.max(movie.frame_count);
        }
        for (key, sprite) in &state.sprites {
            let end = sprite.end_frame.unwrap_or(key.1).max(key.1);
            let span = self.spans.entry(*key).or_insert_with(|| SpanInfo {
                end_frame: end,
                member: None,
                color: None,
                keyframes: BTreeSet::new(),
            });
            span.end_frame = end;
            if sprite.member.is_some() {
                span.member = sprite.member;
            }
            if sprite.color.is_some() {
                span.color = sprite.color;
            }
        }
    }

    /// A keyframe arrived on the `keyframes` stream.
    pub fn add_keyframe(&mut self, k: &Keyframe) {
        if let Some(span) = self.spans.get_mut(&(k.sprite_num, k.begin_frame)) {
            span.keyframes.insert(k.frame);
        }
    }

    /// The channels that have at least one span, ascending.
    pub fn channels(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self.spans.keys().map(|k| k.0).collect();
        set.into_iter().collect()
    }

    /// The span of `channel` that covers `frame`.
    pub fn span_at(&self, channel: u32, frame: u32) -> Option<((u32, u32), &SpanInfo)> {
        self.spans
            .range((channel, 0)..=(channel, frame))
            .rev()
            .find(|(_, s)| s.end_frame >= frame)
            .map(|(k, s)| (*k, s))
    }

    /// The spans of one channel, by first frame.
    pub fn spans_in(&self, channel: u32) -> impl Iterator<Item = ((u32, u32), &SpanInfo)> {
        self.spans
            .range((channel, 0)..=(channel, u32::MAX))
            .map(|(k, s)| (*k, s))
    }

    /// The last frame the ruler needs.
    pub fn last_frame(&self) -> u32 {
        let spans = self.spans.values().map(|s| s.end_frame).max().unwrap_or(0);
        self.frame_count.max(spans).max(1)
    }
}

/// Which part of the score the panel shows. The panel's size is learnt at each render; the
/// offsets follow the playhead and the selected channel unless the user scrolled away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreViewport {
    /// The first frame shown (1-based).
    pub first_frame: u32,
    /// Index (into the channel list) of the first channel row shown.
    pub first_row: usize,
    /// Frames that fit across.
    pub frames_visible: u32,
    /// Channel rows that fit.
    pub rows_visible: usize,
    /// Scroll to keep the playhead in view. Off after a manual horizontal scroll.
    pub follow: bool,
}

impl Default for ScoreViewport {
    fn default() -> Self {
        Self {
            first_frame: 1,
            first_row: 0,
            frames_visible: 0,
            rows_visible: 0,
            follow: true,
        }
    }
}

impl ScoreViewport {
    /// Brings `frame` into view, a page at a time (so the ruler does not crawl every frame).
    pub fn show_frame(&mut self, frame: u32, last_frame: u32) {
        let width = self.frames_visible.max(1);
        if frame < self.first_frame || frame >= self.first_frame + width {
            // Put the frame a little in from the left edge.
            let lead = (width / 8).min(frame.saturating_sub(1));
            self.first_frame = frame - lead;
        }
        self.clamp_frames(last_frame);
    }

    /// Brings channel row `row` into view.
    pub fn show_row(&mut self, row: usize) {
        let height = self.rows_visible.max(1);
        if row < self.first_row {
            self.first_row = row;
        } else if row >= self.first_row + height {
            self.first_row = row + 1 - height;
        }
    }

    /// Scrolls by `delta` frames (a manual scroll: stops following the playhead).
    pub fn scroll_frames(&mut self, delta: i64, last_frame: u32) {
        self.follow = false;
        let first = i64::from(self.first_frame) + delta;
        self.first_frame = first.clamp(1, i64::from(u32::MAX)) as u32;
        self.clamp_frames(last_frame);
    }

    /// Scrolls by `delta` channel rows.
    pub fn scroll_rows(&mut self, delta: isize, rows: usize) {
        let max_first = rows.saturating_sub(self.rows_visible.max(1));
        self.first_row = self.first_row.saturating_add_signed(delta).min(max_first);
    }

    fn clamp_frames(&mut self, last_frame: u32) {
        let width = self.frames_visible.max(1);
        let max_first = last_frame.saturating_sub(width).saturating_add(1).max(1);
        self.first_frame = self.first_frame.clamp(1, max_first);
    }
}

/// Columns of the channel gutter left of the grid (`▸ 12 `).
pub const GUTTER_COLS: u16 = 5;
/// Rows of the frame ruler above the grid (numbers, then ticks and the playhead mark).
pub const RULER_ROWS: u16 = 2;

/// Where the parts of the score panel are, inside its border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreGeometry {
    /// Channel numbers.
    pub gutter: Rect,
    /// Frame numbers and the playhead mark.
    pub ruler: Rect,
    /// One cell per frame × channel.
    pub grid: Rect,
}

impl ScoreGeometry {
    /// Splits the panel's inside.
    pub fn new(inner: Rect) -> Self {
        let gutter_w = GUTTER_COLS.min(inner.width);
        let ruler_h = RULER_ROWS.min(inner.height);
        Self {
            gutter: Rect::new(inner.x, inner.y + ruler_h, gutter_w, inner.height - ruler_h),
            ruler: Rect::new(inner.x + gutter_w, inner.y, inner.width - gutter_w, ruler_h),
            grid: Rect::new(
                inner.x + gutter_w,
                inner.y + ruler_h,
                inner.width - gutter_w,
                inner.height - ruler_h,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> serde_json::Value {
        serde_json::json!({
            "name": "t", "frame_count": 240,
            "score": {"sprites": [
                {"sprite_num": 1, "begin_frame": 1, "end_frame": 240, "keyframes": []},
                {"sprite_num": 3, "begin_frame": 1, "end_frame": 120,
                 "member": {"cast_lib": 1, "member_num": 2},
                 "keyframes": [{"frame": 1, "prop": "loc_h", "value": 40}, {"frame": 60, "prop": "loc_h", "value": 480}]},
                {"sprite_num": 3, "begin_frame": 150, "end_frame": 200, "unknown_field": true}
            ], "tempos": []}
        })
    }

    #[test]
    fn reads_the_score_of_a_project_document() {
        let score = ScoreModel::from_project(&project()).unwrap();
        assert_eq!(score.frame_count, 240);
        assert_eq!(score.channels(), vec![1, 3]);
        assert_eq!(score.span_at(3, 60).unwrap().0, (3, 1));
        assert_eq!(score.span_at(3, 130), None);
        assert_eq!(score.span_at(3, 150).unwrap().0, (3, 150));
        assert_eq!(
            score.spans[&(3, 1)]
                .keyframes
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![1, 60]
        );
        assert!(ScoreModel::from_project(&serde_json::json!({"score": 3})).is_err());
    }

    #[test]
    fn viewport_pages_to_the_playhead_and_clamps() {
        let mut v = ScoreViewport {
            frames_visible: 50,
            rows_visible: 10,
            ..ScoreViewport::default()
        };
        v.show_frame(30, 240);
        assert_eq!(v.first_frame, 1);
        v.show_frame(60, 240);
        assert_eq!(v.first_frame, 54);
        v.show_frame(240, 240);
        assert_eq!(v.first_frame, 191);
        v.scroll_frames(-500, 240);
        assert_eq!((v.first_frame, v.follow), (1, false));
        v.show_row(15);
        assert_eq!(v.first_row, 6);
        v.scroll_rows(100, 20);
        assert_eq!(v.first_row, 10);
    }
}
