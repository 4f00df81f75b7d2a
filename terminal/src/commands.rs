//! Commands: the playhead commands and edits the [`App`] asks the event loop to send (as
//! [`Effect::Command`] with a ticket), and what it makes of their answers.

use std::time::Instant;

use stagelink_client::ClientError;
use stagelink_contracts::{Ack, AckStatus, Command, PropValue};

use crate::app::{App, Effect, Purpose};
use crate::edits::{EditKey, EditOutcome, EditTarget, Ticket};
use crate::log::LogKind;
use crate::values::format_value;

impl App {
    /// Queues a playhead command.
    pub(crate) fn transport(&mut self, command: Command, label: impl Into<String>) -> Effect {
        let ticket = self.take_ticket(Purpose::Transport(label.into()));
        Effect::Command { ticket, command }
    }

    /// Queues an edit: it shows as pending from now on.
    pub(crate) fn edit(&mut self, key: EditKey, value: PropValue) -> Effect {
        let command = match &key.target {
            EditTarget::Sprite {
                sprite_num,
                begin_frame,
            } => Command::SetSpriteProp {
                sprite_num: *sprite_num,
                begin_frame: *begin_frame,
                prop: key.prop.clone(),
                value: value.clone(),
            },
            EditTarget::Member {
                cast_lib,
                member_num,
            } => Command::SetMemberProp {
                cast_lib: *cast_lib,
                member_num: *member_num,
                prop: key.prop.clone(),
                value: value.clone(),
            },
        };
        let ticket = self.take_ticket(Purpose::Edit(key.clone()));
        self.log.push(
            LogKind::Edit,
            format!("{key} = {} sent", format_value(&value)),
            self.now,
        );
        self.edits.begin(key, value, ticket);
        Effect::Command { ticket, command }
    }

    fn take_ticket(&mut self, purpose: Purpose) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.in_flight.insert(ticket, purpose);
        ticket
    }

    /// A command's answer: its ack, or why none came.
    pub fn command_done(&mut self, ticket: Ticket, result: Result<Ack, ClientError>, now: Instant) {
        self.now = now;
        let Some(purpose) = self.in_flight.remove(&ticket) else {
            return;
        };
        match (purpose, result) {
            (Purpose::Transport(label), Ok(ack)) => match ack.status {
                AckStatus::Applied => self.log.push(
                    LogKind::Ack,
                    match ack.frame {
                        Some(f) => format!("{label} applied on frame {f}"),
                        None => format!("{label} applied"),
                    },
                    now,
                ),
                AckStatus::Rejected | AckStatus::Busy => {
                    let reason = ack
                        .error
                        .as_ref()
                        .map_or_else(|| ack.status.as_str().to_owned(), ToString::to_string);
                    let text = format!("{label} {}: {reason}", ack.status.as_str());
                    self.log.push(LogKind::Error, text.clone(), now);
                    self.notify(text, true);
                }
            },
            (Purpose::Transport(label), Err(e)) => {
                let text = format!("{label}: {e}");
                self.log.push(LogKind::Error, text.clone(), now);
                self.notify(text, true);
            }
            (Purpose::Edit(key), Ok(ack)) => {
                let text = match ack.status {
                    AckStatus::Applied => format!(
                        "{key} applied{}; waiting for the stream",
                        ack.frame
                            .map_or(String::new(), |f| format!(" on frame {f}"))
                    ),
                    _ => format!("{key} {}", ack.status.as_str()),
                };
                self.log.push(LogKind::Ack, text, now);
                let outcome = self.edits.acked(ticket, &ack, &self.state, now);
                self.log_edit_outcomes(outcome.into_iter().collect());
            }
            (Purpose::Edit(_), Err(e)) => {
                let outcome = self.edits.failed(ticket, e.to_string());
                self.log_edit_outcomes(outcome.into_iter().collect());
            }
        }
    }

    /// Logs what happened to edits (and shows refusals in the bottom line).
    pub(crate) fn log_edit_outcomes(&mut self, outcomes: Vec<EditOutcome>) {
        for o in outcomes {
            match o {
                EditOutcome::Confirmed(key, value) => self.log.push(
                    LogKind::Edit,
                    format!("{key} = {} confirmed by the stream", format_value(&value)),
                    self.now,
                ),
                EditOutcome::Rejected(key, reason) => {
                    let text = format!("{key} rejected: {reason}");
                    self.log.push(LogKind::Error, text.clone(), self.now);
                    self.notify(text, true);
                }
                EditOutcome::Failed(key, reason) => {
                    let text = format!("{key}: no ack ({reason})");
                    self.log.push(LogKind::Error, text.clone(), self.now);
                    self.notify(text, true);
                }
                EditOutcome::Unconfirmed(key) => self.log.push(
                    LogKind::Notice,
                    format!("{key} applied but not seen in the stream"),
                    self.now,
                ),
            }
        }
    }
}
