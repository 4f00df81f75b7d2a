//! What crosses from sessions to the engine: commands (the bounded command lane) and requests,
//! each carrying the way back to its session so the answer lands exactly once.

use std::sync::{Arc, Weak};

use stagelink_contracts::{
    Ack, Command, ErrorBody, ErrorCode, Response, ServerMessage, StageSnapshot,
};
use tokio::sync::mpsc;

use crate::hub::SessionShared;
use crate::stats::HubStats;

/// A command waiting for the engine. Answer it with [`PendingCommand::applied`] or
/// [`PendingCommand::rejected`]; dropping it unanswered sends a `rejected` ack with `internal`,
/// so no command is ever lost silently.
#[derive(Debug)]
pub struct PendingCommand {
    /// The id the client gave the command.
    pub id: u64,
    pub command: Command,
    session: Weak<SessionShared>,
    stats: Arc<HubStats>,
    answered: bool,
}

impl PendingCommand {
    pub(crate) fn new(
        id: u64,
        command: Command,
        session: Weak<SessionShared>,
        stats: Arc<HubStats>,
    ) -> Self {
        Self {
            id,
            command,
            session,
            stats,
            answered: false,
        }
    }

    /// The session that sent it (for logs).
    pub fn session_id(&self) -> Option<u64> {
        self.session.upgrade().map(|s| s.id)
    }

    /// The engine applied it on `frame`.
    pub fn applied(self, frame: u32, result: Option<serde_json::Value>) {
        let id = self.id;
        self.answer(Ack::applied(id, frame, result));
    }

    /// The engine refused it; nothing changed.
    pub fn rejected(self, code: ErrorCode, message: impl Into<String>) {
        let id = self.id;
        self.answer(Ack::rejected(id, code, message));
    }

    /// Answers with a whole ack (its id is replaced by this command's id) — the relay uses it to
    /// route a host's ack back.
    pub fn answer(mut self, mut ack: Ack) {
        ack.id = self.id;
        self.send(ack);
    }

    fn send(&mut self, ack: Ack) {
        self.answered = true;
        self.stats.record_command(ack.status);
        if let Some(session) = self.session.upgrade() {
            session.push_ack(ack);
        }
    }
}

impl Drop for PendingCommand {
    fn drop(&mut self) {
        if !self.answered {
            let ack = Ack::rejected(
                self.id,
                ErrorCode::Internal,
                "the engine dropped the command without applying it",
            );
            self.send(ack);
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    MovieState,
    /// The `stage` request.
    Stage,
    Project,
    /// A snapshot for a `hello`/`subscribe` with `snapshot: true`; the streams in the mask go
    /// live right after it.
    Snapshot {
        streams: u32,
    },
}

impl RequestKind {
    /// Parses a request's `what`.
    pub fn parse(what: &str) -> Option<RequestKind> {
        match what {
            "movie_state" => Some(RequestKind::MovieState),
            "stage" => Some(RequestKind::Stage),
            "project" => Some(RequestKind::Project),
            _ => None,
        }
    }

    /// The `what` to forward (a snapshot is a `stage` request).
    pub fn what(&self) -> &'static str {
        match self {
            RequestKind::MovieState => "movie_state",
            RequestKind::Stage | RequestKind::Snapshot { .. } => "stage",
            RequestKind::Project => "project",
        }
    }
}

/// A request waiting for the engine. Dropping it unanswered fails it with `internal`.
#[derive(Debug)]
pub struct PendingRequest {
    /// The client's id (0 for snapshots).
    pub id: u64,
    pub kind: RequestKind,
    session: Weak<SessionShared>,
    answered: bool,
}

impl PendingRequest {
    pub(crate) fn new(id: u64, kind: RequestKind, session: Weak<SessionShared>) -> Self {
        Self {
            id,
            kind,
            session,
            answered: false,
        }
    }

    /// Answers with the response's data. For a snapshot, `data` must be a `stage` body.
    pub fn answer_json(mut self, data: serde_json::Value) {
        self.answered = true;
        let Some(session) = self.session.upgrade() else {
            return;
        };
        match self.kind {
            RequestKind::Snapshot { streams } => {
                match serde_json::from_value::<StageSnapshot>(data) {
                    Ok(snapshot) => session.deliver_snapshot(&snapshot, streams),
                    Err(e) => {
                        session.push_error(ErrorCode::Internal, format!("bad snapshot: {e}"));
                        session.activate(streams);
                    }
                }
            }
            _ => session.push_message(&ServerMessage::Response(Response {
                id: self.id,
                ok: true,
                data: Some(data),
                error: None,
            })),
        }
        session.finish_request();
    }

    /// Answers a snapshot (or stage request) with a typed snapshot.
    pub fn answer_snapshot(self, snapshot: &StageSnapshot) {
        match self.kind {
            RequestKind::Snapshot { streams } => {
                let mut this = self;
                this.answered = true;
                if let Some(session) = this.session.upgrade() {
                    session.deliver_snapshot(snapshot, streams);
                    session.finish_request();
                }
            }
            _ => {
                let data = serde_json::to_value(snapshot).unwrap_or_default();
                self.answer_json(data);
            }
        }
    }

    /// Fails the request.
    pub fn fail(mut self, error: ErrorBody) {
        self.answered = true;
        self.fail_inner(error);
    }

    fn fail_inner(&mut self, error: ErrorBody) {
        let Some(session) = self.session.upgrade() else {
            return;
        };
        match self.kind {
            RequestKind::Snapshot { streams } => {
                session.push_error(error.code, format!("snapshot failed: {}", error.message));
                session.activate(streams);
            }
            _ => session.push_message(&ServerMessage::Response(Response {
                id: self.id,
                ok: false,
                data: None,
                error: Some(error),
            })),
        }
        session.finish_request();
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        if !self.answered {
            self.answered = true;
            self.fail_inner(ErrorBody::new(
                ErrorCode::Internal,
                "the engine dropped the request without answering",
            ));
        }
    }
}

/// The engine's end of the hub: commands and requests to answer. A [`crate::Publisher`] owns
/// one; the relay takes it with [`crate::Hub::take_engine_link`] to forward to a remote host.
#[derive(Debug)]
pub struct EngineLink {
    pub commands: mpsc::Receiver<PendingCommand>,
    pub requests: mpsc::UnboundedReceiver<PendingRequest>,
}

impl EngineLink {
    /// Takes every waiting command without blocking.
    pub fn drain_commands(&mut self) -> Vec<PendingCommand> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }

    /// Takes every waiting request without blocking.
    pub fn drain_requests(&mut self) -> Vec<PendingRequest> {
        let mut out = Vec::new();
        while let Ok(r) = self.requests.try_recv() {
            out.push(r);
        }
        out
    }
}
