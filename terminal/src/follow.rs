//! Following the session: how the [`App`] takes in what the client reports — the connection
//! state, the first model, snapshots and resyncs, every stream event, gaps, notices, errors —
//! and the `project` document the score is drawn from.

use std::time::Instant;

use stagelink_client::{Applied, ClientEvent, ClientState, ConnectionState};
use stagelink_contracts::{
    Event, Keyframe, MemberProp, SoundCue, SpriteDelta, SpriteEvent, StageFrame, StreamName,
    TempoChange,
};

use crate::app::{App, Effect};
use crate::edits::EditKey;
use crate::log::LogKind;
use crate::score::ScoreModel;
use crate::values::{SPRITE_PROPS, format_value, sprite_prop};

impl App {
    /// The connection state changed.
    pub fn set_connection(&mut self, state: ConnectionState, now: Instant) {
        self.now = now;
        if state == self.connection {
            return;
        }
        let text = match &state {
            ConnectionState::Connecting => "connecting".to_owned(),
            ConnectionState::Connected => format!("connected to {}", self.endpoint),
            ConnectionState::Reconnecting { attempt } => {
                format!("reconnecting (attempt {attempt})")
            }
            ConnectionState::Closed(reason) => format!("closed: {reason}"),
        };
        let kind = if matches!(state, ConnectionState::Closed(_)) {
            LogKind::Error
        } else {
            LogKind::Connection
        };
        self.log.push(kind, text, now);
        self.connection = state;
    }

    /// Replaces the model wholesale (the state taken together with the event stream at start).
    pub fn set_model(&mut self, state: ClientState, now: Instant) {
        self.now = now;
        self.state = state;
        self.after_model_replaced();
    }

    fn after_model_replaced(&mut self) {
        self.score.merge_live(&self.state);
        if let Some(frame) = self.frame() {
            self.fps.record(frame, self.now);
        }
        if self.selected_channel.is_none() {
            // Start on the topmost sprite that is drawn: usually what the user wants to look at.
            self.selected_channel = self
                .state
                .sprites_on(self.frame().unwrap_or(1))
                .last()
                .map(|s| s.sprite_num);
            self.reveal_selection = self.selected_channel.is_some();
        }
        let outcomes = self.edits.resynced(&self.state);
        self.log_edit_outcomes(outcomes);
    }

    /// Applies one thing the client reported; returns what the event loop should do.
    pub fn apply_client_event(&mut self, event: &ClientEvent, now: Instant) -> Vec<Effect> {
        self.now = now;
        let mut effects = Vec::new();
        if self.state.apply(event) == Applied::Stale {
            // Already included in the snapshot: nothing new to show or count.
            return effects;
        }
        match event {
            ClientEvent::Welcome(w) => {
                let first = self.welcome.is_none();
                self.log.push(
                    LogKind::Connection,
                    format!(
                        "welcome: session {} on {} {} ({} role)",
                        w.session,
                        w.server.name.as_deref().unwrap_or("server"),
                        w.server.version.as_deref().unwrap_or(""),
                        w.role.as_str()
                    ),
                    now,
                );
                self.welcome = Some(w.clone());
                if !first {
                    // A new session (maybe a restarted host with another movie): re-read the score.
                    self.fps.reset();
                    effects.push(Effect::FetchProject);
                }
            }
            ClientEvent::Snapshot(s) | ClientEvent::Resynced(s) => {
                let what = if matches!(event, ClientEvent::Resynced(_)) {
                    "resynced"
                } else {
                    "snapshot"
                };
                self.log.push(
                    LogKind::Notice,
                    format!(
                        "{what}: frame {}, {} sprites, {} members",
                        s.movie.map_or("?".into(), |m| m.frame.to_string()),
                        s.sprites.len(),
                        s.members.len()
                    ),
                    now,
                );
                self.after_model_replaced();
            }
            ClientEvent::Event(e) => self.apply_stream_event(e, now),
            ClientEvent::Gap(g) => self.log.push(
                LogKind::Notice,
                format!(
                    "gap in {}: seq {}–{} dropped; resyncing",
                    g.stream, g.from_seq, g.to_seq
                ),
                now,
            ),
            ClientEvent::Notice(n) => {
                self.log
                    .push(LogKind::Notice, format!("{}: {}", n.code, n.message), now);
                self.notify(format!("{}: {}", n.code, n.message), false);
            }
            ClientEvent::Error(e) => {
                self.log
                    .push(LogKind::Error, format!("{}: {}", e.code, e.message), now);
                self.notify(format!("{}: {}", e.code, e.message), true);
            }
            ClientEvent::Disconnected(why) => {
                self.log
                    .push(LogKind::Connection, format!("disconnected: {why}"), now);
            }
            ClientEvent::Lagged(n) => {
                self.log.push(
                    LogKind::Notice,
                    format!("fell {n} events behind; resyncing"),
                    now,
                );
                effects.push(Effect::Resync);
            }
        }
        effects
    }

    fn apply_stream_event(&mut self, e: &Event, now: Instant) {
        let Some(stream) = StreamName::parse(&e.stream) else {
            self.log
                .push_event(&e.stream, e.seq, items_text(e.items.len()), now);
            return;
        };
        match stream {
            StreamName::Frames => {
                if let Ok(frames) = e.items_as::<StageFrame>() {
                    for f in frames {
                        self.fps.record(f.frame, now);
                    }
                }
                // The movie panel shows the playhead; the log would only scroll.
                return;
            }
            StreamName::Sprites => {
                if let Ok(deltas) = e.items_as::<SpriteDelta>() {
                    self.score.merge_live(&self.state);
                    for d in &deltas {
                        self.observe_sprite_delta(d);
                    }
                }
            }
            StreamName::SpriteEvents => {
                self.score.merge_live(&self.state);
                if let Ok(items) = e.items_as::<SpriteEvent>() {
                    let text = items
                        .iter()
                        .map(|i| {
                            format!("{:?} {}@{}", i.event, i.sprite_num, i.begin_frame)
                                .to_lowercase()
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.log.push_event(&e.stream, e.seq, text, now);
                    return;
                }
            }
            StreamName::MemberProps => {
                if let Ok(props) = e.items_as::<MemberProp>() {
                    for p in &props {
                        let key = EditKey::member(p.cast_lib, p.member_num, p.prop.clone());
                        if let Some(o) = self.edits.observed(&key, &p.value) {
                            self.log_edit_outcomes(vec![o]);
                        }
                    }
                    if let [p] = &props[..] {
                        let text = format!(
                            "{}:{} {} = {}",
                            p.cast_lib,
                            p.member_num,
                            p.prop,
                            format_value(&p.value)
                        );
                        self.log.push_event(&e.stream, e.seq, text, now);
                        return;
                    }
                }
            }
            StreamName::Keyframes => {
                if let Ok(keys) = e.items_as::<Keyframe>() {
                    for k in &keys {
                        self.score.add_keyframe(k);
                    }
                }
            }
            StreamName::Tempos => {
                if let Ok(Some(t)) = e.items_as::<TempoChange>().map(|t| t.last().cloned()) {
                    self.log
                        .push_event(&e.stream, e.seq, format!("tempo {}", t.tempo), now);
                    return;
                }
            }
            StreamName::Sounds => {
                if let Ok(cues) = e.items_as::<SoundCue>() {
                    let text = cues
                        .iter()
                        .map(|c| {
                            format!(
                                "ch{} {}:{} {}",
                                c.channel,
                                c.cast_lib,
                                c.member_num,
                                if c.playing { "plays" } else { "stops" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.log.push_event(&e.stream, e.seq, text, now);
                    return;
                }
            }
            _ => {}
        }
        self.log
            .push_event(&e.stream, e.seq, items_text(e.items.len()), now);
    }

    fn observe_sprite_delta(&mut self, d: &SpriteDelta) {
        for prop in SPRITE_PROPS {
            if let Some(value) = sprite_prop(d, prop) {
                let key = EditKey::sprite(d.sprite_num, d.begin_frame, prop);
                if let Some(o) = self.edits.observed(&key, &value) {
                    self.log_edit_outcomes(vec![o]);
                }
            }
        }
    }

    /// The `project` document arrived (or could not be had).
    pub fn set_project(&mut self, project: Result<serde_json::Value, String>, now: Instant) {
        self.now = now;
        match project.and_then(|doc| ScoreModel::from_project(&doc)) {
            Ok(score) => {
                self.score = score;
                self.score.merge_live(&self.state);
                self.project_loaded = true;
                // The channel list changed under the selection.
                self.reveal_selection = true;
                self.log.push(
                    LogKind::Notice,
                    format!(
                        "score: {} spans in {} channels, {} frames",
                        self.score.spans.len(),
                        self.score.channels().len(),
                        self.score.last_frame()
                    ),
                    now,
                );
            }
            Err(e) => {
                // The score still shows the spans of the current frame.
                self.log
                    .push(LogKind::Error, format!("no project document: {e}"), now);
            }
        }
    }
}

fn items_text(n: usize) -> String {
    if n == 1 {
        "1 item".into()
    } else {
        format!("{n} items")
    }
}
