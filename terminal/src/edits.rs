//! Deferred edits: a property change the user asked for stays *pending* in the inspector until
//! the host's own stream shows it, and a rejection stays visible with its reason.
//!
//! An `applied` ack alone does not confirm an edit: the terminal draws what the streams say, and
//! the ack and the event that carries the change travel on different lanes (protocol §7.5), so
//! either may arrive first. An edit is confirmed when both happened — the ack said `applied` and
//! a `sprites`/`member_props` event (or a resync snapshot) carried the property — or, for a value
//! that did not change (no event is published then), when the model already holds the value.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stagelink_client::ClientState;
use stagelink_contracts::{Ack, AckStatus, PropValue};

use crate::values::{same_value, sprite_prop};

/// A number the app gives each command it sends, to match the answer to its purpose.
pub type Ticket = u64;

/// How long an applied edit may wait for the stream before it is shown as unconfirmed.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(5);

/// What an edit changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EditTarget {
    /// A sprite span's property (`set_sprite_prop`).
    Sprite {
        /// The channel.
        sprite_num: u32,
        /// The span's first frame.
        begin_frame: u32,
    },
    /// A cast member's property (`set_member_prop`).
    Member {
        /// The cast.
        cast_lib: u32,
        /// The member.
        member_num: u32,
    },
}

impl std::fmt::Display for EditTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditTarget::Sprite {
                sprite_num,
                begin_frame,
            } => write!(f, "sprite {sprite_num}@{begin_frame}"),
            EditTarget::Member {
                cast_lib,
                member_num,
            } => write!(f, "member {cast_lib}:{member_num}"),
        }
    }
}

/// One property of one target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EditKey {
    /// Whose property.
    pub target: EditTarget,
    /// Which property.
    pub prop: String,
}

impl EditKey {
    /// A sprite property.
    pub fn sprite(sprite_num: u32, begin_frame: u32, prop: impl Into<String>) -> Self {
        Self {
            target: EditTarget::Sprite {
                sprite_num,
                begin_frame,
            },
            prop: prop.into(),
        }
    }

    /// A member property.
    pub fn member(cast_lib: u32, member_num: u32, prop: impl Into<String>) -> Self {
        Self {
            target: EditTarget::Member {
                cast_lib,
                member_num,
            },
            prop: prop.into(),
        }
    }

    /// The value the model holds for this property now.
    pub fn current(&self, state: &ClientState) -> Option<PropValue> {
        match self.target {
            EditTarget::Sprite {
                sprite_num,
                begin_frame,
            } => sprite_prop(state.sprite(sprite_num, begin_frame)?, &self.prop),
            EditTarget::Member {
                cast_lib,
                member_num,
            } => state
                .member(cast_lib, member_num)?
                .props
                .get(&self.prop)
                .cloned(),
        }
    }
}

impl std::fmt::Display for EditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.target, self.prop)
    }
}

/// Where an edit stands.
#[derive(Debug, Clone, PartialEq)]
pub enum EditStatus {
    /// Sent; no ack yet.
    Sent,
    /// The host applied it; waiting for its stream to show the change.
    Applied {
        /// The frame it took effect on.
        frame: Option<u32>,
        /// When the ack came (to give up waiting after [`CONFIRM_WITHIN`]).
        at: Instant,
    },
    /// The host refused it (`rejected` or `busy`); nothing changed.
    Rejected {
        /// The error code (`out_of_range`, `busy`, …).
        code: String,
        /// The host's explanation.
        message: String,
    },
    /// No ack came (timeout or a dropped connection): it may or may not have been applied.
    Failed {
        /// What went wrong.
        message: String,
    },
    /// Applied, but the stream never showed the property (shown so the user can look).
    Unconfirmed,
}

/// An edit the inspector still shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEdit {
    /// The command that carries it.
    pub ticket: Ticket,
    /// The value asked for.
    pub value: PropValue,
    /// Where it stands.
    pub status: EditStatus,
    /// A stream event carried this property after the edit was sent (before its ack).
    seen_in_stream: bool,
}

impl PendingEdit {
    /// Still waiting (sent or applied), as opposed to refused or failed.
    pub fn is_pending(&self) -> bool {
        matches!(self.status, EditStatus::Sent | EditStatus::Applied { .. })
    }
}

/// What happened to an edit, for the log.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOutcome {
    /// The stream showed it: gone from the pending list.
    Confirmed(EditKey, PropValue),
    /// The host refused it.
    Rejected(EditKey, String),
    /// No ack.
    Failed(EditKey, String),
    /// Applied but never seen in the stream.
    Unconfirmed(EditKey),
}

/// Every edit the inspector shows, by property.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    edits: BTreeMap<EditKey, PendingEdit>,
}

impl Edits {
    /// No edits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an edit just sent (replacing any earlier one of the same property).
    pub fn begin(&mut self, key: EditKey, value: PropValue, ticket: Ticket) {
        self.edits.insert(
            key,
            PendingEdit {
                ticket,
                value,
                status: EditStatus::Sent,
                seen_in_stream: false,
            },
        );
    }

    /// The edit of a property, if any.
    pub fn get(&self, key: &EditKey) -> Option<&PendingEdit> {
        self.edits.get(key)
    }

    /// Every edit, by property.
    pub fn iter(&self) -> impl Iterator<Item = (&EditKey, &PendingEdit)> {
        self.edits.iter()
    }

    /// How many edits are shown.
    pub fn len(&self) -> usize {
        self.edits.len()
    }

    /// No edits shown.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    fn key_of(&self, ticket: Ticket) -> Option<EditKey> {
        self.edits
            .iter()
            .find(|(_, e)| e.ticket == ticket)
            .map(|(k, _)| k.clone())
    }

    /// The ack of an edit's command.
    pub fn acked(
        &mut self,
        ticket: Ticket,
        ack: &Ack,
        state: &ClientState,
        now: Instant,
    ) -> Option<EditOutcome> {
        let key = self.key_of(ticket)?;
        let edit = self.edits.get_mut(&key)?;
        match ack.status {
            AckStatus::Applied => {
                let shown = key
                    .current(state)
                    .is_some_and(|v| same_value(&v, &edit.value));
                if edit.seen_in_stream && shown {
                    let value = edit.value.clone();
                    self.edits.remove(&key);
                    return Some(EditOutcome::Confirmed(key, value));
                }
                edit.status = EditStatus::Applied {
                    frame: ack.frame,
                    at: now,
                };
                None
            }
            AckStatus::Rejected | AckStatus::Busy => {
                let (code, message) = match &ack.error {
                    Some(e) => (e.code.to_string(), e.message.clone()),
                    None => (ack.status.as_str().to_owned(), String::new()),
                };
                let reason = format!("{code}: {message}");
                edit.status = EditStatus::Rejected { code, message };
                Some(EditOutcome::Rejected(key, reason))
            }
        }
    }

    /// The command of an edit got no ack (timeout, disconnect).
    pub fn failed(&mut self, ticket: Ticket, message: String) -> Option<EditOutcome> {
        let key = self.key_of(ticket)?;
        let edit = self.edits.get_mut(&key)?;
        edit.status = EditStatus::Failed {
            message: message.clone(),
        };
        Some(EditOutcome::Failed(key, message))
    }

    /// A stream event carried `prop` of `target` (the model already applied it).
    pub fn observed(&mut self, key: &EditKey, value: &PropValue) -> Option<EditOutcome> {
        let edit = self.edits.get_mut(key)?;
        match edit.status {
            EditStatus::Sent => {
                edit.seen_in_stream = true;
                None
            }
            EditStatus::Applied { .. } | EditStatus::Unconfirmed => {
                // The first event after the ack is the host's answer, whatever value it settled
                // on (it may round, clamp, or be animating the property).
                self.edits.remove(key);
                Some(EditOutcome::Confirmed(key.clone(), value.clone()))
            }
            EditStatus::Rejected { .. } | EditStatus::Failed { .. } => None,
        }
    }

    /// A fresh snapshot replaced the model: it includes everything applied before it.
    pub fn resynced(&mut self, state: &ClientState) -> Vec<EditOutcome> {
        let done: Vec<EditKey> = self
            .edits
            .iter()
            .filter(|(_, e)| matches!(e.status, EditStatus::Applied { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|k| {
                let value = k.current(state)?;
                self.edits.remove(&k);
                Some(EditOutcome::Confirmed(k, value))
            })
            .collect()
    }

    /// Time passes: an applied edit whose value the model already holds (an unchanged value
    /// publishes nothing) is confirmed; one the stream never showed becomes unconfirmed.
    pub fn tick(&mut self, state: &ClientState, now: Instant) -> Vec<EditOutcome> {
        let mut out = Vec::new();
        let mut confirmed = Vec::new();
        for (key, edit) in &mut self.edits {
            let EditStatus::Applied { at, .. } = edit.status else {
                continue;
            };
            if key
                .current(state)
                .is_some_and(|v| same_value(&v, &edit.value))
            {
                confirmed.push(key.clone());
            } else if now.saturating_duration_since(at) >= CONFIRM_WITHIN {
                edit.status = EditStatus::Unconfirmed;
                out.push(EditOutcome::Unconfirmed(key.clone()));
            }
        }
        for key in confirmed {
            if let Some(edit) = self.edits.remove(&key) {
                out.push(EditOutcome::Confirmed(key, edit.value));
            }
        }
        out
    }

    /// Forgets a refused or failed edit (the user dismissed it).
    pub fn dismiss(&mut self, key: &EditKey) -> bool {
        match self.edits.get(key) {
            Some(e) if !e.is_pending() => self.edits.remove(key).is_some(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::{ErrorBody, ErrorCode, SpriteDelta};

    fn ack(status: AckStatus, error: Option<ErrorBody>) -> Ack {
        Ack {
            id: 1,
            status,
            frame: Some(18),
            result: None,
            error,
        }
    }

    fn state_with_loc_h(x: f64) -> ClientState {
        let mut s = ClientState::new();
        let mut d = SpriteDelta::new(3, 1);
        d.loc_h = Some(x);
        s.apply_sprite_deltas(&[d]);
        s
    }

    #[test]
    fn applied_then_streamed_is_confirmed() {
        let now = Instant::now();
        let key = EditKey::sprite(3, 1, "loc_h");
        let mut edits = Edits::new();
        edits.begin(key.clone(), PropValue::Int(200), 7);
        let old = state_with_loc_h(10.0);
        assert_eq!(
            edits.acked(7, &ack(AckStatus::Applied, None), &old, now),
            None
        );
        assert!(matches!(
            edits.get(&key).unwrap().status,
            EditStatus::Applied {
                frame: Some(18),
                ..
            }
        ));
        assert_eq!(
            edits.observed(&key, &PropValue::Float(200.0)),
            Some(EditOutcome::Confirmed(key.clone(), PropValue::Float(200.0)))
        );
        assert!(edits.is_empty());
    }

    #[test]
    fn streamed_before_the_ack_confirms_on_the_ack() {
        let now = Instant::now();
        let key = EditKey::sprite(3, 1, "loc_h");
        let mut edits = Edits::new();
        edits.begin(key.clone(), PropValue::Int(200), 7);
        assert_eq!(edits.observed(&key, &PropValue::Float(200.0)), None);
        let new = state_with_loc_h(200.0);
        assert!(matches!(
            edits.acked(7, &ack(AckStatus::Applied, None), &new, now),
            Some(EditOutcome::Confirmed(..))
        ));
    }

    #[test]
    fn a_rejection_keeps_its_reason_until_dismissed() {
        let now = Instant::now();
        let key = EditKey::sprite(3, 1, "blend");
        let mut edits = Edits::new();
        edits.begin(key.clone(), PropValue::Int(500), 9);
        let error = ErrorBody::new(
            ErrorCode::OutOfRange,
            "blend must be within 0..=100, got 500",
        );
        let outcome = edits.acked(
            9,
            &ack(AckStatus::Rejected, Some(error)),
            &ClientState::new(),
            now,
        );
        assert!(
            matches!(outcome, Some(EditOutcome::Rejected(_, ref r)) if r.contains("out_of_range"))
        );
        let EditStatus::Rejected { code, message } = &edits.get(&key).unwrap().status else {
            panic!("not rejected");
        };
        assert_eq!(code, "out_of_range");
        assert!(message.contains("0..=100"));
        // A stream event does not un-reject it.
        assert_eq!(edits.observed(&key, &PropValue::Int(100)), None);
        assert!(edits.dismiss(&key));
        assert!(edits.is_empty());
    }

    #[test]
    fn an_unchanged_value_is_confirmed_by_the_model_and_a_silent_one_times_out() {
        let now = Instant::now();
        let same = EditKey::sprite(3, 1, "loc_h");
        let mut edits = Edits::new();
        edits.begin(same.clone(), PropValue::Int(10), 1);
        let state = state_with_loc_h(10.0);
        // The value did not change: no event comes, but the model holds it.
        edits.acked(1, &ack(AckStatus::Applied, None), &state, now);
        assert!(matches!(
            edits.tick(&state, now)[..],
            [EditOutcome::Confirmed(..)]
        ));

        let other = EditKey::sprite(3, 1, "loc_v");
        edits.begin(other.clone(), PropValue::Int(10), 2);
        edits.acked(2, &ack(AckStatus::Applied, None), &state, now);
        assert!(edits.tick(&state, now).is_empty());
        let later = now + CONFIRM_WITHIN;
        assert_eq!(
            edits.tick(&state, later),
            vec![EditOutcome::Unconfirmed(other.clone())]
        );
        assert_eq!(edits.get(&other).unwrap().status, EditStatus::Unconfirmed);
    }
}
