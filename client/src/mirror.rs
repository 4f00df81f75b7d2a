//! The mirror: a remote session's streams applied to a local target, so that the target's state
//! tracks the host frame by frame (a "client player").
//!
//! A target implements [`MirrorTarget`]; the player does, to run `stagelink-player --mirror URL`,
//! and [`ClientState`] does, for tools and tests. [`Mirror`] feeds it: the snapshot first, then
//! every fresh event in seq order (events a snapshot already includes are skipped), a new
//! snapshot after any resync, and it asks for a resync itself when its consumer fell behind.

use futures_util::StreamExt;
use stagelink_contracts::{
    Event, MemberProp, MovieProp, Palette, SpriteDelta, SpriteEvent, StageFrame, StageProp,
    StageSnapshot, StreamName,
};

use crate::client::Client;
use crate::error::{ClientError, CloseReason};
use crate::event::{ClientEvent, ConnectionState};
use crate::pixels::PixelFrame;
use crate::seq::{SeqTracker, SeqVerdict};
use crate::state::ClientState;

/// Something that can follow a remote stage.
pub trait MirrorTarget {
    /// Replace everything with this state (first sync, and after every resync).
    fn apply_snapshot(&mut self, snapshot: &StageSnapshot);
    /// The host finished a tick: the playhead is at `frame.frame`.
    fn go_to_frame(&mut self, frame: &StageFrame);
    /// Changed sprite fields; a span not seen yet is created from its delta.
    fn apply_sprite_deltas(&mut self, frame: u32, deltas: &[SpriteDelta]);
    /// Spans added, removed or cleared.
    fn apply_sprite_events(&mut self, events: &[SpriteEvent]);
    /// Member properties changed.
    fn set_member_props(&mut self, props: &[MemberProp]);
    /// Movie properties changed.
    fn set_movie_props(&mut self, props: &[MovieProp]);
    /// Stage properties changed.
    fn set_stage_props(&mut self, props: &[StageProp]);
    /// The active palette changed.
    fn set_palette(&mut self, _palette: &Palette) {}
    /// A stream the methods above do not cover (sounds, transitions, keyframes, …).
    fn other_event(&mut self, _event: &Event) {}
    /// A rendered stage image (only with a `pixels` subscription).
    fn present_pixels(&mut self, _frame: &PixelFrame) {}
}

impl MirrorTarget for ClientState {
    fn apply_snapshot(&mut self, snapshot: &StageSnapshot) {
        ClientState::apply_snapshot(self, snapshot);
    }
    fn go_to_frame(&mut self, frame: &StageFrame) {
        self.apply_stage_frame(frame);
    }
    fn apply_sprite_deltas(&mut self, _frame: u32, deltas: &[SpriteDelta]) {
        ClientState::apply_sprite_deltas(self, deltas);
    }
    fn apply_sprite_events(&mut self, events: &[SpriteEvent]) {
        ClientState::apply_sprite_events(self, events);
    }
    fn set_member_props(&mut self, props: &[MemberProp]) {
        self.apply_member_props(props);
    }
    fn set_movie_props(&mut self, props: &[MovieProp]) {
        self.apply_movie_props(props);
    }
    fn set_stage_props(&mut self, props: &[StageProp]) {
        self.apply_stage_props(props);
    }
    fn set_palette(&mut self, palette: &Palette) {
        self.palette = Some(palette.clone());
    }
}

/// What [`Mirror::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorStep {
    /// The target was updated.
    Applied,
    /// Nothing for the target (stale by seq, another kind of event).
    Skipped,
    /// The mirror missed events; ask the client for a resync ([`Client::resync`]). Until the
    /// snapshot arrives the target may be behind.
    NeedsResync,
}

/// Drives a [`MirrorTarget`] from a client's events.
#[derive(Debug)]
pub struct Mirror<T> {
    target: T,
    seqs: SeqTracker,
    /// Frames applied (`frames` events), for progress reports.
    frames_applied: u64,
    /// Snapshots applied.
    snapshots_applied: u64,
}

impl<T: MirrorTarget> Mirror<T> {
    /// A mirror feeding `target`.
    pub fn new(target: T) -> Self {
        Self {
            target,
            seqs: SeqTracker::new(),
            frames_applied: 0,
            snapshots_applied: 0,
        }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The target, mutably.
    pub fn target_mut(&mut self) -> &mut T {
        &mut self.target
    }

    /// Gives the target back.
    pub fn into_target(self) -> T {
        self.target
    }

    /// `frames` events applied so far.
    pub fn frames_applied(&self) -> u64 {
        self.frames_applied
    }

    /// Snapshots applied so far.
    pub fn snapshots_applied(&self) -> u64 {
        self.snapshots_applied
    }

    /// Starts from a snapshot.
    pub fn apply_snapshot(&mut self, snapshot: &StageSnapshot) {
        self.seqs.reset_to(&snapshot.seqs);
        self.target.apply_snapshot(snapshot);
        self.snapshots_applied += 1;
    }

    /// Applies one client event to the target.
    pub fn apply(&mut self, event: &ClientEvent) -> MirrorStep {
        match event {
            ClientEvent::Snapshot(s) | ClientEvent::Resynced(s) => {
                self.apply_snapshot(s);
                MirrorStep::Applied
            }
            ClientEvent::Event(e) => self.apply_event(e),
            ClientEvent::Lagged(_) => MirrorStep::NeedsResync,
            ClientEvent::Gap(g) => {
                // The client resyncs on a gap by itself; continue after it meanwhile.
                if let Some(stream) = StreamName::parse(&g.stream) {
                    self.seqs.skip_to(stream, g.to_seq);
                }
                MirrorStep::Skipped
            }
            ClientEvent::Welcome(_) => {
                // A new session: seqs may restart; its snapshot re-anchors them.
                self.seqs.clear();
                MirrorStep::Skipped
            }
            ClientEvent::Notice(n) if n.code == stagelink_contracts::ErrorCode::HostJoined => {
                self.seqs.clear();
                MirrorStep::Skipped
            }
            _ => MirrorStep::Skipped,
        }
    }

    fn apply_event(&mut self, event: &Event) -> MirrorStep {
        let Some(stream) = StreamName::parse(&event.stream) else {
            self.target.other_event(event);
            return MirrorStep::Applied;
        };
        let hole = match self.seqs.accept(stream, event.seq, event.first_seq) {
            SeqVerdict::Stale => return MirrorStep::Skipped,
            SeqVerdict::Fresh => false,
            SeqVerdict::Hole { .. } => true,
        };
        macro_rules! items {
            ($ty:ty) => {
                match event.items_as::<$ty>() {
                    Ok(items) => items,
                    Err(e) => {
                        tracing::warn!(%stream, seq = event.seq, error = %e, "mirror: undecodable items");
                        return MirrorStep::NeedsResync;
                    }
                }
            };
        }
        match stream {
            StreamName::Frames => {
                if let Some(frame) = items!(StageFrame).last() {
                    self.target.go_to_frame(frame);
                    self.frames_applied += 1;
                }
            }
            StreamName::Sprites => self
                .target
                .apply_sprite_deltas(event.frame, &items!(SpriteDelta)),
            StreamName::SpriteEvents => self.target.apply_sprite_events(&items!(SpriteEvent)),
            StreamName::MemberProps => self.target.set_member_props(&items!(MemberProp)),
            StreamName::MovieProps => self.target.set_movie_props(&items!(MovieProp)),
            StreamName::StageProps => self.target.set_stage_props(&items!(StageProp)),
            StreamName::Palettes => {
                if let Some(p) = items!(Palette).last() {
                    self.target.set_palette(p);
                }
            }
            _ => self.target.other_event(event),
        }
        if hole {
            MirrorStep::NeedsResync
        } else {
            MirrorStep::Applied
        }
    }

    /// Follows `client` until it closes: starts from the client's current model, then applies
    /// every event (and every pixel frame, when subscribed). Returns the target.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the client stopped for any reason but [`Client::close`].
    pub async fn run(mut self, client: &Client) -> Result<T, ClientError> {
        let (state, mut events) = client.subscribe_state();
        if state.has_snapshot() {
            self.apply_snapshot(&state.to_snapshot());
        }
        let mut pixels = client.pixel_frames();
        let mut pixels_open = true;
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => {
                        if self.apply(&event) == MirrorStep::NeedsResync {
                            // Fails only when the client is closing; the loop then ends.
                            let _ = client.resync();
                        }
                    }
                    None => break,
                },
                frame = pixels.next(), if pixels_open => match frame {
                    Some(frame) => self.target.present_pixels(&frame),
                    None => pixels_open = false,
                },
            }
        }
        match client.connection_state() {
            ConnectionState::Closed(CloseReason::Requested) => Ok(self.target),
            ConnectionState::Closed(reason) => Err(ClientError::Closed(reason)),
            _ => Ok(self.target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::{Gap, MovieState, encode_event};
    use std::sync::Arc;

    fn event<S: serde::Serialize>(
        stream: StreamName,
        seq: u64,
        frame: u32,
        items: &[S],
    ) -> ClientEvent {
        let bytes = encode_event(stream, seq, None, frame, items);
        ClientEvent::Event(Arc::new(serde_json::from_slice(&bytes).unwrap()))
    }

    fn snapshot(sprites_seq: u64, loc_h: f64) -> StageSnapshot {
        StageSnapshot {
            seqs: [
                ("sprites".to_string(), sprites_seq),
                ("frames".to_string(), 5),
            ]
            .into(),
            movie: Some(MovieState {
                frame: 5,
                frame_count: 10,
                tempo: 30,
                playing: true,
            }),
            sprites: vec![SpriteDelta {
                loc_h: Some(loc_h),
                ..SpriteDelta::new(1, 1)
            }],
            ..StageSnapshot::default()
        }
    }

    #[test]
    fn the_mirror_tracks_snapshot_then_frames_and_skips_stale_events() {
        let mut mirror = Mirror::new(ClientState::new());
        mirror.apply(&ClientEvent::Snapshot(Arc::new(snapshot(3, 10.0))));
        let stale = event(
            StreamName::Sprites,
            3,
            5,
            &[SpriteDelta {
                loc_h: Some(-1.0),
                ..SpriteDelta::new(1, 1)
            }],
        );
        assert_eq!(mirror.apply(&stale), MirrorStep::Skipped);
        for f in 6..=8u32 {
            let frames = event(
                StreamName::Frames,
                f as u64,
                f,
                &[StageFrame {
                    frame: f,
                    frame_count: 10,
                    tempo: 30,
                    playing: true,
                    time_ms: f as u64 * 33,
                    width: 64,
                    height: 64,
                }],
            );
            assert_eq!(mirror.apply(&frames), MirrorStep::Applied);
            let sprites = event(
                StreamName::Sprites,
                f as u64 - 2,
                f,
                &[SpriteDelta {
                    loc_h: Some(f as f64 * 10.0),
                    ..SpriteDelta::new(1, 1)
                }],
            );
            assert_eq!(mirror.apply(&sprites), MirrorStep::Applied);
            assert_eq!(mirror.target().frame(), Some(f));
            assert_eq!(
                mirror.target().sprite(1, 1).unwrap().loc_h,
                Some(f as f64 * 10.0)
            );
        }
        assert_eq!(mirror.frames_applied(), 3);
    }

    #[test]
    fn lag_and_holes_ask_for_a_resync_and_a_resync_repairs() {
        let mut mirror = Mirror::new(ClientState::new());
        mirror.apply(&ClientEvent::Snapshot(Arc::new(snapshot(3, 10.0))));
        assert_eq!(
            mirror.apply(&ClientEvent::Lagged(4)),
            MirrorStep::NeedsResync
        );
        let hole = event(StreamName::Sprites, 9, 9, &[SpriteDelta::new(1, 1)]);
        assert_eq!(mirror.apply(&hole), MirrorStep::NeedsResync);
        mirror.apply(&ClientEvent::Gap(Gap {
            stream: "sprites".into(),
            from_seq: 10,
            to_seq: 12,
        }));
        assert_eq!(
            mirror.apply(&event(
                StreamName::Sprites,
                13,
                9,
                &[SpriteDelta::new(1, 1)]
            )),
            MirrorStep::Applied
        );
        mirror.apply(&ClientEvent::Resynced(Arc::new(snapshot(20, 99.0))));
        assert_eq!(mirror.target().sprite(1, 1).unwrap().loc_h, Some(99.0));
        assert_eq!(mirror.snapshots_applied(), 2);
    }
}
